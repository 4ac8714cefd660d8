"""Scale-out on a three-node Apache Kafka cluster: the mix drained by one, two and three
workers of one group (issue 18).

Each run gets a fresh cluster (replication 3, `min.insync.replicas=2`), topics sized for
more workers than it runs (6 partitions per member lane, 8 per internal topic), all
workers joined before the backlog is written. On this 2-core machine the workers and the
three brokers share the cores, so the gain cannot be linear: the CPU each worker spent per
event is printed too, so the gain on more cores can be read from it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import WORKER_ENV, preload, wait_drained
from benchmarks.scenarios import _seed_events, _workload
from hub.brokers.cluster import KafkaCluster
from hub.brokers.kafka_runtime import resolve
from hub.ops.topic_admin import create_topics
from hub.process.worker_process import WorkerProcess
from hub.settings import HubSettings
from schemas.reference.registry import load_registry
from schemas.topics import catalogue

MEMBER_PARTITIONS = 6


@dataclass
class ScaleOutFigures:
    workers: int
    events: int
    events_per_s: float
    worker_cpu_s: float  # all workers, from the first event written to the last commit
    cpu_ms_per_event: float
    broker_cpu_s: float  # the three brokers, the same span

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / 100


def run(count: int, workers: int, flow: str = "mix") -> ScaleOutFigures:
    settings = HubSettings()
    root = Path(tempfile.mkdtemp(prefix="hub-scale-out-"))
    cluster = KafkaCluster(resolve(settings.kafka_version, settings.kafka_cache_dir),
                           root / "cluster", heap_mb=settings.kafka_heap_mb).start()
    procs: list[WorkerProcess] = []
    try:
        ids = load_registry().ids
        create_topics(cluster.bootstrap, catalogue(ids, MEMBER_PARTITIONS), 3)
        group = f"bench-scale-out-{workers}"
        env = {**WORKER_ENV, "HUB_APP_ID": group, "HUB_REPLICATION_FACTOR": "3",
               "HUB_MEMBER_PARTITIONS": str(MEMBER_PARTITIONS)}
        procs = [WorkerProcess(cluster.bootstrap, root / f"worker-{n}", env)
                 for n in range(workers)]
        for proc in procs:
            proc.start(timeout=180)
        wait_drained(cluster.bootstrap, group, timeout=180)  # joined and settled
        events = _seed_events(flow, _workload(flow, for_latency=False), count)
        brokers = [node.process.pid for node in cluster.nodes.values()
                   if node.process is not None]
        cpu_before = [cpu_seconds(p.pid) for p in procs], [cpu_seconds(b) for b in brokers]
        started = time.monotonic()
        preload(cluster.bootstrap, events)
        wait_drained(cluster.bootstrap, group, timeout=1800)
        elapsed = time.monotonic() - started
        worker_cpu = sum(cpu_seconds(p.pid) for p in procs) - sum(cpu_before[0])
        broker_cpu = sum(cpu_seconds(b) for b in brokers) - sum(cpu_before[1])
    finally:
        for proc in procs:
            proc.kill()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return ScaleOutFigures(
        workers=workers, events=len(events), events_per_s=round(len(events) / elapsed, 1),
        worker_cpu_s=round(worker_cpu, 1),
        cpu_ms_per_event=round(worker_cpu / len(events) * 1000, 2),
        broker_cpu_s=round(broker_cpu, 1),
    )
