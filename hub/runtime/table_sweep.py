"""A periodic pass over the keys this worker owns in a table, to expire old state.

Expiry on write (the rules prune a patient's value whenever they write it) leaves the
patients who never come back; the sweep finds them. It reads each key afresh and writes
the rewritten value (or deletes the key: a tombstone on its changelog partition, which
compaction drops) before anything else runs, so a write an agent made meanwhile is never
overwritten with a stale copy.

Only a store that knows each key's partition can be swept: RocksDB, the deployed store,
keeps a database per partition. The memory store (development) keeps one mapping, so its
tables are pruned on write only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from faust.types import TP, TableT

from hub.runtime import table_writes
from hub.runtime.app import app

log = logging.getLogger(__name__)
BATCH = 200  # keys between yields to the event loop

# The value a key should have now: the same object when unchanged, None to delete it.
Rewrite = Callable[[str, Any], Any]


@dataclass
class SweepCounts:
    seen: int = 0
    rewritten: int = 0
    deleted: int = 0


def ready() -> bool:
    """Not while partitions move or tables recover: a half-restored table is not the
    state to judge."""
    recovery = getattr(app.tables, "recovery", None)
    recovered = recovery is None or recovery.completed.is_set()
    return recovered and not app.rebalancing and not app.in_recovery


def owned_keys(table: TableT[str, Any]) -> Iterator[tuple[int, str]]:
    """(partition, key) of every key in the partitions this worker is active for; none
    from a store that does not keep partitions apart."""
    store: Any = table.data
    dbs = getattr(store, "_dbs", None)
    if dbs is None:
        return
    topic = table.changelog_topic.get_topic_name()
    actives = app.assignor.assigned_actives()
    for partition, db in list(dbs.items()):
        if TP(topic, partition) not in actives:
            continue
        for encoded in store._visible_keys(db):
            yield partition, store._decode_key(encoded)


def owned_items(table: TableT[str, Any]) -> Iterator[tuple[int, str, Any]]:
    """(partition, key, value) of every key in the partitions this worker is active for,
    read in one pass of each partition's database (a `table.get` per key searches the
    partitions again); none from a store that does not keep partitions apart. A value may
    be older than a write made while the pass runs: read the key again before changing it."""
    store: Any = table.data
    dbs = getattr(store, "_dbs", None)
    if dbs is None:
        return
    topic = table.changelog_topic.get_topic_name()
    actives = app.assignor.assigned_actives()
    for partition, db in list(dbs.items()):
        if TP(topic, partition) not in actives:
            continue
        for encoded, value in store._visible_items(db):
            yield partition, store._decode_key(encoded), store._decode_value(value)


def owned_entries(table: TableT[str, Any], owned: set[int],
                  partition_of: Callable[[str, Any], int]) -> Iterator[tuple[int, str, Any]]:
    """(partition, key, value) of the keys this worker answers for: from a store that
    keeps partitions apart (RocksDB), one lazy pass per owned partition (no copy of the
    table in memory); the memory store (development) is listed whole and each key placed
    by `partition_of(key, value)` among `owned`."""
    found = False
    for entry in owned_items(table):
        found = True
        yield entry
    if found:
        return
    for key, value in list(table.items()):
        partition = partition_of(key, value)
        if partition in owned:
            yield partition, key, value


async def sweep(table: TableT[str, Any], rewrite: Rewrite,
                skip: Callable[[str], bool] = lambda key: False) -> SweepCounts:
    counts = SweepCounts()
    for partition, key in owned_keys(table):
        counts.seen += 1
        if counts.seen % BATCH == 0:
            await asyncio.sleep(0)
            if not ready():
                break  # partitions are moving: the next sweep starts afresh
        if skip(key):
            continue
        current = table.get(key)
        if current is None:
            continue
        value = rewrite(key, current)
        if value is None:
            await table_writes.delete(table, partition, key)
            counts.deleted += 1
        elif value is not current:
            await table_writes.put(table, partition, key, value)
            counts.rewritten += 1
    return counts
