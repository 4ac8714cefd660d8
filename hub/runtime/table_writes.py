"""Table writes that skip Faust's per-message send machinery.

`table[key] = value` makes Faust send the changelog message through its own producer
path: a pending message, its buffer, sensors and a callback, about 0.2 ms a write on this
machine (the same cost as its `send`, see hub/runtime/emit.py). Here the value goes into the
table's store and the changelog message straight to the aiokafka producer underneath,
serialized as Faust's recovery reads it, on the partition of the input being handled
(Faust's own rule: a partition's state is rebuilt from the same changelog partition).
Faust flushes that producer before it commits the input's offset, so a committed input
implies its state is written, exactly as with `table[key] = value`. A RocksDB store
outlives a killed worker, so its write carries an undo record until the broker has the
changelog record (hub/runtime/patches/store_rollback.py).
"""

from __future__ import annotations

import logging
import os
import signal
from asyncio import Future
from collections.abc import Callable
from typing import Any

from aiokafka.structs import RecordMetadata
from faust.serializers import codecs
from faust.types import TP, TableT

from hub.runtime.changelog_gate import GATE
from hub.runtime.emit import kafka_producer, take_unacknowledged
from hub.runtime.patches import store_rollback
from hub.runtime.services import runtime

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
    outputs = take_unacknowledged()
    confirm = _store(store.data, partition, key, value)
    _fault_after_store_write(table, outputs)
    _record(producer, table, partition, key, value, outputs, confirm)


Confirm = Callable[[int], None]


def _store(data: Any, partition: int, key: str, value: Any) -> Confirm | None:
    """Into the store (None: delete); what to call with the changelog record's offset once
    the broker has it. RocksDB keeps a database per partition and takes the partition from
    the event being handled, which a timer (the reporting watchdog) has not: name it."""
    into_partition = getattr(data, "_db_for_partition", None)
    if into_partition is None:  # the memory store: one mapping
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        return None
    encoded = data._encode_key(key)
    encoded_value = None if value is None else data._encode_value(value)
    data._key_index[encoded] = partition
    db = into_partition(partition)
    if not store_rollback.installed():
        if encoded_value is None:
            db.delete(encoded)
        else:
            db.put(encoded, encoded_value)
        return None
    # undone on the next start unless its changelog record is acknowledged first
    undo_key = store_rollback.write(db, encoded, encoded_value)
    return lambda offset: store_rollback.confirm(into_partition(partition), undo_key, offset)


def _fault_after_store_write(table: Any, outputs: list[Any]) -> None:
    """Tests only (HUB_FAULT_KILL_AFTER_STORE_WRITE): SIGKILL the worker right after a local
    write to the named table that has outputs before it still unacknowledged."""
    if table.name == runtime.settings.fault_kill_after_store_write and \
            any(not sent.done() for sent in outputs):
        log.critical("fault injection: killed after a local write to %s", table.name)
        os.kill(os.getpid(), signal.SIGKILL)


async def delete(table: TableT[str, Any], partition: int, key: str) -> None:
    """Remove `key` from `table` (a tombstone on changelog `partition`)."""
    store: Any = table
    producer = kafka_producer()
    if producer is None:
        table.pop(key, None)
        return
    outputs = take_unacknowledged()
    confirm = _store(store.data, partition, key, None)
    _record(producer, table, partition, key, None, outputs, confirm)


def _record(producer: Any, table: Any, partition: int, key: str, value: Any,
            outputs: list[Any], confirm: Confirm | None) -> None:
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
        offset = done.result().offset
        if confirm is None:
            table.data.set_persisted_offset(TP(topic, partition), offset)
        else:
            confirm(offset)

    GATE.submit(producer, topic, partition, key_bytes, value_bytes, outputs, persisted)
