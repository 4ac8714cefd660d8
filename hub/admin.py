"""Topic administration on any Kafka-compatible broker."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.settings import get_settings
from schemas.topics import TopicSpec

log = logging.getLogger(__name__)


def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec], replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-admin",
                             **get_settings().kafka_client_config())
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


def list_topics(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hub-admin",
                             **get_settings().kafka_client_config())
    try:
        return sorted(admin.list_topics())
    finally:
        admin.close()
