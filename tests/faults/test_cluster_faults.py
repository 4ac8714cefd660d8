"""The hub on a three-node Apache Kafka cluster (replication 3, min.insync.replicas=2, no
unclean election) while brokers fail: the mixed workload of tests/faults/mixed_workload.py, with
the broker leading the most partitions SIGKILLed mid-stream and brought back later, the
same with the worker SIGKILLed while leadership moves, and every broker restarted in turn.
The run is compared with the undisturbed reference: nothing lost, no output id that the
reference lacks, the CDC sink and the pharmacy view show each card and shortage once, and
the worker (but where the test kills it) never stops."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.brokers import resolve
from hub.brokers.cluster import KafkaCluster
from hub.brokers.kafka_runtime import unavailable_reason
from hub.ops.topic_admin import create_topics
from hub.settings import HubSettings
from schemas.reference.registry import load_registry
from schemas.topics import catalogue
from tests.conftest import WorkerProcess
from tests.faults.mixed_workload import ROCKSDB_ENV, Inputs, assert_same, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable_reason() is not None,
                       reason=f"Apache Kafka cannot run here: {unavailable_reason()}"),
]
# the deployed hub's store (deploy/): RocksDB, kept across the worker's SIGKILL
CLUSTER_ENV = {**ROCKSDB_ENV, "HUB_REPLICATION_FACTOR": "3"}
TOPICS = [spec.name for spec in catalogue(load_registry().ids)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    settings = HubSettings()
    started = KafkaCluster(resolve(settings.kafka_version, settings.kafka_cache_dir),
                           tmp_path / "cluster", short_lived=True).start()
    try:
        create_topics(started.bootstrap, catalogue(load_registry().ids), 3)
        yield started
    finally:  # killed: a graceful stop of all three costs ~7 s and shows nothing here
        for node in started.nodes.values():
            node.kill()


def run_on_cluster(
    cluster: KafkaCluster, inputs: Inputs, folder: Path,
    fault: Callable[[int, WorkerProcess], None],
) -> dict[str, Any]:
    worker = WorkerProcess(cluster.bootstrap, folder, CLUSTER_ENV).start(timeout=120)
    try:
        return run(cluster.bootstrap, inputs, worker, lambda chunk: fault(chunk, worker))
    finally:
        worker.kill()


def test_broker_failures_lose_and_double_nothing(
    cluster: KafkaCluster, mixed_inputs: Inputs, mixed_reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    """One run, one fault after each chunk is published (before it is processed): the
    busiest leader SIGKILLed, then brought back; the busiest leader SIGKILLed together
    with the worker (restarted at once, while leadership moves), then brought back; a
    rolling restart of all three brokers. (One run for all: each costs the whole
    workload, and the suite has 15 minutes on 2 cores.)"""
    done: list[str] = []
    pids: list[int] = []
    down: list[int] = []

    def fault(chunk: int, worker: WorkerProcess) -> None:
        pids.append(worker.pid)
        if chunk in (0, 2):
            down.append(cluster.busiest_leader(TOPICS))
            cluster.kill(down[-1])
            done.append(f"leader {down[-1]} killed")
            if chunk == 2:
                worker.kill()
                worker.start(timeout=120)
                done.append("worker killed and restarted")
        elif chunk in (1, 3):
            cluster.restart(down[-1])
            cluster.wait_in_sync(TOPICS)
            done.append(f"leader {down[-1]} back")
        elif chunk == 4:
            for node in cluster.nodes:
                cluster.nodes[node].stop()  # gently, as an operator's restart does
                cluster.restart(node)
                cluster.wait_in_sync(TOPICS)
            done.append("rolling restart")

    got = run_on_cluster(cluster, mixed_inputs, tmp_path / "worker", fault)
    assert len(done) == 6, done
    assert len(set(pids)) == 2, pids  # the worker stopped only when it was killed
    assert_same(mixed_reference, got)
    leaders = cluster.partition_leaders(TOPICS)
    assert -1 not in leaders.values(), leaders
