"""The table manager starts without Faust's fixed pause (hub/runtime/patches/table_start.py):
the hub defines every table when its agents are imported, before a worker starts."""

from __future__ import annotations

import asyncio

import pytest
from faust.tables.manager import TableManager

from hub.runtime.patches import table_start


class FakeRecovery:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    async def start(self) -> None:
        self.steps.append("recovery started")


class FakeManager:
    """What `TableManager.on_start` uses of itself."""

    def __init__(self, should_stop: bool = False) -> None:
        self.should_stop = should_stop
        self.steps: list[str] = []
        self.recovery = FakeRecovery(self.steps)

    async def sleep(self, seconds: float) -> None:
        self.steps.append(f"slept {seconds} s")

    async def _update_channels(self) -> None:
        self.steps.append("channels updated")


def start(manager: FakeManager, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(TableManager, "on_start", table_start._ORIGINAL)
    table_start.install()
    asyncio.run(TableManager.on_start(manager))  # type: ignore[arg-type]
    return manager.steps


def test_the_tables_are_finalized_and_recovered_without_a_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert start(FakeManager(), monkeypatch) == ["channels updated", "recovery started"]


def test_a_manager_stopped_before_it_started_does_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert start(FakeManager(should_stop=True), monkeypatch) == []

