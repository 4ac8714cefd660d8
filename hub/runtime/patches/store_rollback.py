"""A RocksDB table store never keeps a write whose changelog record the broker never had.

A table write goes into the local store at once, and its changelog record reaches the
broker later, after the outputs sent before it (hub/runtime/changelog_gate.py). A memory
store is rebuilt from the changelog on start, so what never reached it dies with the
process. A RocksDB store (`HUB_STORE=rocksdb://`) survives a SIGKILL (its write-ahead log
is in the page cache), and Faust then reads the changelog only past the offset the store
recorded last. So a worker killed right after a local write restarted with state saying
its input was done while neither the outputs nor the record had been written: the input
came again, found itself done, and its outputs were lost for good (a reporting card:
tests/runtime/test_store_rollback.py).

So each write through hub.runtime.table_writes goes into the partition's database in one
batch with an undo record (the key's previous value, or that it had none) under a key of
this process's incarnation, and the acknowledgement of its changelog record deletes the
undo record in one batch with the changelog offset Faust keeps. When a partition's
database is opened, the undo records of earlier incarnations (a killed process's writes
never acknowledged) are applied, newest first: the store is back to the changelog offset
it records, and Faust's recovery replays the changelog from there. This process's own
undo records are left to their acknowledgements (a partition revoked and assigned again is
reopened while they may be in flight). Faust's iteration skips the undo records as it
skips its offset key.

Writes through Faust's own path (`table[key] = value`: intake's seen-id windows) are not
covered: intake records where it first saw an id, so the same message again is not taken
for a duplicate.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from faust.stores.rocksdb import Store
from rocksdict import Rdict, WriteBatch

from hub import metrics

log = logging.getLogger(__name__)
UNDO_PREFIX = b"__hub\0undo\0"
# Unique to this process and ordered after every earlier one: undo keys sort by incarnation,
# then by write.
INCARNATION = time.time_ns().to_bytes(8, "big")
_sequence = itertools.count()
_installed: list[bool] = []


def installed() -> bool:
    return bool(_installed)


def _undo_record(key: bytes, previous: bytes | None) -> bytes:
    present = b"" if previous is None else b"\1" + previous
    return len(key).to_bytes(4, "big") + key + present


def _parse(record: bytes) -> tuple[bytes, bytes | None]:
    length = int.from_bytes(record[:4], "big")
    key, rest = record[4:4 + length], record[4 + length:]
    return key, (rest[1:] if rest else None)


def write(db: Rdict, key: bytes, value: bytes | None) -> bytes:
    """Set `key` to `value` (None: delete it) with its undo record; the undo record's key."""
    undo_key = UNDO_PREFIX + INCARNATION + next(_sequence).to_bytes(8, "big")
    batch = WriteBatch(raw_mode=True)
    batch.put(undo_key, _undo_record(key, db.get(key)))
    if value is None:
        batch.delete(key)
    else:
        batch.put(key, value)
    db.write(batch)
    return undo_key


def confirm(db: Rdict, undo_key: bytes, offset: int) -> None:
    """The write's changelog record is at `offset`: forget its undo record and record the
    offset, together (an undo record kept past its offset would undo a write the recovery
    does not replay)."""
    batch = WriteBatch(raw_mode=True)
    batch.delete(undo_key)
    batch.put(Store.offset_key, str(offset).encode())
    db.write(batch)


def _stale_undo_records(db: Rdict) -> Iterator[tuple[bytes, bytes]]:
    cursor = db.iter()
    cursor.seek(UNDO_PREFIX)
    while cursor.valid() and (key := cursor.key()).startswith(UNDO_PREFIX):
        if key[len(UNDO_PREFIX):len(UNDO_PREFIX) + len(INCARNATION)] != INCARNATION:
            yield key, cursor.value()
        cursor.next()


def roll_back(db: Rdict) -> int:
    """Undo the writes of earlier incarnations never acknowledged, newest first; how many."""
    stale = list(_stale_undo_records(db))
    if not stale:
        return 0
    batch = WriteBatch(raw_mode=True)
    for undo_key, record in reversed(stale):  # in one batch the last operation on a key wins
        key, previous = _parse(record)
        if previous is None:
            batch.delete(key)
        else:
            batch.put(key, previous)
        batch.delete(undo_key)
    db.write(batch)
    return len(stale)


def install() -> None:
    """Roll a partition's database back when it is opened; hide undo records (idempotent)."""
    if _installed:
        return
    original_open: Callable[[Any, int], Any] = Store._open_for_partition
    original_keys: Callable[[Any, Any], Iterator[bytes]] = Store._visible_keys
    original_items: Callable[[Any, Any], Iterator[tuple[bytes, bytes]]] = Store._visible_items

    @functools.wraps(original_open)
    def open_rolled_back(self: Any, partition: int) -> Any:
        db = original_open(self, partition)
        if self.use_rocksdict and not self.read_only:
            undone = roll_back(db)
            if undone:
                log.warning("%s[%d]: %d local writes whose changelog records were never "
                            "acknowledged are undone; the changelog is replayed from the "
                            "offset the store records", self.table_name, partition, undone)
                metrics.STORE_WRITES_UNDONE.labels(self.table_name).inc(undone)
        return db

    @functools.wraps(original_keys)
    def visible_keys(self: Any, db: Any) -> Iterator[bytes]:
        return (k for k in original_keys(self, db) if not k.startswith(UNDO_PREFIX))

    @functools.wraps(original_items)
    def visible_items(self: Any, db: Any) -> Iterator[tuple[bytes, bytes]]:
        return (kv for kv in original_items(self, db) if not kv[0].startswith(UNDO_PREFIX))

    Store._open_for_partition = open_rolled_back  # type: ignore[method-assign]
    Store._visible_keys = visible_keys  # type: ignore[method-assign]
    Store._visible_items = visible_items  # type: ignore[method-assign]
    _installed.append(True)
