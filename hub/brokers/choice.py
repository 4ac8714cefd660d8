"""Which broker this machine runs: Apache Kafka where Java 17+ and Maven are present, the
embedded PyPI broker where they are not, or whichever `HUB_BROKER_KIND` forces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hub.brokers.base import BaseBroker
from hub.brokers.embedded import EmbeddedBroker
from hub.brokers.kafka import KafkaBroker
from hub.brokers.kafka_runtime import KafkaUnavailable, resolve, unavailable_reason

BrokerKind = Literal["auto", "kafka", "embedded"]


@dataclass(frozen=True)
class BrokerChoice:
    kind: Literal["kafka", "embedded"]
    reason: str


def choose(kind: BrokerKind) -> BrokerChoice:
    if kind == "embedded":
        return BrokerChoice("embedded", "HUB_BROKER_KIND=embedded")
    missing = unavailable_reason()
    if kind == "kafka":
        if missing:
            raise KafkaUnavailable(f"HUB_BROKER_KIND=kafka, but {missing}")
        return BrokerChoice("kafka", "HUB_BROKER_KIND=kafka")
    if missing:
        return BrokerChoice("embedded", f"Apache Kafka cannot run here: {missing}")
    return BrokerChoice("kafka", "Java and Maven are present")


def local_broker(
    choice: BrokerChoice, data_dir: Path, *, version: str, cache_dir: Path,
    heap_mb: int = 512, port: int = 0, short_lived: bool = False,
) -> BaseBroker:
    """An unstarted broker of the chosen kind with its data in `data_dir/<kind>`
    (`short_lived`: a test's Kafka, see `KafkaRuntime.command`)."""
    if choice.kind == "embedded":
        return EmbeddedBroker(data_dir / "broker", port=port)
    broker = KafkaBroker(resolve(version, cache_dir), data_dir / "kafka", heap_mb=heap_mb,
                         short_lived=short_lived)
    if port:
        broker.ports = broker.ports.__class__(port, broker.ports.internal,
                                              broker.ports.controller)
        broker.port = port
    return broker


def describe(broker: BaseBroker) -> str:
    if isinstance(broker, KafkaBroker):
        return f"Apache Kafka {broker.runtime.version} (KRaft, one node)"
    return "the embedded broker (noida-db)"
