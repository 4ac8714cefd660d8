"""A watchdog's table (`referral-tasks`, `remote-read-tasks`) in Faust's own RocksDB store,
as a worker holds it: a database per partition with the worker's options, Faust's JSON
keys and values, read through Faust's `Table` and `Store` (so a value read by key pays
the store's own lookup: its key index, then each partition's database in turn), written
as hub.runtime.table_writes writes with hub.runtime.patches.store_rollback installed
(the value and its undo record in one batch, then the undo record dropped with the
changelog offset, as when the broker acknowledges it). No broker, no worker: the Faust
app is never started, and none of the hub's runtime is imported but the undo records'
functions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import faust

from hub.runtime.patches.store_rollback import UNDO_PREFIX, confirm, write
from schemas.topics import INTERNAL_PARTITIONS


class FaustStore:
    """One table in Faust's RocksDB store, with the hub's reads and writes on it."""

    def __init__(self, folder: Path, options: Mapping[str, int],
                 table: str = "referral-tasks") -> None:
        self.folder = folder
        app = faust.App(f"hub-bench-{table}", store="rocksdb://", datadir=str(folder),
                        autodiscover=False)
        app.sensors.add(app.monitor)  # as a started worker has it: every get is counted
        self.table: Any = app.Table(table, default=None,
                                    partitions=INTERNAL_PARTITIONS, options=dict(options))
        self.data: Any = self.table.data  # faust.stores.rocksdb.Store
        self._offsets = itertools.count()

    def load(self, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        """(partition, encoded key, encoded value) into each partition's database, then
        flushed and compacted (the table as a long-running worker holds it)."""
        for partition, key, value in rows:
            self.data._db_for_partition(partition)[key] = value
        for db in self.data._dbs.values():
            db.flush()
            db.compact_range(None, None)

    def owned_keys(self) -> Iterator[tuple[int, str]]:
        """As hub.runtime.table_sweep.owned_keys (every partition here is owned), the undo
        records skipped as store_rollback's patch of `_visible_keys` skips them."""
        for partition, db in list(self.data._dbs.items()):
            for encoded in self.data._visible_keys(db):
                if not encoded.startswith(UNDO_PREFIX):
                    yield partition, self.data._decode_key(encoded)

    def get(self, key: str) -> dict[str, Any] | None:
        """The agent's `tasks.get(key)`, from a timer (no current event)."""
        value: dict[str, Any] | None = self.table.get(key)
        return value

    def owned_items(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """As hub.runtime.table_sweep.owned_items (every partition here is owned): one pass
        of each partition's database by the store's `_visible_items`, keys and values
        decoded by the store, the undo records skipped as store_rollback skips them."""
        for partition, db in list(self.data._dbs.items()):
            for key, value in self.data._visible_items(db):
                if not key.startswith(UNDO_PREFIX):
                    yield partition, self.data._decode_key(key), self.data._decode_value(value)

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The table's items decoded one at a time, as Faust's `Table.items()` gives them."""
        for _, key, value in self.owned_items():
            yield key, value

    def write(self, partition: int, key: str, value: dict[str, Any] | None) -> None:
        """As hub.runtime.table_writes._store with the undo records installed, and the
        changelog record's acknowledgement at once (None: delete)."""
        encoded = self.data._encode_key(key)
        encoded_value = None if value is None else self.data._encode_value(value)
        self.data._key_index[encoded] = partition
        db = self.data._db_for_partition(partition)
        undo_key = write(db, encoded, encoded_value)
        confirm(db, undo_key, next(self._offsets))

    def close(self) -> float:
        """Flush and close the databases; their size on disk in MB."""
        for db in self.data._dbs.values():
            db.flush()
            db.close()
        self.data._dbs.clear()
        size = sum(f.stat().st_size for f in self.folder.rglob("*") if f.is_file())
        return round(size / 2**20, 1)
