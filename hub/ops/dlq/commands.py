"""Dead letters for operators: `hub dlq list` shows what was rejected and why; `hub dlq
replay` re-submits the chosen ones once their cause is fixed (catalogue, mapping, registry
or schema change deployed). A replay opens a letter's sealed original with the sealing key
and writes the original bytes again, on the same partition, to the topic they came from:
an `in.<member>` topic (intake records an event id as seen only when it accepts it, so a
fixed event is accepted once) or an internal `hub.*` topic (the flow agents are idempotent
by event id); never to any other topic, and never a letter whose replay cannot succeed
(hub/ops/dlq/replay.py). Sealed bytes are never printed."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import click
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from hub.ops.dlq.replay import Replayer, ReplayLedger, replay_target
from hub.ops.dlq.view import Selection, letter_row, parse_since, render_table
from hub.ops.topic_admin import unreachable
from hub.settings import HubSettings, get_settings
from schemas.codec import AvroCodec, CodecError
from schemas.models import DeadLetter
from schemas.topics import DEAD_LETTER

__all__ = ["ReplayLedger", "Replayer", "dlq", "replay_target"]
READ_TIMEOUT = 300.0


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


def _selection(reason: Iterable[str], member: Iterable[str], letter_id: Iterable[str],
               since: str | None) -> Selection:
    return Selection(frozenset(reason), frozenset(member), frozenset(letter_id),
                     parse_since(since, datetime.now(UTC), get_settings().locale())
                     if since else None)


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
    locale = settings.locale()
    selection = _selection(reason, member, letter_id, since)
    ledger = ReplayLedger.load(settings.data_dir)
    rows = [letter_row(d, ledger, locale) for d in read_dead_letters(settings, AvroCodec())
            if selection.matches(d)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    click.echo(render_table(rows, locale=locale) if rows else locale.say("dlq.none_match"))


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
    codec, locale = AvroCodec(), settings.locale()
    ledger = ReplayLedger.load(settings.data_dir)
    chosen = [d for d in read_dead_letters(settings, codec) if selection.matches(d)]
    replayer = Replayer(settings, codec, ledger)
    if dry_run:
        rows = [letter_row(d, ledger, locale) for d in chosen
                if replayer.check(d, force)[1] is not None]
        click.echo(render_table(rows, locale=locale) if rows else locale.say("dlq.none_replay"))
        return
    try:
        with click.progressbar(chosen, label=locale.say("dlq.replaying"),
                               show_pos=True) as letters:
            done = [(letter, replayer.replay(letter, force)) for letter in letters]
    finally:
        replayer.close()
    for letter, outcome in done:
        if outcome.why:
            click.echo(f"{letter.envelope.event_id}  {letter.reason_code}: {outcome.why}")
    outcomes = Counter(outcome.state for _, outcome in done)
    click.echo(locale.say(
        "dlq.replay_summary", replayed=outcomes["replayed"], again=outcomes["already replayed"],
        old=outcomes["too old"], not_replayable=outcomes["not replayable"],
        cannot_open=outcomes["cannot open"],
    ))
