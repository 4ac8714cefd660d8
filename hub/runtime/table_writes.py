"""Table writes that skip Faust's per-message send machinery.

`table[key] = value` makes Faust send the changelog message through its own producer
path: a pending message, its buffer, sensors and a callback, about 0.2 ms a write on this
machine (the same cost as its `send`, see hub/runtime/emit.py). Here the value goes into the
table's store and the changelog message straight to the aiokafka producer underneath,
serialized as Faust's recovery reads it, on the partition of the input being handled
(Faust's own rule: a partition's state is rebuilt from the same changelog partition).
Faust flushes that producer before it commits the input's offset, so a committed input
implies its state is written, exactly as with `table[key] = value`.
"""

from __future__ import annotations

import logging
from asyncio import Future
from typing import Any

from aiokafka.structs import RecordMetadata
from faust.serializers import codecs
from faust.types import TP, TableT

from hub.runtime.changelog_gate import GATE
from hub.runtime.emit import kafka_producer, take_unacknowledged

log = logging.getLogger(__name__)


async def put(table: TableT[str, Any], partition: int | None, key: str, value: Any) -> None:
    """Set `key` to `value` in `table`, recording it on changelog `partition` (None: the
    partition Faust chooses by key)."""
    store: Any = table
    producer = kafka_producer()
    if producer is None:  # no running worker (a handler called on its own): Faust's path
        table[key] = value
        return
    if partition is None:
        store.data[key] = value
        table.send_changelog(None, key, value)
        return
    _store(store.data, partition, key, value)
    await _record(producer, table, partition, key, value)


def _store(data: Any, partition: int, key: str, value: Any) -> None:
    """Into the store. RocksDB keeps a database per partition and takes the partition from
    the event being handled, which a timer (the reporting watchdog) has not: name it."""
    into_partition = getattr(data, "_db_for_partition", None)
    if into_partition is None:  # the memory store: one mapping
        data[key] = value
        return
    encoded = data._encode_key(key)
    data._key_index[encoded] = partition
    into_partition(partition).put(encoded, data._encode_value(value))


async def delete(table: TableT[str, Any], partition: int, key: str) -> None:
    """Remove `key` from `table` (a tombstone on changelog `partition`)."""
    store: Any = table
    producer = kafka_producer()
    if producer is None:
        table.pop(key, None)
        return
    store.data.pop(key, None)
    await _record(producer, table, partition, key, None)


async def _record(producer: Any, table: Any, partition: int, key: str, value: Any) -> None:
    """Queue the changelog record behind the outputs this task sent before it (outputs
    before the state that may mark their input done: hub/runtime/changelog_gate.py)."""
    topic = table.changelog_topic.get_topic_name()
    key_bytes = codecs.dumps(table.key_serializer, key)
    value_bytes = None if value is None else codecs.dumps(table.value_serializer, value)

    def persisted(done: Future[RecordMetadata]) -> None:
        # A RocksDB store keeps the changelog offset it holds, so that a restart reads
        # only what came after it (Faust's `_on_changelog_sent` does the same).
        if done.cancelled() or done.exception() is not None:
            log.error("changelog write to %s[%d] failed: %r", topic, partition,
                      None if done.cancelled() else done.exception())
            return
        table.data.set_persisted_offset(TP(topic, partition), done.result().offset)

    GATE.submit(producer, topic, partition, key_bytes, value_bytes, take_unacknowledged(),
                persisted)
