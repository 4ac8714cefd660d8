"""Dead letters for operators: `hub dlq list` shows what was rejected and why; `hub dlq
replay` re-submits the chosen ones once their cause is fixed (catalogue, mapping, registry
or schema change deployed). A replay opens a letter's sealed original with the sealing key
and writes the original bytes again, on the same partition, to the topic they came from:
an `in.<member>` topic (intake records an event id as seen only when it accepts it, so a
fixed event is accepted once) or an internal `hub.*` topic (the flow agents are idempotent
by event id); never to any other topic, and never a letter whose replay cannot succeed
(hub/dlq_replay.py). Sealed bytes are never printed."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from hub.admin import unreachable
from hub.dlq_replay import Replayer, ReplayLedger, never_replayed, replay_target
from hub.logs import mask_personal_data
from hub.settings import HubSettings, get_settings
from schemas.codec import AvroCodec, CodecError
from schemas.models import DeadLetter
from schemas.topics import DEAD_LETTER

__all__ = ["ReplayLedger", "Replayer", "dlq", "replay_target"]
RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
READ_TIMEOUT = 300.0


def parse_since(text: str, now: datetime) -> datetime:
    """`30m`, `2h`, `7d` before now, or an ISO date/time (UTC when it has no zone)."""
    relative = RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{UNITS[relative[2]]: int(relative[1])})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is neither like 2h/7d nor an ISO time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """Which letters an operator means; an empty field matches everything."""

    reasons: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    since: datetime | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.reasons or self.members or self.ids or self.since)

    def matches(self, letter: DeadLetter) -> bool:
        involved = {letter.topic_member, letter.claimed_member, letter.envelope.member_id}
        return (
            (not self.reasons or letter.reason_code in self.reasons)
            and (not self.members or bool(self.members & involved))
            and (not self.ids or bool(
                self.ids & {letter.envelope.event_id, letter.original_event_id}))
            and (self.since is None or letter.envelope.occurred_at >= self.since)
        )


def read_dead_letters(settings: HubSettings, codec: AvroCodec) -> list[DeadLetter]:
    """Every dead letter on the topic now, oldest first."""
    servers = settings.broker_servers()
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=servers, client_id="hub-dlq", enable_auto_commit=False,
            bootstrap_timeout_ms=int(settings.connect_timeout_s * 1000),
            **settings.kafka_client_config())
    except KafkaError as exc:
        raise click.ClickException(unreachable(servers, exc)) from exc
    try:
        found = consumer.partitions_for_topic(DEAD_LETTER.name) or set()
        partitions = [TopicPartition(DEAD_LETTER.name, p) for p in sorted(found)]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + READ_TIMEOUT
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise click.ClickException(f"{DEAD_LETTER.name} not read in {READ_TIMEOUT}s")
            for record in (r for rs in consumer.poll(timeout_ms=500).values() for r in rs):
                try:
                    event = codec.decode(record.value)
                except CodecError:
                    continue
                if isinstance(event, DeadLetter):
                    letters.append(event)
        return sorted(letters, key=lambda d: d.envelope.occurred_at)
    finally:
        consumer.close()


COLUMNS = ("time", "id", "source", "member", "claimed", "schema", "code", "reason", "replay")


def letter_row(letter: DeadLetter, ledger: ReplayLedger) -> dict[str, str]:
    """What operators see of a letter: never the sealed bytes, reasons masked."""
    origin = ledger.replay_of(letter)
    states = ["replayed"] if letter.envelope.event_id in ledger else []
    states += [f"result of {origin[:8]}"] if origin else []
    if not states and never_replayed(letter) is not None:
        states = ["not replayable"]  # `hub dlq replay` says why
    return {
        "time": letter.envelope.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
        "id": letter.envelope.event_id,
        "source": f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        "member": letter.topic_member or "-",
        "claimed": letter.claimed_member or "-",
        "schema": (letter.schema_name or "-").rsplit(".", 1)[-1],
        "code": letter.reason_code,
        "reason": mask_personal_data(letter.reason),
        "replay": " ".join(states),
    }


def render_table(rows: list[dict[str, str]], reason_width: int = 60) -> str:
    clipped = [{**r, "reason": r["reason"][:reason_width]} for r in rows]
    widths = {c: max([len(c)] + [len(r[c]) for r in clipped]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in clipped]
    return "\n".join(lines)


def _selection(reason: Iterable[str], member: Iterable[str], letter_id: Iterable[str],
               since: str | None) -> Selection:
    return Selection(frozenset(reason), frozenset(member), frozenset(letter_id),
                     parse_since(since, datetime.now(UTC)) if since else None)


@click.group()
def dlq() -> None:
    """Dead letters: list rejected events, replay them after a fix."""


def _filters(command: Any) -> Any:
    options = (
        click.option("--since", help="2h, 7d or an ISO time"),
        click.option("--id", "letter_id", multiple=True, help="Letter or original event id"),
        click.option("--member", multiple=True, help="Member id (topic owner or claimed)"),
        click.option("--reason", multiple=True, help="Reason code, e.g. UNKNOWN_SCHEMA"),
    )
    for option in options:
        command = option(command)
    return command


@dlq.command("list")
@_filters
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
def list_letters(reason: tuple[str, ...], member: tuple[str, ...], letter_id: tuple[str, ...],
                 since: str | None, as_json: bool) -> None:
    """Show rejected events with their reasons, oldest first."""
    settings = get_settings()
    selection = _selection(reason, member, letter_id, since)
    ledger = ReplayLedger.load(settings.data_dir)
    rows = [letter_row(d, ledger) for d in read_dead_letters(settings, AvroCodec())
            if selection.matches(d)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    click.echo(render_table(rows) if rows else "no dead letters match")


@dlq.command("replay")
@_filters
@click.option("--all", "everything", is_flag=True, help="Every letter (no filter given)")
@click.option("--force", is_flag=True, help="Replay letters the ledger says were replayed")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed, send nothing")
def replay(reason: tuple[str, ...], member: tuple[str, ...], letter_id: tuple[str, ...],
           since: str | None, everything: bool, force: bool, dry_run: bool) -> None:
    """Re-submit the chosen dead letters to the topic they came from."""
    settings = get_settings()
    selection = _selection(reason, member, letter_id, since)
    if not selection.narrowed and not everything:
        raise click.UsageError("choose letters with --reason/--member/--id/--since, or --all")
    codec = AvroCodec()
    ledger = ReplayLedger.load(settings.data_dir)
    chosen = [d for d in read_dead_letters(settings, codec) if selection.matches(d)]
    replayer = Replayer(settings, codec, ledger)
    if dry_run:
        rows = [letter_row(d, ledger) for d in chosen if replayer.check(d, force)[1] is not None]
        click.echo(render_table(rows) if rows else "nothing would be replayed")
        return
    try:
        with click.progressbar(chosen, label="replaying", show_pos=True) as letters:
            done = [(letter, replayer.replay(letter, force)) for letter in letters]
    finally:
        replayer.close()
    for letter, outcome in done:
        if outcome.why:
            click.echo(f"{letter.envelope.event_id}  {letter.reason_code}: {outcome.why}")
    outcomes = Counter(outcome.state for _, outcome in done)
    click.echo(f"replayed {outcomes['replayed']}; already replayed {outcomes['already replayed']}"
               f" (use --force); older than the dedup window {outcomes['too old']} (--force);"
               f" not replayable {outcomes['not replayable']};"
               f" cannot open {outcomes['cannot open']} (sealing key changed?)")
