"""The size the result index settles at: days of a county's result volume fed through the
recognition rules on a simulated clock, with the expiry the worker applies (pruned on every
write, and a periodic sweep that deletes the patients left with nothing:
hub/agents/state_expiry.py). Pure: no broker, no worker, so years take seconds.

The traffic: `visits_per_day` visits, each of a resident drawn from `residents` (every one
equally likely, so most come back within a year: the index's worst case for width), each
with a panel of `items_per_visit` recognisable items drawn from the item catalogue, every
item equally likely (the long-window imaging items as often as a potassium: again the worst
case). The index is sampled after every sweep: patients held, results held, and the bytes
of their JSON values (what the changelog and the RocksDB store hold, before compression).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faust.stores.rocksdb import RocksDBOptions

from hub.rules.recognition.expiry import kept_days, longest_kept_days, prune_index
from hub.rules.recognition.index import IndexedResult, PatientIndex, add_result
from hub.settings import HubSettings
from schemas.reference.items import load_item_catalogue

START = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS_PER_VISIT = 6  # a panel: e.g. electrolytes and renal function, or a blood count


@dataclass
class SizeSample:
    day: int
    patients: int
    results: int
    megabytes: float


@dataclass
class RetentionFigures:
    days: int
    visits_per_day: int
    items_per_visit: int
    residents: int
    sweep_days: int
    longest_kept_days: int
    results_fed: int
    samples: list[SizeSample] = field(default_factory=list)
    seconds: float = 0.0
    rocksdb_mb: float | None = None  # the settled index written to RocksDB, compacted

    @property
    def settled(self) -> SizeSample:
        """The largest size after the longest window: what the table settles at."""
        late = [s for s in self.samples if s.day > self.longest_kept_days] or self.samples
        return max(late, key=lambda s: s.results)

    def growth_after_window(self) -> float:
        """Results held at the end / results held when the longest window first passed:
        about 1 when the size has stopped growing."""
        late = [s for s in self.samples if s.day > self.longest_kept_days]
        if len(late) < 2 or late[0].results == 0:
            return float("nan")
        return late[-1].results / late[0].results

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "settled": asdict(self.settled),
                "growth_after_window": round(self.growth_after_window(), 3)}


def _bytes(index: dict[str, PatientIndex]) -> int:
    return sum(len(key) + len(json.dumps(value))
               for key, value in index.items())


def _pseudonym(resident: int) -> str:
    """As long as the hub's (32 hex digits)."""
    return hashlib.blake2b(str(resident).encode(), digest_size=16).hexdigest()


def rocksdb_megabytes(table: dict[str, PatientIndex], settings: HubSettings) -> float:
    """The table in one RocksDB database with the worker's options and Faust's encoding
    (JSON keys and values), flushed and compacted: its size on disk."""
    folder = Path(tempfile.mkdtemp(prefix="hub-retention-"))
    try:
        options: dict[str, Any] = dict(settings.rocksdb_options())  # as Faust's store takes them
        db: Any = RocksDBOptions(**options).open(folder / "index.db")
        for key, value in table.items():
            db[json.dumps(key).encode()] = json.dumps(value).encode()
        db.flush()
        db.compact_range(None, None)
        db.close()
        return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(days: int, visits_per_day: int, items_per_visit: int = ITEMS_PER_VISIT,
        residents: int = 500_000, sweep_days: int = 30, seed: int = 3,
        settings: HubSettings | None = None, measure_disk: bool = False) -> RetentionFigures:
    """`sweep_days`: the simulated sweep's interval (the worker's is 6 h: sweeping less
    often here only lets the size overshoot between sweeps, so the figure errs high)."""
    settings = settings or HubSettings()
    catalogue = load_item_catalogue(settings.items_file)
    items = [item for item in catalogue.items if item.recognisable]
    grace = settings.recognition_late_order_days
    days_of = kept_days(catalogue, grace)
    longest = longest_kept_days(catalogue, grace)
    rng = random.Random(seed)
    table: dict[str, PatientIndex] = {}
    figures = RetentionFigures(days, visits_per_day, items_per_visit, residents, sweep_days,
                               longest, 0)
    started = time.monotonic()
    sequence = 0
    for day in range(1, days + 1):
        now = START + timedelta(days=day)
        for _ in range(visits_per_day):
            key = _pseudonym(rng.randrange(residents))
            index = table.get(key) or {}
            for item in rng.sample(items, items_per_visit):
                sequence += 1
                entry = IndexedResult(
                    event_id=f"e{sequence}", member_id="lead", item_code=item.code,
                    reported_at=now, qc_passed=True, value_numeric=4.2, unit=item.unit,
                    reference_range="3.5-5.3", order_ref=f"o{sequence}")
                horizon = now - timedelta(days=item.window_days + grace)
                index = add_result(index, entry, keep=settings.recognition_keep_per_item,
                                   reported_after=horizon)
            table[key] = prune_index(index, now, days_of, longest)
            figures.results_fed += items_per_visit
        if day % sweep_days == 0:
            for key in list(table):
                pruned = prune_index(table[key], now, days_of, longest)
                if pruned:
                    table[key] = pruned
                else:
                    del table[key]
            figures.samples.append(SizeSample(
                day, len(table), sum(len(v) for i in table.values() for v in i.values()),
                round(_bytes(table) / 2**20, 1)))
    figures.seconds = round(time.monotonic() - started, 1)
    if measure_disk:
        figures.rocksdb_mb = rocksdb_megabytes(table, settings)
    return figures
