"""Measuring a worker from outside: preload, drain, offered load, latency, memory."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.member.sdk import ordering_key
from hub.brokers import BaseBroker, BrokerKind, choose, local_broker
from hub.ops.topic_admin import backlog, create_topics
from hub.process.worker_process import WorkerProcess
from hub.settings import HubSettings
from schemas.codec import AvroCodec, CodecError
from schemas.models import Event
from schemas.reference.registry import load_registry
from schemas.topics import FIXED_TOPICS, INTERNAL_PARTITIONS, catalogue, ingress_topic

CODEC = AvroCodec()
# The broker every Stage of this run starts (`--broker`; unset: HUB_BROKER_KIND's choice).
BROKER_KIND: ContextVar[BrokerKind | None] = ContextVar("BROKER_KIND", default=None)
WORKER_ENV = {"HUB_SESSION_TIMEOUT": "6", "HUB_COMMIT_INTERVAL": "0.5", "HUB_LOG_LEVEL": "warn"}
# Latency runs commit as production does; throughput runs every 0.5 s (WORKER_ENV), since
# they read the drain from the commits.
PRODUCTION_COMMIT_INTERVAL = HubSettings.model_fields["commit_interval"].default


@dataclass
class Stage:
    """A fresh broker with every topic, in a temporary folder removed on exit (a 10M-result
    run leaves gigabytes)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hub-bench-")))
    broker: BaseBroker | None = None
    # Partitions of each member's topics: fewer than the internal topics' makes the hub
    # forward every event through an internal topic (the two-hop layout, for comparison).
    member_partitions: int = INTERNAL_PARTITIONS

    def __enter__(self) -> Stage:
        settings = HubSettings()
        choice = choose(BROKER_KIND.get() or settings.broker_kind)
        self.broker = local_broker(choice, self.root, version=settings.kafka_version,
                                   cache_dir=settings.kafka_cache_dir,
                                   heap_mb=settings.kafka_heap_mb).start()
        create_topics(self.broker.bootstrap,
                      catalogue(load_registry().ids, self.member_partitions))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.broker is not None:
            self.broker.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None
        return self.broker.bootstrap

    def worker(self, name: str, **env: str) -> WorkerProcess:
        assert self.broker is not None
        return WorkerProcess(self.bootstrap, self.root / name, {
            **WORKER_ENV, **self.broker.worker_env(), "HUB_APP_ID": f"bench-{name}",
            "HUB_MEMBER_PARTITIONS": str(self.member_partitions), **env})


def producer(bootstrap: str, linger_ms: int = 20) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms,
                         batch_size=512 * 1024, max_in_flight_requests_per_connection=5)


def send_as_member(sink: KafkaProducer, event: Event) -> None:
    """Onto its member's ingress topic, keyed as the member SDK keys it."""
    sink.send(ingress_topic(event.envelope.member_id), key=ordering_key(event),
              value=CODEC.encode(event))


def preload(bootstrap: str, events: Iterable[Event]) -> int:
    """Write events to their members' ingress topics as fast as the broker takes them."""
    sink = producer(bootstrap)
    count = 0
    for event in events:
        send_as_member(sink, event)
        count += 1
    sink.flush()
    sink.close()
    return count


def paced(rate: float, going: Callable[[], bool]) -> Iterator[float]:
    """Ticks at a steady `rate` while `going()`; each is the seconds since the first."""
    interval, start, n = 1.0 / rate, time.perf_counter(), 0
    while going():
        pause = start + n * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        yield time.perf_counter() - start
        n += 1


def output_reader(bootstrap: str, topics: list[str]) -> KafkaConsumer:
    """A consumer of `topics` from their ends, joined before anything is published."""
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                             group_id=f"bench-{time.time()}")
    consumer.poll(timeout_ms=1000)
    return consumer


def read_outputs(consumer: KafkaConsumer, stop: threading.Event,
                 take: Callable[[Event, float], None]) -> None:
    """Hand every decodable event to `take` with its arrival time, until `stop`."""
    while not stop.is_set():
        for records in consumer.poll(timeout_ms=100).values():
            arrived = time.perf_counter()
            for record in records:
                try:
                    event = CODEC.decode(record.value)
                except CodecError:
                    continue
                take(event, arrived)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far, in seconds (/proc, clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100


def messages_written(bootstrap: str) -> int:
    """Every message on the broker's topics (the end offsets of every partition, Kafka's
    own topics left out): what a run cost in Kafka messages."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for topic in consumer.topics()
                      if not topic.startswith("__")
                      for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def hub_input_topics(member_ids: list[str] | None = None) -> list[str]:
    internal = [t.name for t in FIXED_TOPICS if t.name.startswith("hub.") and
                t.audience.value == "hub-internal"]
    members = member_ids if member_ids is not None else load_registry().ids
    return [ingress_topic(m) for m in members] + internal


def wait_drained(bootstrap: str, group: str, timeout: float,
                 registry_ids: list[str] | None = None) -> float:
    """Seconds until the group has committed everything on the hub's input topics."""
    started = time.monotonic()
    topics = hub_input_topics(registry_ids)
    while time.monotonic() - started < timeout:
        if not backlog(bootstrap, group, topics):
            return time.monotonic() - started
        time.sleep(0.25)
    raise TimeoutError(f"not drained after {timeout}s")


@dataclass
class Latencies:
    samples_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.samples_ms:
            return None
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float | None:
        return statistics.median(self.samples_ms) if self.samples_ms else None

    @property
    def p99(self) -> float | None:
        return self.percentile(0.99)


def offered_load(
    bootstrap: str,
    make: Callable[[datetime], Event],
    rate: float,
    seconds: float,
    output_topics: list[str],
    is_output: Callable[[Event], bool],
    now: Callable[[], datetime],
    warmup_s: float = 3.0,
) -> Latencies:
    """Publish at a steady `rate` for `warmup_s` then `seconds`; measure publish-to-output
    time of the outputs of what was sent after the warm-up. (The first second of a fresh
    worker is not its steady state: the first send to each output topic waits for its
    metadata, and the first advice took 100-220 ms where the rest took 10.)"""
    sent: dict[str, float] = {}
    result = Latencies()
    stop = threading.Event()
    consumer = output_reader(bootstrap, output_topics)

    def take(event: Event, arrived: float) -> None:
        origin = sent.get(event.envelope.correlation_id or "")
        if origin is not None and is_output(event):
            result.samples_ms.append((arrived - origin) * 1000)

    reader = threading.Thread(target=read_outputs, args=(consumer, stop, take), daemon=True)
    reader.start()
    sink = producer(bootstrap, linger_ms=0)
    ends = time.perf_counter() + warmup_s + seconds
    for since in paced(rate, lambda: time.perf_counter() < ends):
        event = make(now())
        if since >= warmup_s:
            sent[event.envelope.event_id] = time.perf_counter()
        send_as_member(sink, event)
    sink.flush()
    time.sleep(3.0)  # let the last outputs arrive
    stop.set()
    reader.join(5)
    consumer.close()
    sink.close()
    return result
