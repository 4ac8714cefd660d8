"""Three Kafka nodes on loopback, each broker and controller, with the deployment's
durability (replication 3, `min.insync.replicas=2`, no unclean election): the cluster
the fault and security tests run the hub on."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from hub.brokers.kafka import KafkaBroker, loopback_ports, new_cluster_id
from hub.brokers.kafka_config import voters
from hub.brokers.kafka_runtime import KafkaRuntime


class KafkaCluster:
    def __init__(
        self, runtime: KafkaRuntime, data_dir: Path, size: int = 3, *, secure: bool = False,
        heap_mb: int = 384, short_lived: bool = False,
    ) -> None:
        ports = {node: loopback_ports() for node in range(1, size + 1)}
        quorum, cluster_id = voters(ports), new_cluster_id()
        self.nodes = {
            node: KafkaBroker(runtime, data_dir / f"node-{node}", node_id=node,
                              ports=ports[node], quorum=quorum, cluster_id=cluster_id,
                              nodes=size, secure=secure, heap_mb=heap_mb,
                              short_lived=short_lived)
            for node in ports}

    @property
    def bootstrap(self) -> str:
        """The CLIENT listeners of every node: what the hub and members are given."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    @property
    def internal_bootstrap(self) -> str:
        """The INTERNAL listeners (a super user on loopback: the admin's stand-in)."""
        return ",".join(node.internal_bootstrap for node in self.nodes.values())

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        for node in self.nodes.values():
            node.launch()
        self.wait_brokers(len(self.nodes), timeout)
        return self

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.internal_bootstrap,
                                request_timeout_ms=5000, client_id="hub-cluster-admin")

    def live_brokers(self) -> set[int]:
        admin = self.admin()
        try:
            return {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"]
                    if not b.get("is_fenced")}
        finally:
            admin.close()

    def wait_brokers(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for node in self.nodes.values():
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"node {node.node_id} exited:\n{node.log_tail()}")
            try:
                last = self.live_brokers()
                if len(last) >= count:
                    return
            except (KafkaError, OSError) as exc:
                last = exc
            time.sleep(0.3)
        raise TimeoutError(f"{count} brokers not up in {timeout}s: {last!r}")

    def partition_leaders(self, topics: list[str]) -> dict[tuple[str, int], int]:
        admin = self.admin()
        try:
            described = admin.describe_topics(topics)
        finally:
            admin.close()
        return {(t["name"], p["partition_index"]): int(p["leader_id"])
                for t in described for p in t["partitions"]}

    def in_sync(self, topics: list[str]) -> bool:
        admin = self.admin()
        try:
            return all(len(p["isr_nodes"]) == len(p["replica_nodes"])
                       for t in admin.describe_topics(topics) for p in t["partitions"])
        finally:
            admin.close()

    def busiest_leader(self, topics: list[str]) -> int:
        """The node leading the most partitions of `topics`."""
        counts = Counter(self.partition_leaders(topics).values())
        return counts.most_common(1)[0][0]

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a stopped node again (same ports and data) and wait until it is back."""
        self.nodes[node_id].launch()
        self.wait_brokers(len(self.nodes), timeout)

    def wait_in_sync(self, topics: list[str], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.in_sync(topics):
            if time.monotonic() > deadline:
                raise TimeoutError(f"replicas of {topics} not in sync within {timeout}s")
            time.sleep(0.5)

    def stop(self, timeout: float = 10.0) -> None:
        """All nodes at once: stopped one by one, the last ones wait for a quorum that is
        gone (20 s here) before they give up their controlled shutdown."""
        for node in self.nodes.values():
            node.terminate()
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            node.wait_stopped(deadline)
