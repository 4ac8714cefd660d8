"""The remote-read watchdog's cost: sweeps of a `remote-read-tasks` table holding
`open_reads` open read requests (benchmarks.remote_read_table), each sweep the agent's
own pass (hub.agents.remote_read_sweep.reads_pass, as hub.agents.remote_read_watchdog
calls it) given the table through Faust's RocksDB store without a worker
(benchmarks.referral_store: one pass of each partition's database by the store's
`_visible_items`, a value read again by `Table.get`, writes with their undo records) and
through the memory store (listed whole, as hub.runtime.table_sweep.owned_entries lists
it). No broker: sending an outcome is Avro-encoding its statuses, requests and alerts.

Sweeps at the same `now` until one changes nothing: the first tells both members of every
overdue read (level 1), the second re-routes to the backup centre those late past the
office's hour (level 2), a third finds those whose fresh limit at the backup has passed
too (a 30-minute ECG late by more than 1.5 hours), then the quiet one (every sweep until
another deadline passes: the usual one). Memory: tracemalloc's peak over one more quiet
sweep through the store, the process's RSS around the store sweeps."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.referral_store import FaustStore
from benchmarks.referral_table import NOW
from benchmarks.referral_watchdog import SweepFigures, process_peak_rss_mb, rss_mb
from benchmarks.remote_read_table import ReadTable, build
from hub.agents.remote_read_sweep import Entry, ReadsTable, reads_pass
from hub.rules.remote_read.engine import Outcome
from hub.settings import HubSettings
from schemas.codec import AvroCodec
from schemas.partitioning import partition_of_key, read_ordering_key

TARGET_SHARE = 0.10  # a sweep may take this share of one core at the sweep interval
MAX_SWEEPS = 6  # a table that never quietens is a finding, not a hang

Write = Callable[[int, str, dict[str, Any] | None], None]


@dataclass
class ReadSweepFigures(SweepFigures):
    """One sweep (the referral watchdog's figures; `pools` and `closed` unused): also the
    requests put on a backup centre's worklist, and which reads it escalated."""

    requests: int = 0
    levels: dict[int, int] = field(default_factory=dict)  # escalation level -> reads
    escalated: set[str] = field(default_factory=set)  # request ids told of

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out.pop("escalated")
        return {k: v for k, v in out.items() if k not in ("pools", "closed")}


@dataclass
class ReadWatchdogFigures:
    open_reads: int
    overdue: int
    profiles: dict[str, int]
    modalities: dict[str, int]
    seed_seconds: float
    table_json_mb: float
    sweep_interval_s: float
    target_s: float
    memory: list[ReadSweepFigures] = field(default_factory=list)
    store: list[ReadSweepFigures] = field(default_factory=list)
    rocksdb_mb: float | None = None
    tracemalloc_peak_mb: float = 0.0
    rss_before_store_sweeps_mb: float = 0.0
    rss_after_store_sweeps_mb: float = 0.0
    peak_rss_mb: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("memory", "store")}
        for where in ("memory", "store"):
            out[where] = [f.as_dict() for f in getattr(self, where)]
        return out


def home_partition(request_id: str) -> int:
    """As hub.agents.remote_read.home_partition (that module starts a Faust app)."""
    return partition_of_key(read_ordering_key(request_id))


class Swept:
    """The table as the pass sees it (ReadsTable) on a store's get and write, timing the
    reading and counting what the pass did into `figures`."""

    def __init__(self, get: Callable[[str], dict[str, Any] | None], write: Write,
                 codec: AvroCodec) -> None:
        self.store_get, self.write, self.codec = get, write, codec
        self.figures = ReadSweepFigures(seconds=0.0, records=0)

    def get(self, key: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        value = self.store_get(key)
        self.figures.reread_seconds += time.perf_counter() - started
        self.figures.reread += 1
        return value

    async def put(self, partition: int, key: str, value: dict[str, Any]) -> None:
        self.write(partition, key, value)
        self.figures.changed += 1

    async def delete(self, partition: int, key: str) -> None:
        self.write(partition, key, None)

    async def send(self, out: Outcome) -> None:
        for event in (*out.statuses, *(request for _, request in out.requests),
                      *out.alerts, *out.results):
            self.codec.encode(event)
        self.figures.statuses += len(out.statuses)
        self.figures.requests += len(out.requests)
        self.figures.alerts += len(out.alerts)
        self.figures.escalated.update(status.request_id for status in out.statuses)

    def count(self, out: Outcome) -> None:
        levels = self.figures.levels
        levels[out.escalation_level] = levels.get(out.escalation_level, 0) + 1

    def entries(self, rows: Iterable[Entry]) -> Iterator[Entry]:
        """The pass's rows, the time spent reading them counted."""
        found = iter(rows)
        while True:
            started = time.perf_counter()
            row = next(found, None)
            self.figures.read_seconds += time.perf_counter() - started
            if row is None:
                return
            self.figures.records += 1
            yield row


def sweep(rows: Callable[[], Iterable[Entry]], get: Callable[[str], dict[str, Any] | None],
          write: Write, table: ReadTable, retention: timedelta, codec: AvroCodec,
          ) -> ReadSweepFigures:
    """One sweep: the agent's pass over the rows, as the watchdog runs it."""
    swept = Swept(get, write, codec)
    reads = ReadsTable(swept.get, swept.put, swept.delete, swept.send, swept.count,
                       asyncio.Lock())
    started = time.perf_counter()
    asyncio.run(reads_pass(reads, swept.entries(rows()), NOW, table.ctx, retention))
    figures = swept.figures
    figures.seconds = round(time.perf_counter() - started, 3)
    figures.read_seconds = round(figures.read_seconds, 3)
    figures.reread_seconds = round(figures.reread_seconds, 3)
    return figures


def sweeps_until_quiet(run_one: Callable[[], ReadSweepFigures]) -> list[ReadSweepFigures]:
    done = [run_one()]
    while done[-1].changed and len(done) < MAX_SWEEPS:
        done.append(run_one())
    return done


def _memory_sweeps(table: ReadTable, retention: timedelta, codec: AvroCodec,
                   figures: ReadWatchdogFigures) -> None:
    held = {json.loads(key): json.loads(value) for key, value in table.rows}

    def rows() -> Iterable[Entry]:
        for key, value in list(held.items()):
            yield home_partition(key), key, value

    def write(_partition: int, key: str, value: dict[str, Any] | None) -> None:
        if value is None:
            held.pop(key, None)
        else:
            held[key] = value

    figures.memory = sweeps_until_quiet(
        lambda: sweep(rows, held.get, write, table, retention, codec))


def _store_sweeps(table: ReadTable, retention: timedelta, codec: AvroCodec,
                  settings: HubSettings, figures: ReadWatchdogFigures) -> None:
    """Through Faust's RocksDB store, a database per partition as the worker keeps it."""
    folder = Path(tempfile.mkdtemp(prefix="hub-remote-read-watchdog-"))
    try:
        store = FaustStore(folder, settings.rocksdb_options(), "remote-read-tasks")
        store.load((home_partition(json.loads(key)), key, value) for key, value in table.rows)
        gc.collect()
        figures.rss_before_store_sweeps_mb = rss_mb()
        figures.store = sweeps_until_quiet(
            lambda: sweep(store.owned_items, store.get, store.write, table, retention, codec))
        figures.rss_after_store_sweeps_mb = rss_mb()
        gc.collect()
        tracemalloc.start()
        sweep(store.owned_items, store.get, store.write, table, retention, codec)
        figures.tracemalloc_peak_mb = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        figures.rocksdb_mb = store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(open_reads: int = 100_000, overdue_share: float = 0.08, seed: int = 27,
        measure_store: bool = True, settings: HubSettings | None = None,
        ) -> tuple[ReadWatchdogFigures, ReadTable]:
    """The figures, and the table they were measured on (its overdue reads by key)."""
    settings = settings or HubSettings()
    table = build(open_reads, overdue_share, seed)
    retention = timedelta(days=settings.remote_read_closed_retention_days)
    interval = settings.remote_read_sweep_seconds
    codec = AvroCodec()
    figures = ReadWatchdogFigures(
        open_reads=open_reads, overdue=len(table.overdue_keys), profiles=table.profile_counts,
        modalities=table.modality_counts, seed_seconds=table.seconds,
        table_json_mb=round(sum(len(k) + len(v) for k, v in table.rows) / 2**20, 1),
        sweep_interval_s=interval, target_s=round(interval * TARGET_SHARE, 2))
    if measure_store:  # first: the memory store's dict would weigh on its RSS figures
        _store_sweeps(table, retention, codec, settings, figures)
    _memory_sweeps(table, retention, codec, figures)
    figures.peak_rss_mb = process_peak_rss_mb()
    return figures, table
