"""Brokers the hub starts on this machine (tests, `hub broker`, `hub dev`, benchmarks):
Apache Kafka from Maven Central, one node or a cluster of three, or the embedded PyPI
broker where Java is missing. Production brokers are deploy/'s, never these."""

from hub.brokers.base import BaseBroker, free_port, wait_until_serving
from hub.brokers.choice import BrokerChoice, BrokerKind, choose, describe, local_broker
from hub.brokers.embedded import EmbeddedBroker
from hub.brokers.kafka import KafkaBroker
from hub.brokers.kafka_runtime import KafkaRuntime, KafkaUnavailable, resolve

__all__ = [
    "BaseBroker", "BrokerChoice", "BrokerKind", "EmbeddedBroker", "KafkaBroker",
    "KafkaRuntime", "KafkaUnavailable", "choose", "describe", "free_port", "local_broker",
    "resolve", "wait_until_serving",
]
