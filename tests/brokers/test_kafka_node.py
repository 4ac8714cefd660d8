"""How a Kafka node is prepared, without starting one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.brokers import kafka
from hub.brokers.kafka_config import NodePorts, node_properties


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 encodes to "-" first in URL-safe base64: the id the storage tool would
    # read as an option. The next draw is an ordinary one.
    draws: Iterator[uuid.UUID] = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)),
                                       uuid.UUID(bytes=b"\x10" + bytes(15))])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))

    cluster_id = kafka.new_cluster_id()

    assert cluster_id == "EAAAAAAAAAAAAAAAAAAAAA"
    assert len(cluster_id) == 22


def test_cluster_ids_are_fresh_each_time() -> None:
    ids = {kafka.new_cluster_id() for _ in range(2000)}

    assert len(ids) == 2000
    assert not any(cluster_id.startswith("-") for cluster_id in ids)


def test_a_secured_node_keeps_the_deployments_external_listener_on_another_address(
    tmp_path: Path,
) -> None:
    """Member sites' EXTERNAL listener, bound and advertised on 127.0.0.2 (the outside's
    stand-in), with the CLIENT listener's SASL protocol and the deployment's mechanism."""
    ports = NodePorts(client=9094, internal=9092, controller=9093, external=19094)
    props = node_properties(1, ports, "1@127.0.0.1:9093", tmp_path, nodes=1, secure=True,
                            tls_dir=tmp_path, external_host="127.0.0.2")

    assert props["listeners"].endswith(",EXTERNAL://127.0.0.2:19094")
    assert props["advertised.listeners"] == (
        "INTERNAL://127.0.0.1:9092,CLIENT://localhost:9094,EXTERNAL://127.0.0.2:19094")
    assert props["listener.security.protocol.map"].endswith(
        "CLIENT:SASL_SSL,EXTERNAL:SASL_SSL")
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"


def test_a_node_without_an_external_host_has_no_external_listener(tmp_path: Path) -> None:
    ports = NodePorts(client=9094, internal=9092, controller=9093)
    props = node_properties(1, ports, "1@127.0.0.1:9093", tmp_path, nodes=1)

    assert "EXTERNAL" not in props["listeners"] + props["advertised.listeners"]
    assert not any(key.startswith("listener.name.external.") for key in props)
