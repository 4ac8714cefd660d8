"""Whether events are handled on their home partition, and which worker owns one.

An event's home partition (`schemas.partitioning.home_partition`) is where Kafka's default
partitioner puts its ordering key among the internal topics' partitions: a member's SDK
writes it there on the ingress topic, and intake forwards what arrives elsewhere to that
partition of the internal topic. The tables are written on the partition of the message
being handled, so a patient's state is on one partition number whichever way it came.
"""

from __future__ import annotations

from faust.types import CollectionT
from yarl import URL

from hub.runtime.app import app
from hub.runtime.services import runtime
from schemas import topics


def handled_in_place() -> bool:
    """Whether an ingress partition is the same partition number as the internal topics'
    (the ingress topics have as many partitions: Faust then assigns both to one worker).
    With fewer, every event is forwarded."""
    return runtime.settings.member_partitions == topics.INTERNAL_PARTITIONS


def owner_url(table: CollectionT, partition: int) -> URL | None:
    """The web address of the worker that owns a table partition (None: not known yet)."""
    changelog = table.changelog_topic.get_topic_name()
    for url, assigned in app.assignor.table_metadata(changelog).items():
        if partition in assigned.get(changelog, ()):
            return URL(url)
    return None
