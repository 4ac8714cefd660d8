"""What the operators' dashboard keeps over time, in this worker's memory:

- the throughput history: every `SAMPLE_SECONDS` a timer notes the totals of events in
  from members and events out of the hub (from the Prometheus counters), in a ring buffer
  of the last few minutes; the page draws it as a sparkline;
- the consumer lag per topic, from the Faust consumer's highwater and committed offsets,
  also kept in the `hub_consumer_lag` gauge;
- the last dead letters: a task reads `hub.dead-letter` with its own small consumer (no
  consumer group, so every worker sees every letter and commits nothing), from a few
  letters before its end. Sealed originals are never kept; reasons are masked.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter

from hub import metrics
from hub.process.logs import mask_personal_data
from hub.runtime.app import app
from hub.runtime.services import runtime
from schemas.codec import CodecError
from schemas.models import DeadLetter
from schemas.topics import DEAD_LETTER, FIXED_TOPICS, INGRESS_PREFIX, Audience

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 2.0
HISTORY_SAMPLES = 150  # five minutes at one sample every two seconds
RECENT_DEAD_LETTERS = 20
REASON_CHARS = 160
INTERNAL_TOPICS = frozenset(s.name for s in FIXED_TOPICS if s.audience is Audience.HUB_INTERNAL)
CONSUMED_TOPICS = frozenset(s.name for s in FIXED_TOPICS)
JsonDict = dict[str, Any]


def counter_values(counter: Counter) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every series of a labelled counter."""
    return [(sample.labels, sample.value) for family in counter.collect()
            for sample in family.samples if sample.name == f"{family.name}_total"]


def events_in_total() -> float:
    """Events consumed from the members' ingress topics."""
    return sum(v for labels, v in counter_values(metrics.EVENTS_IN)
               if labels["topic"].startswith(INGRESS_PREFIX))


def events_out_total() -> float:
    """Events the hub sent to members, the CDC, the pharmacy and operators (forwards
    between its own internal topics are not counted)."""
    return sum(v for labels, v in counter_values(metrics.EVENTS_OUT)
               if labels["topic"] not in INTERNAL_TOPICS)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # epoch seconds, hub clock
    events_in: float
    events_out: float


class ThroughputHistory:
    """A ring buffer of counter totals; rates are the differences between samples."""

    def __init__(self, keep: int = HISTORY_SAMPLES) -> None:
        self._samples: deque[Sample] = deque(maxlen=keep + 1)

    def record(self, sample: Sample) -> None:
        self._samples.append(sample)

    def rates(self) -> list[JsonDict]:
        """Events per second in and out between consecutive samples, oldest first."""
        pairs = zip(list(self._samples), list(self._samples)[1:], strict=False)
        return [{"at": round(b.at, 3),
                 "in": round(max(0.0, b.events_in - a.events_in) / (b.at - a.at), 3),
                 "out": round(max(0.0, b.events_out - a.events_out) / (b.at - a.at), 3)}
                for a, b in pairs if b.at > a.at]


def consumer_lag() -> dict[str, int]:
    """Messages not yet committed, per catalogue topic, over this worker's partitions.
    Empty before the consumer has started."""
    consumer: Any = app.consumer
    try:
        assigned = consumer.assignment()
    except Exception:  # the consumer is not started yet, or is being rebalanced
        return {}
    committed = getattr(consumer, "_committed_offset", {})
    read = getattr(consumer, "_read_offset", {})
    lag: dict[str, int] = {}
    for tp in assigned:
        if not (tp.topic in CONSUMED_TOPICS or tp.topic.startswith(INGRESS_PREFIX)):
            continue  # table changelogs, Faust's own topics
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        position = committed.get(tp)
        if position is None:
            last_read = read.get(tp)
            position = last_read + 1 if last_read is not None else 0
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, int(highwater) - int(position))
    return lag


history = ThroughputHistory()
history.record(Sample(runtime.now().timestamp(), 0.0, 0.0))  # the counters start at zero


async def sample_figures() -> None:
    history.record(Sample(runtime.now().timestamp(), events_in_total(), events_out_total()))
    for topic, messages in consumer_lag().items():
        metrics.CONSUMER_LAG.labels(topic).set(messages)


def letter_row(letter: DeadLetter) -> JsonDict:
    """What the page shows of a dead letter: where it came from and why, no content."""
    reason = mask_personal_data(letter.reason)
    return {
        "id": letter.envelope.event_id[:8],
        "at": letter.envelope.occurred_at.isoformat(),
        "reason_code": letter.reason_code,
        "reason": reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS] + "…",
        "source_topic": letter.source_topic,
        "member": letter.topic_member,
        "claimed_member": letter.claimed_member,
        "agent": letter.agent,
        "size": letter.original_size,
    }


class DeadLetterTail:
    """The last dead letters read, newest first."""

    def __init__(self, keep: int = RECENT_DEAD_LETTERS) -> None:
        self._rows: deque[JsonDict] = deque(maxlen=keep)

    def add(self, values: Iterable[bytes | None]) -> None:
        for value in values:
            try:
                letter = runtime.codec.decode(value or b"")
            except CodecError:
                continue
            if isinstance(letter, DeadLetter):
                self._rows.appendleft(letter_row(letter))

    def recent(self) -> list[JsonDict]:
        return list(self._rows)


def _security() -> dict[str, Any]:
    """aiokafka's options for the hub's HUB_KAFKA_* settings."""
    config: dict[str, Any] = dict(runtime.settings.kafka_client_config())
    cafile = config.pop("ssl_cafile", None)
    if str(config["security_protocol"]).endswith("SSL"):
        config["ssl_context"] = ssl.create_default_context(cafile=cafile)
    return config


async def _read_dead_letters(tail: DeadLetterTail) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=runtime.settings.broker_servers(),
                                enable_auto_commit=False, group_id=None, **_security())
    await consumer.start()
    try:
        numbers = consumer.partitions_for_topic(DEAD_LETTER.name) or range(DEAD_LETTER.partitions)
        partitions = [TopicPartition(DEAD_LETTER.name, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(starts[tp], ends[tp] - RECENT_DEAD_LETTERS))
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=200)
            for records in batches.values():
                tail.add(record.value for record in records)
    finally:
        await consumer.stop()


dead_letters = DeadLetterTail()


async def follow_dead_letters() -> None:
    """Keep `dead_letters` current for as long as the worker runs."""
    while True:
        try:
            await _read_dead_letters(dead_letters)
        except Exception as exc:  # the broker is away: try again, the page says nothing new
            log.warning("dashboard: cannot read %s (%s); retrying", DEAD_LETTER.name, exc)
            await asyncio.sleep(5.0)


app.timer(interval=SAMPLE_SECONDS)(sample_figures)
app.task(follow_dead_letters)
