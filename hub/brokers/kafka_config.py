"""A loopback node's server.properties, made from the deployment's own
deploy/kafka/server.properties, so tests and `hub dev` run the production settings.

Only what cannot hold on one machine is changed: addresses (free loopback ports), the
data folder, replication (capped at the number of nodes), the INTERNAL and CONTROLLER
listeners (plaintext on loopback, their ANONYMOUS principal standing in for the `broker`
certificate), and with `secure=False` the SASL listener and authorizer. With `tls_dir`
(certificates made by deploy/tls/make-certs.sh) the CLIENT listener is SASL_SSL, as in
production, and advertised as `localhost`, the name the broker certificate carries. With
`external_host` the EXTERNAL listener (member sites') is bound and advertised there, another
loopback address standing in for the outside, with the CLIENT listener's protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.brokers.kafka_runtime import KAFKA_DEPLOY

DEPLOY_PROPERTIES = KAFKA_DEPLOY / "server.properties"
# Each is capped at the cluster's size (a single node cannot keep three copies).
REPLICATION_KEYS = (
    "default.replication.factor", "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor", "share.coordinator.state.topic.replication.factor",
)
MIN_ISR_KEYS = (
    "min.insync.replicas", "transaction.state.log.min.isr",
    "share.coordinator.state.topic.min.isr",
)
SECURITY_KEYS = ("sasl.", "listener.name.client.", "listener.name.external.", "authorizer.",
                 "allow.everyone", "super.users")


@dataclass(frozen=True)
class NodePorts:
    client: int
    internal: int
    controller: int
    external: int | None = None  # the EXTERNAL listener (member sites')


def read_properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        props[key.strip()] = value.strip()
    return props


def voters(ports: dict[int, NodePorts], host: str = "127.0.0.1") -> str:
    return ",".join(f"{node}@{host}:{p.controller}" for node, p in sorted(ports.items()))


def node_properties(
    node_id: int, ports: NodePorts, quorum: str, data_dir: Path, *, nodes: int,
    secure: bool = False, host: str = "127.0.0.1", tls_dir: Path | None = None,
    external_host: str | None = None,
) -> dict[str, str]:
    props = read_properties(DEPLOY_PROPERTIES)
    if tls_dir is None:
        props = {k: v for k, v in props.items()
                 if not k.startswith("ssl.") and not k.endswith(".ssl.client.auth")}
    else:
        props["ssl.keystore.location"] = str(tls_dir / "broker.pem")
        props["ssl.truststore.location"] = str(tls_dir / "ca.pem")
    if not secure:
        props = {k: v for k, v in props.items() if not k.startswith(SECURITY_KEYS)}
    else:
        props["super.users"] += ";User:ANONYMOUS"
    client_protocol = ("SASL_SSL" if tls_dir else "SASL_PLAINTEXT") if secure else "PLAINTEXT"
    client_host = "localhost" if tls_dir else host
    listeners = (f"INTERNAL://{host}:{ports.internal},CONTROLLER://{host}:{ports.controller},"
                 f"CLIENT://{host}:{ports.client}")
    advertised = f"INTERNAL://{host}:{ports.internal},CLIENT://{client_host}:{ports.client}"
    protocols = f"INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENT:{client_protocol}"
    if external_host is not None and ports.external is not None:
        external = f",EXTERNAL://{external_host}:{ports.external}"
        listeners, advertised = listeners + external, advertised + external
        protocols += f",EXTERNAL:{client_protocol}"
    props.update({
        "node.id": str(node_id),
        "controller.quorum.voters": quorum,
        "listeners": listeners,
        "advertised.listeners": advertised,
        "listener.security.protocol.map": protocols,
        "log.dirs": str(data_dir / "data"),
        # Tests and `hub dev` start consumer groups hundreds of times; the deployment's
        # 3 s wait for more members would be paid on each.
        "group.initial.rebalance.delay.ms": "0",
    })
    if nodes > 1:  # the fault tests kill nodes: the controller fences a silent one in 3 s,
        # not the deployment's 9 s, so its partitions' leadership moves that much sooner
        props.update({"broker.heartbeat.interval.ms": "500",
                      "broker.session.timeout.ms": "3000"})
    replicas = {key: min(int(props.get(key, "3")), nodes) for key in REPLICATION_KEYS}
    for key in MIN_ISR_KEYS:
        wanted = int(props.get(key, "2"))
        props[key] = str(max(1, min(wanted, nodes - 1 if nodes > 1 else 1)))
    props.update({k: str(v) for k, v in replicas.items()})
    return props


def write_properties(props: dict[str, str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by hub/brokers/kafka_config.py from deploy/kafka/server.properties"]
    lines += [f"{key}={value}" for key, value in props.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
