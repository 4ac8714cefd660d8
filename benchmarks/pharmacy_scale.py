"""The central pharmacy at consortium scale: 200 members x 2,000 drugs (400,000 ledgers,
written to the ledger table's changelog as the worker writes them), then stock events
through the ledger: sustained rate, and dispense-to-shortage latency at a steady load."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from kafka.partitioner.default import murmur2

from benchmarks.harness import Latencies, Stage, offered_load, preload, producer, wait_drained
from hub.ops.topic_admin import create_topics
from hub.rules.pharmacy.ledger import MemberLedger
from schemas.models import Event, Shortage, StockEvent
from schemas.reference.registry import load_registry
from schemas.topics import (
    INTERNAL_PARTITIONS,
    PHARMACY_SHORTAGES,
    Audience,
    TopicSpec,
    catalogue,
)

LEDGERS_TABLE = "pharmacy-ledgers"


@dataclass
class PharmacyScaleFigures:
    members: int
    drugs: int
    ledgers: int
    recovery_s: float
    stock_events_per_s: float
    offered_rate: float
    shortage_samples: int
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_reference(folder: Path, members: int, drugs: int) -> tuple[list[str], list[str]]:
    """A registry of `members` (1 lead, centres, village points) and a formulary of
    `drugs`, stocked by every level."""
    centres = max(1, members // 4)
    ids = ["lead"] + [f"c{n:03d}" for n in range(centres)] + [
        f"v{n:03d}" for n in range(members - 1 - centres)]
    lines = ['[consortium]\nid = "scale"\nname = "scale"\n',
             '[[members]]\nid = "lead"\nname = "L"\nlevel = "LEAD_HOSPITAL"\nqc_items = []\n']
    for i, member in enumerate(ids[1:]):
        level, parent = ("CENTRE", "lead") if member[0] == "c" else (
            "VILLAGE_POINT", f"c{i % centres:03d}")
        lines.append(f'[[members]]\nid = "{member}"\nname = "{member}"\nlevel = "{level}"\n'
                     f'parent = "{parent}"\nqc_items = []\n')
    (folder / "members.toml").write_text("\n".join(lines))
    codes = [f"XA{n:021d}" for n in range(drugs)]
    header = ("code,name,specification,dosage_form,unit,essential,safety_lead,max_lead,"
              "min_purchase_lead,safety_centre,max_centre,min_purchase_centre,safety_village,"
              "max_village,min_purchase_village\n")
    rows = [f"{c},药{n},1g,片剂,盒,true,200,1500,100,60,400,50,10,60,10\n"
            for n, c in enumerate(codes)]
    (folder / "formulary.csv").write_text(header + "".join(rows))
    levels = "".join(f'[levels.{lv}]\norder_cycle_days = 7\nlead_time_days = 3\n'
                     f'supply_mode = "TOP_UP"\n\n'
                     for lv in ("LEAD_HOSPITAL", "CENTRE", "VILLAGE_POINT"))
    (folder / "formulary.toml").write_text(f'catalogue = "formulary.csv"\n\n{levels}')
    return ids, codes


def seed_ledgers(bootstrap: str, app_id: str, members: list[str], codes: list[str]) -> int:
    """Every member's ledger of every drug, on the partition its drug's stock events use."""
    topic = f"{app_id}-{LEDGERS_TABLE}-changelog"
    create_topics(bootstrap, [TopicSpec(topic, "drug|member", (), Audience.HUB_INTERNAL,
                                        INTERNAL_PARTITIONS, cleanup_policy="compact")])
    sink = producer(bootstrap, linger_ms=50)
    today = datetime.now(UTC).date()
    for code in codes:
        partition = (murmur2(code.encode()) & 0x7FFFFFFF) % INTERNAL_PARTITIONS
        for member in members:
            ledger = MemberLedger(member_id=member, drug_code=code, on_hand=70.0,
                                  first_day=date.fromordinal(today.toordinal() - 30))
            sink.send(topic, key=json.dumps(f"{code}|{member}").encode(),
                      value=json.dumps(ledger.to_json()).encode(), partition=partition)
    sink.flush()
    sink.close()
    return len(codes) * len(members)


def run(members: int, drugs: int, events: int, rate: float, seconds: float,
        folder: Path) -> PharmacyScaleFigures:
    ids, codes = write_reference(folder, members, drugs)
    env = {"HUB_REGISTRY_FILE": str(folder / "members.toml"),
           "HUB_FORMULARY_FILE": str(folder / "formulary.toml"),
           "HUB_SESSION_TIMEOUT": "60", "HUB_STORE": "rocksdb://"}
    rng = random.Random(3)

    def dispense(now: datetime) -> Event:
        member = rng.choice(ids)
        return StockEvent(envelope=StockEvent.new_envelope(member, occurred_at=now),
                          kind="DISPENSE", drug_code=rng.choice(codes),
                          quantity=float(rng.randrange(1, 4)), at=now)

    with Stage() as stage:
        create_topics(stage.bootstrap, catalogue(load_registry(folder / "members.toml").ids))
        app_id = "bench-pharmacy-scale"
        ledgers = seed_ledgers(stage.bootstrap, app_id, ids, codes)
        now = datetime.now(UTC)
        loaded = preload(stage.bootstrap, [dispense(now) for _ in range(events)])
        worker = stage.worker("pharmacy-scale", **env)
        started = time.monotonic()
        worker.start(timeout=1800)
        recovery = time.monotonic() - started
        elapsed = wait_drained(stage.bootstrap, app_id, timeout=1800, registry_ids=ids)
        latencies: Latencies = offered_load(
            stage.bootstrap, dispense, rate, seconds, [PHARMACY_SHORTAGES.name],
            lambda event: isinstance(event, Shortage), lambda: datetime.now(UTC))
        peak = worker.peak_rss_bytes()
        worker.stop()
    return PharmacyScaleFigures(
        members=len(ids), drugs=len(codes), ledgers=ledgers, recovery_s=round(recovery, 1),
        stock_events_per_s=round(loaded / elapsed, 1), offered_rate=rate,
        shortage_samples=len(latencies.samples_ms),
        p50_ms=None if latencies.p50 is None else round(latencies.p50, 2),
        p99_ms=None if latencies.p99 is None else round(latencies.p99, 2),
        peak_rss_mb=round(peak / 2**20, 1),
    )
