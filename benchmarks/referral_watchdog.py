"""The referral watchdog's cost: one full sweep of a `referral-tasks` table holding
100,000 open referrals (benchmarks.referral_table), done as
hub.agents.referral.referral_watchdog does it: the table's items listed, each placed
(home_partition), a closed one judged without loading it (dropped past its retention), an
open one loaded (ReferralRecord.from_json) and looked at (engine.on_tick), and for what
changed its statuses and alerts encoded for sending, the pools it released and the record
written back. No broker.

Three sweeps each time, at the same `now`: the first finds the overdue share due (it
tells both parties, or expires a no-show), the second tells the office of those overdue by
more than its delay (one level a sweep), the third finds nothing new (every sweep until the
next deadline passes: the usual one). Timed over the memory store (the decoded values in a
dict) and through a RocksDB store with the worker's options and Faust's JSON encoding
(read from disk and decoded, changes written back). Memory: tracemalloc's peak over a
fourth, quiet sweep through the store (the agent lists the decoded table first: that list
is most of it), the process's RSS around the store sweeps, the table's size as JSON and on
disk."""

from __future__ import annotations

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

from faust.stores.rocksdb import RocksDBOptions

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
SWEEPS = ("first", "second", "quiet")


@dataclass
class SweepFigures:
    """One sweep: how long, and what it did."""

    seconds: float
    records: int
    list_seconds: float = 0.0  # of which listing the table's items
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
    store_read_only_s: float | None = None  # iterate and decode the store, nothing more
    store: list[SweepFigures] = field(default_factory=list)
    rocksdb_mb: float | None = None
    tracemalloc_peak_mb: float = 0.0
    # a quiet sweep through the store taking the items one at a time (not listed first)
    store_unlisted_quiet: SweepFigures | None = None
    tracemalloc_peak_unlisted_mb: float = 0.0
    rss_before_store_sweeps_mb: float = 0.0
    rss_after_store_sweeps_mb: float = 0.0
    peak_rss_mb: float = 0.0
    target_s: float = SWEEP_INTERVAL_S * TARGET_SHARE

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("memory", "store")}
        if self.store_unlisted_quiet is not None:
            out["store_unlisted_quiet"] = self.store_unlisted_quiet.as_dict()
        for where in ("memory", "store"):
            sweeps: list[SweepFigures] = getattr(self, where)
            out[where] = {name: f.as_dict() for name, f in zip(SWEEPS, sweeps, strict=False)}
        return out


Rows = Callable[[], Iterable[tuple[str, dict[str, Any]]]]


@dataclass
class Store:
    """The table as the sweep sees it: its items, and a write and a delete of one key."""

    items: Rows
    write: Callable[[str, dict[str, Any]], None]
    delete: Callable[[str], None]


def sweep(store: Store, ctx: Context, pools: dict[str, Pool], codec: AvroCodec,
          retention: timedelta, listed: bool = True) -> SweepFigures:
    """One pass of the agent's watchdog, timed; sending is encoding the outputs.
    `listed=False`: the items taken one at a time instead of listed first (not what the
    agent does: what it would cost if it did)."""
    figures = SweepFigures(seconds=0.0, records=0)
    started = time.perf_counter()
    rows = list(store.items()) if listed else store.items()  # the agent: list(tasks.items())
    figures.list_seconds = round(time.perf_counter() - started, 3)
    for key, value in rows:
        figures.records += 1
        home_partition(value["task"]["performer"])  # the agent's owned-partition check
        closed_at = closed_since(value)
        if closed_at is not None:
            figures.closed += 1
            if past_retention(closed_at, NOW, retention):
                store.delete(key)
            continue
        out = on_tick(ReferralRecord.from_json(value), NOW, ctx, pools.get)
        if out.record is None:
            continue
        for event in (*out.statuses, *out.alerts):
            codec.encode(event)
        for pool in out.pools:
            pools[pool.key] = pool
        store.write(key, out.record.to_json())
        figures.changed += 1
        figures.statuses += len(out.statuses)
        figures.alerts += len(out.alerts)
        figures.pools += len(out.pools)
    figures.seconds = round(time.perf_counter() - started, 3)
    return figures


def home_partition(receiver: str) -> int:
    """As hub.agents.referral.home_partition (the agent module starts a Faust app)."""
    return partition_of_key(referral_ordering_key(receiver))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _memory_sweeps(table: ReferralTable, ctx: Context, codec: AvroCodec,
                   retention: timedelta, figures: WatchdogFigures) -> None:
    """Over the memory store: the values held decoded, in one dict."""
    held = {json.loads(key): json.loads(value) for key, value in table.rows}
    store = Store(lambda: held.items(), held.__setitem__, held.__delitem__)
    pools = dict(table.pools)
    figures.memory = [sweep(store, ctx, pools, codec, retention) for _ in SWEEPS]


def _store_sweeps(table: ReferralTable, ctx: Context, codec: AvroCodec, retention: timedelta,
                  settings: HubSettings, figures: WatchdogFigures) -> None:
    """Through RocksDB, keys and values as Faust's JSON serializer writes them."""
    folder = Path(tempfile.mkdtemp(prefix="hub-referral-watchdog-"))
    try:
        options: dict[str, Any] = dict(settings.rocksdb_options())
        db: Any = RocksDBOptions(**options).open(folder / "referral-tasks.db")
        for key, value in table.rows:
            db[key] = value
        db.flush()
        db.compact_range(None, None)

        def write(key: str, value: dict[str, Any]) -> None:
            db[json.dumps(key).encode()] = json.dumps(value).encode()

        store = Store(lambda: ((json.loads(k), json.loads(v)) for k, v in db.items()),
                      write, lambda key: db.__delitem__(json.dumps(key).encode()))
        pools = dict(table.pools)
        gc.collect()
        figures.rss_before_store_sweeps_mb = _rss_mb()
        started = time.perf_counter()
        for _ in store.items():
            pass
        figures.store_read_only_s = round(time.perf_counter() - started, 3)
        figures.store = [sweep(store, ctx, pools, codec, retention) for _ in SWEEPS]
        figures.rss_after_store_sweeps_mb = _rss_mb()
        figures.store_unlisted_quiet = sweep(store, ctx, pools, codec, retention, listed=False)
        for listed in (True, False):
            gc.collect()
            tracemalloc.start()
            sweep(store, ctx, pools, codec, retention, listed)
            peak = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
            if listed:
                figures.tracemalloc_peak_mb = peak
            else:
                figures.tracemalloc_peak_unlisted_mb = peak
        db.flush()
        db.close()
        figures.rocksdb_mb = round(
            sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(open_referrals: int = 100_000, overdue_share: float = 0.08, seed: int = 26,
        measure_store: bool = True, settings: HubSettings | None = None) -> WatchdogFigures:
    settings = settings or HubSettings()
    table = build(open_referrals, overdue_share, seed)
    ctx = Context(shipped_flow("referral"), load_registry(), table.sealer.open_patient)
    codec = AvroCodec()
    retention = timedelta(days=settings.referral_closed_retention_days)
    figures = WatchdogFigures(
        open_referrals=open_referrals, overdue=table.overdue, profiles=table.profile_counts,
        seed_seconds=table.seconds,
        table_json_mb=round(sum(len(k) + len(v) for k, v in table.rows) / 2**20, 1))
    if measure_store:  # first: the memory store's dict would weigh on its RSS figures
        _store_sweeps(table, ctx, codec, retention, settings, figures)
    _memory_sweeps(table, ctx, codec, retention, figures)
    figures.peak_rss_mb = _peak_rss_mb()
    return figures
