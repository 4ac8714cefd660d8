"""Faust's topic creation retried on an unreachable node
(hub/runtime/patches/topic_create_retry.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import NodeNotReadyError
from faust.transport.drivers.aiokafka import Transport

from hub.runtime.patches import topic_create_retry


class FakeClient:
    def __init__(self) -> None:
        self.refreshed = 0

    async def force_metadata_update(self) -> bool:
        self.refreshed += 1
        return True


class FakeOwner:
    should_stop = False


def create_topic() -> Any:
    """Faust's method as the worker calls it, on fakes."""
    return Transport._really_create_topic


def install_with(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    calls: list[str] = []

    async def create(self: Any, owner: Any, client: Any, topic: str, *args: Any,
                     **kwargs: Any) -> None:
        calls.append(topic)
        if len(calls) <= failures:
            raise NodeNotReadyError("Attempt to send a request to node which is not ready")

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(topic_create_retry, "_ORIGINAL", create)
    monkeypatch.setattr("asyncio.sleep", no_wait)
    monkeypatch.setattr(Transport, "_really_create_topic", Transport._really_create_topic)
    topic_create_retry.install()
    return calls


def test_a_dead_node_is_retried_with_fresh_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = install_with(monkeypatch, failures=2)
    client = FakeClient()
    asyncio.run(create_topic()(None, FakeOwner(), client, "t", 8, 3))
    assert calls == ["t", "t", "t"] and client.refreshed == 2


def test_it_gives_up_after_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    install_with(monkeypatch, failures=10**6)
    monkeypatch.setattr(topic_create_retry, "RETRY_FOR_S", 0.0)
    with pytest.raises(NodeNotReadyError):
        asyncio.run(create_topic()(None, FakeOwner(), FakeClient(), "t", 8, 3))
