"""Faust topic objects for the topics of `schemas.topics`.

Consumed topics carry raw bytes (agents decode them, so a bad message is dead-lettered);
sends go through the `avro-so` codec (see hub.runtime.emit).
"""

from __future__ import annotations

from functools import cache

from faust.types import TopicT

from hub.runtime.app import app
from hub.runtime.services import runtime
from schemas import topics
from schemas.topics import TopicSpec


def _channel(spec: TopicSpec) -> TopicT:
    return app.topic(
        spec.name,
        key_serializer="raw",
        value_serializer="raw",
        partitions=spec.partitions,
        config=spec.config,
    )


ingress: TopicT = app.topic(
    *(topics.ingress_topic(m) for m in runtime.registry.ids),
    key_serializer="raw",
    value_serializer="raw",
    partitions=runtime.settings.member_partitions,
)
results = _channel(topics.RESULTS)
orders = _channel(topics.ORDERS)
diagnoses = _channel(topics.DIAGNOSES)
stock = _channel(topics.STOCK)
card_completions = _channel(topics.CARD_COMPLETIONS)
referrals = _channel(topics.REFERRALS)
remote_reads = _channel(topics.REMOTE_READS)
dead_letter = _channel(topics.DEAD_LETTER)
alerts = _channel(topics.ALERTS)
cdc_reports = _channel(topics.CDC_REPORTS)
pharmacy_shortages = _channel(topics.PHARMACY_SHORTAGES)
pharmacy_orders = _channel(topics.PHARMACY_ORDERS)
pharmacy_stock_levels = _channel(topics.PHARMACY_STOCK_LEVELS)

INTERNAL: dict[str, TopicT] = {
    topics.RESULTS.name: results,
    topics.ORDERS.name: orders,
    topics.DIAGNOSES.name: diagnoses,
    topics.STOCK.name: stock,
    topics.REFERRALS.name: referrals,
    topics.REMOTE_READS.name: remote_reads,
}


@cache
def out(member_id: str) -> TopicT:
    """The feedback topic of one member."""
    spec = topics.member_topics(member_id, runtime.settings.member_partitions)[1]
    return _channel(spec)
