"""Topic administration on any Kafka-compatible broker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from hub.settings import get_settings
from schemas.topics import TopicSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


def unreachable(servers: str, exc: Exception) -> str:
    """The one line a tool ends with when the broker does not answer."""
    return (f"无法连接 Kafka {servers}（{type(exc).__name__}）："
            "检查 HUB_BROKER，或用 `hub broker` 启动内嵌 broker")


def _admin(bootstrap: str) -> KafkaAdminClient:
    settings = get_settings()
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-admin",
                            bootstrap_timeout_ms=int(settings.connect_timeout_s * 1000),
                            **settings.kafka_client_config())


def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec], replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = _admin(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            topic = NewTopic(spec.name, spec.partitions, replication_factor,
                             topic_configs=spec.config)
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                continue
        return [s.name for s in missing]
    finally:
        admin.close()


def partition_mismatches(bootstrap: str, specs: Iterable[TopicSpec]) -> list[tuple[str, int, int]]:
    """(topic, partitions it has, partitions the catalogue gives it) for every existing
    topic whose count differs: `create_topics` leaves an existing topic as it is. A topic
    the broker does not describe (not there, or not yet in its metadata) is left out."""
    wanted = {spec.name: spec.partitions for spec in specs}
    admin = _admin(bootstrap)
    try:
        described = admin.describe_topics(sorted(wanted))
    finally:
        admin.close()
    counts = {d.get("name") or d["topic"]: len(d["partitions"]) for d in described
              if not d.get("error_code") and d.get("partitions")}
    return sorted((name, has, wanted[name]) for name, has in counts.items()
                  if has != wanted[name])


def _patiently(what: str, bootstrap: str, call: Callable[[], T], wait_s: float) -> T:
    """`call`, retried while the cluster does not answer: a worker that starts while a
    killed broker is still in the metadata is sent to it (seen on the three-node cluster),
    and should wait for the cluster rather than exit."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return call()
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("%s on %s failed (%r); again in 1 s", what, bootstrap, exc)
            time.sleep(1.0)


def create_topics_patiently(
    bootstrap: str, specs: Iterable[TopicSpec], replication_factor: int = 1,
    wait_s: float = 60.0,
) -> list[str]:
    specs = list(specs)
    return _patiently("creating the topics", bootstrap,
                      lambda: create_topics(bootstrap, specs, replication_factor), wait_s)


def partition_mismatches_patiently(
    bootstrap: str, specs: Iterable[TopicSpec], wait_s: float = 60.0,
) -> list[tuple[str, int, int]]:
    specs = list(specs)
    return _patiently("describing the topics", bootstrap,
                      lambda: partition_mismatches(bootstrap, specs), wait_s)


def list_topics(bootstrap: str) -> list[str]:
    admin = _admin(bootstrap)
    try:
        return sorted(admin.list_topics())
    finally:
        admin.close()


def backlog(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Per partition of `topics` ("topic[p]"), the messages `group` has not committed yet;
    partitions with none are left out."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             **get_settings().kafka_client_config())
    admin = _admin(bootstrap)
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(partitions)
        committed = admin.list_group_offsets({group: None}).get(group, {})
        behind = {f"{tp.topic}[{tp.partition}]": end - _committed(committed.get(tp))
                  for tp, end in ends.items()}
        return {name: n for name, n in behind.items() if n > 0}
    finally:
        consumer.close()
        admin.close()


def _committed(meta: object) -> int:
    offset = getattr(meta, "offset", meta)
    return offset if isinstance(offset, int) and offset >= 0 else 0
