"""Fixtures: a broker that looks new to each test module (Apache Kafka where Java and Maven
are present, one for the session, emptied between modules; else an embedded one per
module; `HUB_BROKER_KIND` forces either), hub workers as subprocesses, the member
SDK, and a reader that decodes whole topics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker, BrokerKind, choose, local_broker
from hub.ops.topic_admin import create_topics
from hub.process.worker_process import WorkerProcess
from hub.settings import HubSettings
from schemas.codec import AvroCodec, CodecError
from schemas.models import Event
from schemas.reference.registry import load_registry
from schemas.topics import catalogue

CODEC = AvroCodec()
__all__ = ["Decoded", "WorkerProcess", "read_all", "read_topics", "start_broker",
           "wait_for"]


def start_broker(folder: Path, kind: BrokerKind | None = None) -> BaseBroker:
    """A started broker of the suite's kind (or `kind`) with every catalogue topic."""
    settings = HubSettings()
    choice = choose(kind or settings.broker_kind)
    started = local_broker(choice, folder, version=settings.kafka_version,
                           cache_dir=settings.kafka_cache_dir, heap_mb=384,
                           short_lived=True).start()
    create_topics(started.bootstrap, catalogue(load_registry().ids))
    return started


def empty_broker(started: BaseBroker) -> None:
    """Make a running Apache Kafka broker look new to the next module: every topic but
    Kafka's own deleted (the catalogue's then made again, offsets from 0 as on a new
    broker) and every consumer group with them."""
    admin = KafkaAdminClient(bootstrap_servers=started.bootstrap)
    try:
        left = sorted(t for t in admin.list_topics() if not t.startswith("__"))
        if left:
            admin.delete_topics(left, timeout_ms=30_000, raise_errors=False)
        groups = [g[0] if isinstance(g, tuple) else g["group_id"] for g in admin.list_groups()]
        if groups:  # a group a killed member is still in stays; its name is not reused
            admin.delete_groups(groups)
        assert wait_for(lambda: not set(left) & set(admin.list_topics()), 30, 0.1), \
            "topics not deleted"
    finally:
        admin.close()
    create_topics(started.bootstrap, catalogue(load_registry().ids))


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBroker]:
    """One Apache Kafka broker for the modules of the session (a start costs ~5 s)."""
    started = start_broker(tmp_path_factory.mktemp("broker"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def broker(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBroker]:
    """A broker that looks new to the module: the session's Apache Kafka emptied of what
    earlier modules left (`empty_broker`), or an embedded broker of the module's own."""
    if choose(HubSettings().broker_kind).kind == "kafka":
        shared: BaseBroker = request.getfixturevalue("session_broker")
        empty_broker(shared)
        yield shared
        return
    started = start_broker(tmp_path_factory.mktemp("broker"))
    yield started
    started.stop()


@pytest.fixture
def start_worker(
    broker: BaseBroker, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        env.setdefault("HUB_APP_ID", f"hub-test-{tmp_path.name}")
        env.setdefault("HUB_SESSION_TIMEOUT", "6")
        env.setdefault("HUB_LOG_LEVEL", "info")
        worker = WorkerProcess(broker.bootstrap, tmp_path, {**broker.worker_env(), **env})
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.kill()


@pytest.fixture
def publisher(broker: BaseBroker) -> Iterator[Callable[[str], MemberPublisher]]:
    made: dict[str, MemberPublisher] = {}

    def get(member_id: str) -> MemberPublisher:
        if member_id not in made:
            made[member_id] = MemberPublisher(broker.bootstrap, member_id)
        return made[member_id]

    yield get
    for pub in made.values():
        pub.close()


Decoded = tuple[bytes | None, Event]


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every message now on a topic, from the beginning, in partition order."""
    return read_topics(bootstrap, [topic])[topic]


def read_topics(bootstrap: str, topics: list[str]) -> dict[str, list[tuple[bytes | None, bytes]]]:
    """Every message now on each of `topics` (none for a topic that does not exist), read
    by one consumer: a consumer per topic costs ~0.15 s to start."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=500)
    out: dict[str, list[tuple[bytes | None, bytes]]] = {topic: [] for topic in topics}
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:
            return out
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=500).items():
                out[tp.topic].extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


@pytest.fixture
def read_topic(broker: BaseBroker) -> Callable[..., list[Decoded]]:
    def read(
        topic: str,
        until: Callable[[list[Decoded]], bool] | None = None,
        timeout: float = 30.0,
        kinds: tuple[type[Event], ...] | None = None,
    ) -> list[Decoded]:
        """Decode a whole topic; with `until`, re-read until it holds or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            decoded: list[Decoded] = []
            for key, value in read_all(broker.bootstrap, topic):
                try:
                    event = CODEC.decode(value)
                except CodecError:
                    continue
                if kinds is None or isinstance(event, kinds):
                    decoded.append((key, event))
            if until is None or until(decoded) or time.monotonic() > deadline:
                return decoded
            time.sleep(0.3)

    return read


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)

