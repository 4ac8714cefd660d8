"""Apache Kafka on this machine: one KRaft node (broker and controller in one JVM) on
loopback ports, alone (tests, `hub dev`) or as one of a cluster's nodes
(hub/brokers/cluster.py)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path

from hub.brokers.base import BaseBroker, free_port, wait_until_serving
from hub.brokers.kafka_config import NodePorts, node_properties, voters, write_properties
from hub.brokers.kafka_runtime import KafkaRuntime


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what
    `kafka-storage random-uuid` prints). Like Kafka's own `Uuid.randomUuid`, it never
    starts with "-": `kafka-storage format --cluster-id -x...` reads such an id as an
    option and fails (1 id in 64; CI lost a run to it)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def loopback_ports() -> NodePorts:
    return NodePorts(client=free_port(), internal=free_port(), controller=free_port())


class KafkaBroker(BaseBroker):
    """One Kafka node. Alone, `KafkaBroker(runtime, folder).start()` is a whole
    single-node cluster; in a cluster, `quorum` names all the controllers."""

    kind = "kafka"

    def __init__(
        self, runtime: KafkaRuntime, data_dir: Path, *, node_id: int = 1,
        ports: NodePorts | None = None, quorum: str = "", cluster_id: str = "",
        nodes: int = 1, secure: bool = False, heap_mb: int = 512,
        tls_dir: Path | None = None, external_host: str | None = None,
        short_lived: bool = False,
    ) -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.node_id = node_id
        self.ports = ports or loopback_ports()
        # Member sites' listener, on another loopback address (127.0.0.2) as "outside".
        self.external_host = external_host
        if external_host is not None and self.ports.external is None:
            self.ports = replace(self.ports, external=free_port(external_host))
        self.port = self.ports.client
        self.quorum = quorum or voters({node_id: self.ports})
        self.cluster_id = cluster_id or new_cluster_id()
        self.nodes = nodes
        self.secure = secure
        self.heap_mb = heap_mb
        self.short_lived = short_lived  # a test's: without the JIT's top tier
        self.tls_dir = tls_dir  # SASL_SSL on the CLIENT listener (secure only)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The CLIENT listener, by the name its certificate carries when it is TLS."""
        return f"{'localhost' if self.tls_dir else self.host}:{self.port}"

    @property
    def external_bootstrap(self) -> str:
        """The EXTERNAL listener: what a member site is given."""
        if self.external_host is None or self.ports.external is None:
            raise RuntimeError("this node was started without an external listener")
        return f"{self.external_host}:{self.ports.external}"

    @property
    def internal_bootstrap(self) -> str:
        """The INTERNAL listener: the brokers' and the admin's (a super user)."""
        return f"{self.host}:{self.ports.internal}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    def launch(self) -> None:
        """Format the storage (first start only) and start the JVM; returns at once."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = node_properties(self.node_id, self.ports, self.quorum, self.data_dir,
                                nodes=self.nodes, secure=self.secure, host=self.host,
                                tls_dir=self.tls_dir, external_host=self.external_host)
        write_properties(props, self.config_path)
        log = self.log_path.open("ab")
        if not (self.data_dir / "data" / "meta.properties").exists():
            subprocess.run(
                self.runtime.command("kafka.tools.StorageTool", "format", "--cluster-id",
                                     self.cluster_id, "--config", str(self.config_path),
                                     "--ignore-formatted", heap_mb=128,
                                     short_lived=True),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                check=True, timeout=120,
            )
        self.process = subprocess.Popen(
            self.runtime.command("kafka.Kafka", str(self.config_path), heap_mb=self.heap_mb,
                                 short_lived=self.short_lived),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        self.launch()
        try:
            wait_until_serving(self.internal_bootstrap, timeout, self.process)
        except (TimeoutError, RuntimeError) as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from exc
        return self
