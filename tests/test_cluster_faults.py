"""The hub on a three-node Apache Kafka cluster (replication 3, min.insync.replicas=2, no
unclean election) while brokers fail: the mixed workload of tests/mixed_workload.py, with
the broker leading the most partitions SIGKILLed mid-stream and brought back later, with
every broker restarted in turn, and with the worker SIGKILLed while leadership moves. Each
run is compared with the undisturbed reference: nothing lost, no output id that the
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
from tests.mixed_workload import ENV, Inputs, assert_same, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable_reason() is not None,
                       reason=f"Apache Kafka cannot run here: {unavailable_reason()}"),
]
CLUSTER_ENV = {**ENV, "HUB_REPLICATION_FACTOR": "3"}
TOPICS = [spec.name for spec in catalogue(load_registry().ids)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    settings = HubSettings()
    started = KafkaCluster(resolve(settings.kafka_version, settings.kafka_cache_dir),
                           tmp_path / "cluster").start()
    try:
        create_topics(started.bootstrap, catalogue(load_registry().ids), 3)
        yield started
    finally:
        started.stop()


def run_on_cluster(
    cluster: KafkaCluster, inputs: Inputs, folder: Path,
    fault: Callable[[int, WorkerProcess], None],
) -> dict[str, Any]:
    worker = WorkerProcess(cluster.bootstrap, folder, CLUSTER_ENV).start(timeout=120)
    try:
        return run(cluster.bootstrap, inputs, worker, lambda chunk: fault(chunk, worker))
    finally:
        worker.kill()


def test_the_busiest_leader_killed_and_brought_back(
    cluster: KafkaCluster, mixed_inputs: Inputs, mixed_reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    killed: list[int] = []
    pids: set[int] = set()

    def fault(chunk: int, worker: WorkerProcess) -> None:
        pids.add(worker.pid)
        if chunk == 1:
            killed.append(cluster.busiest_leader(TOPICS))
            cluster.kill(killed[0])
        elif chunk == 3:
            cluster.restart(killed[0])
            cluster.wait_in_sync(TOPICS)

    got = run_on_cluster(cluster, mixed_inputs, tmp_path / "worker", fault)
    assert len(killed) == 1 and len(pids) == 1, (killed, pids)  # one worker throughout
    assert_same(mixed_reference, got)
    leaders = cluster.partition_leaders(TOPICS)
    assert set(leaders.values()) <= {1, 2, 3} and -1 not in leaders.values()


def test_a_rolling_restart_of_every_broker(
    cluster: KafkaCluster, mixed_inputs: Inputs, mixed_reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    restarted: list[int] = []
    pids: set[int] = set()

    def fault(chunk: int, worker: WorkerProcess) -> None:
        pids.add(worker.pid)
        if chunk in (1, 2, 3):
            node = chunk
            cluster.nodes[node].stop()  # a gentle stop, as an operator's restart does
            cluster.restart(node)
            cluster.wait_in_sync(TOPICS)
            restarted.append(node)

    got = run_on_cluster(cluster, mixed_inputs, tmp_path / "worker", fault)
    assert restarted == [1, 2, 3] and len(pids) == 1, (restarted, pids)
    assert_same(mixed_reference, got)


def test_the_worker_killed_while_leadership_moves(
    cluster: KafkaCluster, mixed_inputs: Inputs, mixed_reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    killed: list[int] = []

    def fault(chunk: int, worker: WorkerProcess) -> None:
        if chunk == 2:
            killed.append(cluster.busiest_leader(TOPICS))
            cluster.kill(killed[0])
            worker.kill()  # while the partitions it led elect new leaders
            worker.start(timeout=120)
        elif chunk == 4:
            cluster.restart(killed[0])
            cluster.wait_in_sync(TOPICS)

    got = run_on_cluster(cluster, mixed_inputs, tmp_path / "worker", fault)
    assert len(killed) == 1
    assert_same(mixed_reference, got)
