"""Dead letters for operators: `hub dlq list` shows what was rejected and why; `hub dlq
replay` re-submits the chosen ones once their cause is fixed (catalogue, mapping, registry
or schema change deployed). A replay opens a letter's sealed original with the sealing key
and writes the original bytes again, on the same partition, to the topic they came from:
an `in.<member>` topic (intake records an event id as seen only when it accepts it, so a
fixed event is accepted once and a real duplicate is refused again) or an internal `hub.*`
topic (the flow agents are idempotent by event id); never to any other topic. A ledger in
the data dir keeps the letters replayed: none twice unless `--force`. Sealed bytes are
never printed."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hub.dlq_view import Selection, letter_row, parse_since, render_table
from hub.privacy import Sealer, SealError
from hub.settings import HubSettings, get_settings
from schemas.codec import AvroCodec, CodecError
from schemas.models import DeadLetter, Event
from schemas.topics import DEAD_LETTER, FIXED_TOPICS, INGRESS_PREFIX, Audience

LEDGER_FILE = "dlq-replay-ledger.json"
INTERNAL_TOPICS = frozenset(s.name for s in FIXED_TOPICS if s.audience == Audience.HUB_INTERNAL)
READ_TIMEOUT = 300.0


def replay_target(letter: DeadLetter) -> str | None:
    """Where a letter's original goes back to: the ingress or internal topic it came
    from; None for any other topic (outputs are never replayed)."""
    topic = letter.source_topic
    return topic if topic.startswith(INGRESS_PREFIX) or topic in INTERNAL_TOPICS else None


def replay_key(original: bytes, codec: AvroCodec) -> bytes | None:
    """The partition key of an internal event (patient pseudonym or drug code); intake
    does not use the key of ingress messages, so None does there."""
    try:
        event: Event = codec.decode(original)
    except CodecError:
        return None
    patient = getattr(event, "patient", None)
    key = getattr(patient, "key", None) or getattr(event, "drug_code", None)
    return str(key).encode() if key else None


@dataclass
class ReplayLedger:
    """Letters already replayed (letter id -> where and when), kept as JSON."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> ReplayLedger:
        path = data_dir / LEDGER_FILE
        entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(path, entries)

    def __contains__(self, letter_id: object) -> bool:
        return letter_id in self.entries

    def record(self, letter: DeadLetter, topic: str, partition: int, offset: int) -> None:
        self.entries[letter.envelope.event_id] = {
            "replayed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason_code": letter.reason_code,
            "source": [letter.source_topic, letter.source_partition, letter.source_offset],
            "republished": [topic, partition, offset],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True), "utf-8")
        os.replace(temporary, self.path)

    def replay_of(self, letter: DeadLetter) -> str | None:
        """The letter whose replay this letter is the rejection of, if any."""
        source = [letter.source_topic, letter.source_partition, letter.source_offset]
        return next((i for i, e in self.entries.items() if e.get("republished") == source), None)


def read_dead_letters(settings: HubSettings, codec: AvroCodec) -> list[DeadLetter]:
    """Every dead letter on the topic now, oldest first."""
    consumer = KafkaConsumer(bootstrap_servers=settings.broker_servers(), client_id="hub-dlq",
                             enable_auto_commit=False, **settings.kafka_client_config())
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


class Replayer:
    """Opens sealed originals and writes them back, recording each in the ledger."""

    def __init__(self, settings: HubSettings, codec: AvroCodec, ledger: ReplayLedger) -> None:
        self.codec = codec
        self.ledger = ledger
        # Older letters' events may have left intake's dedup window: a copy would pass.
        self.oldest = datetime.now(UTC) - timedelta(days=settings.dedup_retention_days)
        self.sealer = Sealer(settings.sealing_key.get_secret_value().encode())
        self.producer = KafkaProducer(
            bootstrap_servers=settings.broker_servers(), acks="all", client_id="hub-dlq-replay",
            **settings.kafka_client_config(),
        )

    def partition_for(self, topic: str, partition: int) -> int | None:
        """The original partition (intake's dedup state for it lives there) if it exists."""
        return partition if partition in (self.producer.partitions_for(topic) or ()) else None

    def replay(self, letter: DeadLetter, force: bool) -> str:
        """Write one letter's original back; returns what happened."""
        target = replay_target(letter)
        if target is None:
            return "not replayable"
        if letter.envelope.event_id in self.ledger and not force:
            return "already replayed"
        if letter.envelope.occurred_at < self.oldest and not force:
            return "too old"
        try:
            original = self.sealer.open(letter.original_sealed)
        except SealError:
            return "cannot open"
        key = replay_key(original, self.codec) if target in INTERNAL_TOPICS else None
        partition = self.partition_for(target, letter.source_partition)
        sent = self.producer.send(target, value=original, key=key, partition=partition)
        written = sent.get(timeout=30)
        self.ledger.record(letter, target, written.partition, written.offset)
        return "replayed"

    def close(self) -> None:
        self.producer.close(timeout=10)


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
    if dry_run:
        rows = [letter_row(d, ledger, locale) for d in chosen
                if replay_target(d) and (force or d.envelope.event_id not in ledger)]
        click.echo(render_table(rows, locale=locale) if rows else locale.say("dlq.none_replay"))
        return
    replayer = Replayer(settings, codec, ledger)
    try:
        with click.progressbar(chosen, label=locale.say("dlq.replaying"),
                               show_pos=True) as letters:
            outcomes = Counter(replayer.replay(letter, force) for letter in letters)
    finally:
        replayer.close()
    click.echo(locale.say(
        "dlq.replay_summary", replayed=outcomes["replayed"], again=outcomes["already replayed"],
        old=outcomes["too old"], not_replayable=outcomes["not replayable"],
        cannot_open=outcomes["cannot open"],
    ))
