"""What `hub dlq replay` writes back, and what it refuses to. A letter is replayed only when
its replay can succeed once its cause is fixed: an input the member must fix (MALFORMED,
MEMBER_MISMATCH, MISSING_PATIENT_IDENTITY, ...) or a duplicate would only be refused again
(a new dead letter each time), and a letter that is itself the refused result of a replay
points to the letter to replay instead. Each refusal says why, per letter.

A replayed original carries the header REPLAY_HEADER (the letter's id): refused again, it
becomes one letter marked `replay_of` that letter, and the member, told of the input when
it first came, is not answered again. A ledger in the data dir keeps the letters replayed:
none twice unless `--force`. Sealed bytes are never printed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from kafka import KafkaProducer

from hub.rules.privacy import Sealer, SealError
from hub.rules.rejections import REPLAY_HEADER, Reason
from hub.settings import HubSettings
from schemas.codec import AvroCodec, CodecError
from schemas.models import DeadLetter, Event
from schemas.topics import FIXED_TOPICS, INGRESS_PREFIX, Audience

LEDGER_FILE = "dlq-replay-ledger.json"
INTERNAL_TOPICS = frozenset(s.name for s in FIXED_TOPICS if s.audience == Audience.HUB_INTERNAL)

# Reasons no change at the hub can fix: a replay would only be refused again.
NEVER_REPLAYED: dict[str, str] = {
    Reason.MALFORMED: "不是可读的事件：由成员修正后重发，不重放",
    Reason.MEMBER_MISMATCH: "声称的成员与主题所属成员不符：由成员修正后重发，不重放",
    Reason.ENVELOPE_MISMATCH: "信封与 schema 不符：由成员修正后重发，不重放",
    Reason.NOT_ACCEPTED_ON_INGRESS: "该类事件不能由成员发送：不重放",
    Reason.MISSING_PATIENT_IDENTITY: "缺少患者身份：由成员补全后重发，不重放",
    Reason.PSEUDONYM_FROM_MEMBER: "成员不得发送假名：由成员修正后重发，不重放",
    Reason.DUPLICATE_EVENT: "重复的事件 id：原事件已被接受，重放只会再次被拒",
    Reason.INVALID_EVENT_ID: "事件 id 不是 UUID：由成员修正后重发，不重放",
    Reason.IMPLAUSIBLE_DATE: "日期不可能为真：由成员修正后重发，不重放",
    Reason.FIELD_TOO_LONG: "字段超过长度上限：由成员修正后重发，不重放",
}


class Outcome(NamedTuple):
    state: str  # replayed, already replayed, too old, not replayable, cannot open
    why: str = ""


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


def never_replayed(letter: DeadLetter) -> str | None:
    """Why no replay of this letter can succeed, whatever is fixed at the hub; None if
    one can."""
    if replay_target(letter) is None:
        return f"来自 {letter.source_topic}：只重放来自 in.* 与内部 hub.* 主题的信件"
    if letter.replay_of:
        return (f"这是重放 {letter.replay_of} 后再次被拒的结果：修复原因后用 "
                f"--force --id {letter.replay_of} 重放那一封")
    if not letter.original_sealed:
        return (f"原件（{letter.original_size} 字节）过大，未随信件封存：见 "
                f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}")
    return NEVER_REPLAYED.get(letter.reason_code)


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
        if letter.replay_of:
            return letter.replay_of
        source = [letter.source_topic, letter.source_partition, letter.source_offset]
        return next((i for i, e in self.entries.items() if e.get("republished") == source), None)


class Replayer:
    """Opens sealed originals and writes them back, recording each in the ledger."""

    def __init__(self, settings: HubSettings, codec: AvroCodec, ledger: ReplayLedger) -> None:
        self.settings = settings
        self.codec = codec
        self.ledger = ledger
        # Older letters' events may have left intake's dedup window: a copy would pass.
        self.oldest = datetime.now(UTC) - timedelta(days=settings.dedup_retention_days)
        self.sealer = Sealer(settings.sealing_key.get_secret_value().encode())
        self._producer: KafkaProducer | None = None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.settings.broker_servers(), acks="all",
                client_id="hub-dlq-replay", **self.settings.kafka_client_config(),
            )
        return self._producer

    def partition_for(self, topic: str, partition: int) -> int | None:
        """The original partition (intake's dedup state for it lives there) if it exists."""
        return partition if partition in (self.producer.partitions_for(topic) or ()) else None

    def check(self, letter: DeadLetter, force: bool) -> tuple[Outcome, bytes | None]:
        """Whether a letter is replayed now, and its original if so. `--force` passes the
        ledger and the age check, never a letter whose replay cannot succeed."""
        why_not = never_replayed(letter)
        if why_not is not None:
            return Outcome("not replayable", why_not), None
        if letter.envelope.event_id in self.ledger and not force:
            return Outcome("already replayed", "重放过一次（见重放台账）：再次重放需 --force"), None
        if letter.envelope.occurred_at < self.oldest and not force:
            return Outcome("too old", "早于去重窗口：确认未被接受过后用 --force"), None
        try:
            original = self.sealer.open(letter.original_sealed)
        except SealError:
            return Outcome("cannot open", "无法解封原件：封存密钥已更换？"), None
        if letter.reason_code == Reason.UNKNOWN_SCHEMA:
            try:
                self.codec.decode(original)
            except CodecError:
                return Outcome("not replayable",
                               "本版本仍不认识其 schema：先部署认识它的 hub 版本再重放"), None
        return Outcome("replayed"), original

    def replay(self, letter: DeadLetter, force: bool) -> Outcome:
        """Write one letter's original back, if it can succeed; returns what happened."""
        outcome, original = self.check(letter, force)
        if original is None:
            return outcome
        target = replay_target(letter)
        assert target is not None  # never_replayed() checked it
        key = replay_key(original, self.codec) if target in INTERNAL_TOPICS else None
        partition = self.partition_for(target, letter.source_partition)
        sent = self.producer.send(target, value=original, key=key, partition=partition,
                                  headers=[(REPLAY_HEADER, letter.envelope.event_id.encode())])
        written = sent.get(timeout=30)
        self.ledger.record(letter, target, written.partition, written.offset)
        return outcome

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
