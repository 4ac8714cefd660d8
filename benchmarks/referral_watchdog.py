"""The referral watchdog's cost: one full sweep of a `referral-tasks` table holding
100,000 open referrals (benchmarks.referral_table), done as
hub.agents.referral.referral_watchdog does it: (partition, key, value) read in one pass of
each owned partition's database (hub.runtime.table_sweep.owned_items), each referral judged
on the value read (a closed one without loading it, an open one loaded and looked at by
engine.on_tick), and only one with something to do (due, or closed past its retention)
read again by key and changed under the writing lock: for what changed its statuses and
alerts encoded for sending, the pools it released and the record written back; a yield to
the event loop every SWEEP_BATCH referrals. No broker.

Three sweeps each time, at the same `now`: the first finds the overdue share due (it
tells both parties, or expires a no-show), the second tells the office of those overdue by
more than its delay (one level a sweep), the third finds nothing new (every sweep until the
next deadline passes: the usual one). Timed through Faust's RocksDB store (the worker's
options and JSON encoding, a database per partition; the pass by the store's
`_visible_items` and its decoding, a value read again by `Table.get` as the agent reads it;
writes with their undo records as hub.runtime.table_writes makes them) and over the memory
store (listed whole, as the agent does there). Memory: tracemalloc's peak over a fourth,
quiet sweep through the store, the process's RSS around the store sweeps, the table's size
as JSON and on disk. For comparison, one quiet sweep as the agent did before it read
lazily: the store's items listed first, decoded, and judged from that list."""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.referral_store import FaustStore
from benchmarks.referral_table import NOW, ReferralTable, build
from hub.rules.coordination import shipped_flow
from hub.rules.referral.capacity import Pool
from hub.rules.referral.engine import Context, on_tick, past_retention
from hub.rules.referral.record import ReferralRecord, closed_since
from hub.settings import HubSettings
from schemas.codec import AvroCodec
from schemas.partitioning import partition_of_key, referral_ordering_key
from schemas.reference.registry import load_registry

SWEEP_INTERVAL_S = 60.0  # the watchdog's interval the target is set against
TARGET_SHARE = 0.10  # a sweep may take this share of one core at that interval
SWEEP_BATCH = 200  # as hub.agents.referral.SWEEP_BATCH (that module starts a Faust app)
SWEEPS = ("first", "second", "quiet")


@dataclass
class SweepFigures:
    """One sweep: how long, and what it did."""

    seconds: float
    records: int
    read_seconds: float = 0.0  # of which the pass reading and decoding the values
    reread: int = 0  # read again by key, having something to do
    reread_seconds: float = 0.0  # of which reading those again by key (Table.get)
    changed: int = 0
    statuses: int = 0
    alerts: int = 0
    pools: int = 0
    closed: int = 0

    @property
    def us_per_record(self) -> float:
        return round(self.seconds / max(self.records, 1) * 1e6, 1)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "us_per_record": self.us_per_record}


@dataclass
class WatchdogFigures:
    open_referrals: int
    overdue: int
    profiles: dict[str, int]
    seed_seconds: float
    table_json_mb: float
    # the first, second and quiet sweep (SWEEPS), in memory and through the store
    memory: list[SweepFigures] = field(default_factory=list)
    store_items_only_s: float | None = None  # iterate the items and decode, nothing more
    store_keys_and_get_only_s: float | None = None  # the keys, each value by Table.get
    store: list[SweepFigures] = field(default_factory=list)
    rocksdb_mb: float | None = None
    tracemalloc_peak_mb: float = 0.0
    # a quiet sweep as before the agent read lazily: the store's items listed first
    store_listed_first_quiet: SweepFigures | None = None
    rss_before_store_sweeps_mb: float = 0.0
    rss_after_store_sweeps_mb: float = 0.0
    peak_rss_mb: float = 0.0
    target_s: float = SWEEP_INTERVAL_S * TARGET_SHARE

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("memory", "store")}
        if self.store_listed_first_quiet is not None:
            out["store_listed_first_quiet"] = self.store_listed_first_quiet.as_dict()
        for where in ("memory", "store"):
            sweeps: list[SweepFigures] = getattr(self, where)
            out[where] = {name: f.as_dict() for name, f in zip(SWEEPS, sweeps, strict=False)}
        return out


@dataclass
class Store:
    """The table as the sweep sees it: (partition, key, value) of what it owns in one pass,
    a value by key, and a write and a delete of one key on its partition (None: delete)."""

    items: Callable[[], Iterable[tuple[int, str, dict[str, Any]]]]
    get: Callable[[str], dict[str, Any] | None]
    write: Callable[[int, str, dict[str, Any] | None], None]


@dataclass
class Sweeper:
    """What a sweep needs besides the table: the rules' context, the pools, the encoder."""

    ctx: Context
    pools: dict[str, Pool]
    codec: AvroCodec
    retention: timedelta

    def quiet(self, value: dict[str, Any]) -> bool:
        """An open referral with nothing due, judged on the value the pass read (as
        hub.agents.referral._quiet)."""
        return on_tick(ReferralRecord.from_json(value), NOW, self.ctx,
                       self.pools.get).record is None

    def judge(self, store: Store, partition: int, key: str, value: dict[str, Any],
              figures: SweepFigures) -> None:
        """One referral read afresh, as hub.agents.referral._tick_one; sending is encoding."""
        closed_at = closed_since(value)
        if closed_at is not None:
            if past_retention(closed_at, NOW, self.retention):
                store.write(partition, key, None)
            return
        out = on_tick(ReferralRecord.from_json(value), NOW, self.ctx, self.pools.get)
        if out.record is None:
            return
        for event in (*out.statuses, *out.alerts):
            self.codec.encode(event)
        for pool in out.pools:
            self.pools[pool.key] = pool
        store.write(partition, key, out.record.to_json())
        figures.changed += 1
        figures.statuses += len(out.statuses)
        figures.alerts += len(out.alerts)
        figures.pools += len(out.pools)

    def sweep(self, store: Store) -> SweepFigures:
        return asyncio.run(self._sweep(store))

    async def _sweep(self, store: Store) -> SweepFigures:
        """The agent's sweep: one pass reading (partition, key, value), each judged on the
        value read, a yield every SWEEP_BATCH; only one with something to do is read again
        by key and changed under the writing lock."""
        figures = SweepFigures(seconds=0.0, records=0)
        writing = asyncio.Lock()
        reading = rereading = 0.0
        started = time.perf_counter()
        rows = iter(store.items())
        while True:
            read_from = time.perf_counter()
            row = next(rows, None)
            reading += time.perf_counter() - read_from
            if row is None:
                break
            partition, key, value = row
            figures.records += 1
            if figures.records % SWEEP_BATCH == 0:
                await asyncio.sleep(0)
            closed_at = closed_since(value)
            if closed_at is not None:
                figures.closed += 1
                if not past_retention(closed_at, NOW, self.retention):
                    continue
            elif self.quiet(value):
                continue
            async with writing:
                read_from = time.perf_counter()
                current = store.get(key)
                rereading += time.perf_counter() - read_from
                figures.reread += 1
                if current is not None:
                    self.judge(store, partition, key, current, figures)
        figures.seconds = round(time.perf_counter() - started, 3)
        figures.read_seconds = round(reading, 3)
        figures.reread_seconds = round(rereading, 3)
        return figures

    def sweep_listed_first(self, store: Store,
                           items: Callable[[], Iterable[tuple[str, dict[str, Any]]]]
                           ) -> SweepFigures:
        """The agent's sweep before it read lazily: `list(tasks.items())`, then each judged
        from that list, placed by its receiver."""
        figures = SweepFigures(seconds=0.0, records=0)
        started = time.perf_counter()
        rows = list(items())
        figures.read_seconds = round(time.perf_counter() - started, 3)
        for key, value in rows:
            figures.records += 1
            figures.closed += closed_since(value) is not None
            self.judge(store, home_partition(value["task"]["performer"]), key, value, figures)
        figures.seconds = round(time.perf_counter() - started, 3)
        return figures


def home_partition(receiver: str) -> int:
    """As hub.agents.referral.home_partition."""
    return partition_of_key(referral_ordering_key(receiver))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def process_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _memory_sweeps(table: ReferralTable, sweeper: Sweeper, figures: WatchdogFigures) -> None:
    """Over the memory store: the values held decoded, in one dict, listed whole (the
    agent's `_owned_tasks` there)."""
    held = {json.loads(key): json.loads(value) for key, value in table.rows}

    def items() -> Iterable[tuple[int, str, dict[str, Any]]]:
        for key, value in list(held.items()):
            yield home_partition(value["task"]["performer"]), key, value

    def write(partition: int, key: str, value: dict[str, Any] | None) -> None:
        if value is None:
            held.pop(key, None)
        else:
            held[key] = value

    store = Store(items, held.get, write)
    figures.memory = [sweeper.sweep(store) for _ in SWEEPS]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return round(time.perf_counter() - started, 3)


def _store_sweeps(table: ReferralTable, sweeper: Sweeper, settings: HubSettings,
                  figures: WatchdogFigures) -> None:
    """Through Faust's RocksDB store, a database per partition as the worker keeps it."""
    folder = Path(tempfile.mkdtemp(prefix="hub-referral-watchdog-"))
    try:
        faust_store = FaustStore(folder, settings.rocksdb_options())
        faust_store.load((home_partition(json.loads(value)["task"]["performer"]), key, value)
                         for key, value in table.rows)
        store = Store(faust_store.owned_items, faust_store.get, faust_store.write)
        gc.collect()
        figures.rss_before_store_sweeps_mb = rss_mb()
        figures.store_items_only_s = timed(lambda: sum(1 for _ in faust_store.items()))
        figures.store_keys_and_get_only_s = timed(
            lambda: sum(1 for _, key in faust_store.owned_keys() if faust_store.get(key)))
        figures.store = [sweeper.sweep(store) for _ in SWEEPS]
        figures.rss_after_store_sweeps_mb = rss_mb()
        gc.collect()
        tracemalloc.start()
        sweeper.sweep(store)
        figures.tracemalloc_peak_mb = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        figures.store_listed_first_quiet = sweeper.sweep_listed_first(store, faust_store.items)
        figures.rocksdb_mb = faust_store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(open_referrals: int = 100_000, overdue_share: float = 0.08, seed: int = 26,
        measure_store: bool = True, settings: HubSettings | None = None) -> WatchdogFigures:
    settings = settings or HubSettings()
    table = build(open_referrals, overdue_share, seed)
    ctx = Context(shipped_flow("referral"), load_registry(), table.sealer.open_patient)
    retention = timedelta(days=settings.referral_closed_retention_days)
    figures = WatchdogFigures(
        open_referrals=open_referrals, overdue=table.overdue, profiles=table.profile_counts,
        seed_seconds=table.seconds,
        table_json_mb=round(sum(len(k) + len(v) for k, v in table.rows) / 2**20, 1))
    if measure_store:  # first: the memory store's dict would weigh on its RSS figures
        _store_sweeps(table, Sweeper(ctx, dict(table.pools), AvroCodec(), retention),
                      settings, figures)
    _memory_sweeps(table, Sweeper(ctx, dict(table.pools), AvroCodec(), retention), figures)
    figures.peak_rss_mb = process_peak_rss_mb()
    return figures
