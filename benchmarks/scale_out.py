"""Scale-out on a three-node Apache Kafka cluster: the mix drained by one, two and three
workers of one group (issue 18).

Each run gets a fresh cluster (replication 3, `min.insync.replicas=2`), topics sized for
more workers than it runs (8 partitions per member topic and per internal topic), all
workers joined before the backlog is written. On this 2-core machine the workers and the
three brokers share the cores, so the gain cannot be linear: the CPU each worker spent per
event is printed too, so the gain on more cores can be read from it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import WORKER_ENV, cpu_seconds
from benchmarks.scenarios import timed_drain
from hub.brokers.cluster import KafkaCluster
from hub.brokers.kafka_runtime import resolve
from hub.ops.topic_admin import create_topics
from hub.process.worker_process import WorkerProcess
from hub.settings import HubSettings
from schemas.reference.registry import load_registry
from schemas.topics import catalogue


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


def run(count: int, workers: int, flow: str = "mix") -> ScaleOutFigures:
    settings = HubSettings()
    root = Path(tempfile.mkdtemp(prefix="hub-scale-out-"))
    cluster = KafkaCluster(resolve(settings.kafka_version, settings.kafka_cache_dir),
                           root / "cluster", heap_mb=settings.kafka_heap_mb).start()
    procs: list[WorkerProcess] = []
    try:
        create_topics(cluster.bootstrap, catalogue(load_registry().ids), 3)
        group = f"bench-scale-out-{workers}"
        env = {**WORKER_ENV, "HUB_APP_ID": group, "HUB_REPLICATION_FACTOR": "3"}
        procs = [WorkerProcess(cluster.bootstrap, root / f"worker-{n}", env)
                 for n in range(workers)]
        brokers = [node.process.pid for node in cluster.nodes.values()
                   if node.process is not None]
        before: dict[str, float] = {}

        def cpu_now() -> dict[str, float]:
            return {"workers": sum(cpu_seconds(p.pid) for p in procs),
                    "brokers": sum(cpu_seconds(b) for b in brokers)}

        events, elapsed = timed_drain(cluster.bootstrap, group, procs, flow, count,
                                      on_settled=lambda: before.update(cpu_now()))
        spent = {name: seconds - before[name] for name, seconds in cpu_now().items()}
    finally:
        for proc in procs:
            proc.kill()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return ScaleOutFigures(
        workers=workers, events=events, events_per_s=round(events / elapsed, 1),
        worker_cpu_s=round(spent["workers"], 1),
        cpu_ms_per_event=round(spent["workers"] / events * 1000, 2),
        broker_cpu_s=round(spent["brokers"], 1),
    )
