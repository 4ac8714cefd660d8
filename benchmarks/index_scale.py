"""Recognition with a large result index: the index's changelog is written directly (as
the worker itself writes it), a worker recovers it, and orders arrive at a steady rate.

This is the "worker restarts with N indexed results" case: it measures recovery time, the
worker's peak memory with the index held (in memory or in RocksDB), and advice latency.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from benchmarks.harness import Stage, offered_load, producer
from benchmarks.workload import ITEMS_PER_PATIENT, Workload, seeded_items, utcnow
from hub.ops.topic_admin import create_topics
from hub.rules.privacy import pseudonym
from hub.rules.recognition.index import IndexedResult
from hub.settings import DEV_PSEUDONYM_SECRET
from schemas.models import Event, RecognitionAdvice
from schemas.models.common import IdType
from schemas.partitioning import identity_ordering_key, partition_of_key
from schemas.reference.registry import load_registry
from schemas.topics import INTERNAL_PARTITIONS, Audience, TopicSpec, feedback_topic

INDEX_TABLE = "recognition-result-index"


@dataclass
class ScaleFigures:
    store: str
    indexed_results: int
    recovery_s: float
    peak_rss_mb: float
    offered_rate: float
    advice_samples: int
    p50_ms: float | None
    p99_ms: float | None
    rss_after_mb: float  # resident at the end, recovered and serving (the peak is while recovering)
    heap_trims: int  # freed heap handed back (hub/process/heap_trim.py), and how long that took
    heap_trim_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_index(bootstrap: str, app_id: str, results: int) -> int:
    """Write `results` index entries (4 items per patient) to the table's changelog."""
    patients = max(1, results // ITEMS_PER_PATIENT)
    secret = DEV_PSEUDONYM_SECRET.encode()
    rng = random.Random(5)
    now = utcnow()
    topic = f"{app_id}-{INDEX_TABLE}-changelog"
    create_topics(bootstrap, [TopicSpec(topic, "patient pseudonym", (), Audience.HUB_INTERNAL,
                                        INTERNAL_PARTITIONS, cleanup_policy="compact")])
    sink = producer(bootstrap, linger_ms=50)
    for n in range(patients):
        id_number = f"5107261980{n:08d}"
        key = pseudonym(secret, IdType.RESIDENT_ID, id_number, issuer="lead")
        index = {
            item: [IndexedResult(
                event_id=str(uuid.UUID(int=rng.getrandbits(128))), member_id="lead",
                item_code=item, reported_at=now - timedelta(days=1 + n % 3), qc_passed=True,
                value_numeric=round(rng.uniform(3, 6), 2), unit="mmol/L",
                reference_range="3.5-5.3").to_json()]
            for item in seeded_items(n)
        }
        # on the patient's home partition, where the worker looks for it
        sink.send(topic, key=json.dumps(key).encode(), value=json.dumps(index).encode(),
                  partition=partition_of_key(identity_ordering_key(IdType.RESIDENT_ID,
                                                                   id_number, issuer="lead")))
    sink.flush()
    sink.close()
    return patients * ITEMS_PER_PATIENT


def run(results: int, store: str, rate: float, seconds: float) -> ScaleFigures:
    with Stage() as stage:
        name = f"scale-{store.split(':')[0]}"
        app_id = f"bench-{name}"
        seeded = seed_index(stage.bootstrap, app_id, results)
        worker = stage.worker(name, HUB_STORE=store, HUB_SESSION_TIMEOUT="30")
        started = time.monotonic()
        worker.start(timeout=1800)
        recovery = time.monotonic() - started
        workload = Workload(seed=11, patients=max(1, results // ITEMS_PER_PATIENT))
        members = [feedback_topic(m) for m in load_registry().ids]

        def is_advice(event: Event) -> bool:
            return isinstance(event, RecognitionAdvice)

        # no warm-up: the lag right after a large recovery is part of what this measures
        latencies = offered_load(stage.bootstrap, workload.order, rate, seconds, members,
                                 is_advice, utcnow, warmup_s=0.0)
        peak = worker.peak_rss_bytes()
        after = worker.rss_bytes()
        trims = worker.metric("hub_heap_trim_seconds_count")
        trim_s = worker.metric("hub_heap_trim_seconds_sum")
        worker.stop()
    return ScaleFigures(
        store=store, indexed_results=seeded, recovery_s=round(recovery, 1),
        peak_rss_mb=round(peak / 2**20, 1), offered_rate=rate,
        advice_samples=len(latencies.samples_ms),
        p50_ms=None if latencies.p50 is None else round(latencies.p50, 2),
        p99_ms=None if latencies.p99 is None else round(latencies.p99, 2),
        rss_after_mb=round(after / 2**20, 1), heap_trims=int(trims), heap_trim_s=round(trim_s, 3),
    )
