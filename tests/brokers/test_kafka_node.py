"""How a Kafka node is prepared, without starting one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from hub.brokers import kafka


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
