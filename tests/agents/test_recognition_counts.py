"""The recognition counts through the agent's own path (hub.agents.recognition), with the
table writes recorded as a changelog would hold them: each order is counted once whatever
order its inputs come in, and across a crash between the count and the ledger entry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from hub.agents import recognition
from hub.agents.base import Meta
from hub.runtime import table_writes
from schemas.models import TestOrder
from schemas.topics import ORDERS
from tests.factories import patient
from tests.factories import test_order as make_order

PARTITION = 1
COUNTS = f"counts|chc-east|K|{PARTITION}"  # member|item|partition


class Killed(Exception):
    """The worker died here."""


class Changelog:
    """The order ledger's table writes, in the order they were stored; a crash can be set to
    happen after a given number of them (the writes after it are lost)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []
        self.crash_after: int | None = None

    async def put(self, table: Any, partition: int | None, key: str, value: Any) -> None:
        assert partition == PARTITION
        if self.crash_after is not None and len(self.records) >= self.crash_after:
            self.crash_after = None
            raise Killed
        table.data[key] = value
        self.records.append((key, value))

    def restart(self) -> None:
        """A new worker: the table is what the changelog replays."""
        recognition.order_ledger.data.clear()
        for key, value in self.records:
            recognition.order_ledger.data[key] = value
        recognition.counts_keys.clear()
        recognition.counts_keys.update(k for k, _ in self.records
                                       if k.startswith(recognition.COUNTS_PREFIX))


@pytest.fixture
def changelog(monkeypatch: pytest.MonkeyPatch) -> Iterator[Changelog]:
    log = Changelog()

    async def published(*args: Any) -> None:
        return None

    monkeypatch.setattr(table_writes, "put", log.put)
    monkeypatch.setattr(recognition, "publish", published)
    log.restart()
    yield log
    log.records.clear()
    log.restart()


def order(order_id: str, patient_key: str) -> TestOrder:
    return make_order("chc-east", order_id=order_id,
                      patient=patient().model_copy(update={"key": patient_key}))


def deliver(event: TestOrder, offset: int) -> None:
    async def handle() -> None:
        await recognition.on_order(event, Meta(ORDERS.name, PARTITION, offset, None, b""))

    asyncio.run(handle())


def orders_counted() -> int:
    counts: dict[str, Any] = recognition.order_ledger.get(COUNTS) or {}
    return int(counts.get("orders", 0))


def ledger_has(patient_key: str, order_id: str) -> bool:
    return f"chc-east|{order_id}" in (recognition.order_ledger.get(patient_key) or {})


def test_an_order_delivered_after_a_later_one_is_counted(changelog: Changelog) -> None:
    """After a restart a skipped message is delivered again once later ones ran
    (hub/runtime/patches/commit_repair.py): its count must not be taken as applied."""
    first, later = order("ORD-1", "aa01"), order("ORD-2", "bb02")
    deliver(later, 9)
    deliver(first, 5)
    assert orders_counted() == 2
    assert ledger_has("aa01", "ORD-1") and ledger_has("bb02", "ORD-2")


@pytest.mark.parametrize("again_at", [5, 12], ids=["same-message", "intake-copy"])
def test_a_crash_between_count_and_ledger_counts_the_order_once(
    changelog: Changelog, again_at: int,
) -> None:
    first = order("ORD-1", "aa01")
    changelog.crash_after = 1  # the count is stored, the ledger entry is not
    with pytest.raises(Killed):
        deliver(first, 5)
    changelog.restart()
    assert orders_counted() == 1 and not ledger_has("aa01", "ORD-1")
    deliver(first, again_at)
    assert orders_counted() == 1 and ledger_has("aa01", "ORD-1")


def test_a_crash_then_later_orders_first_still_counts_each_once(
    changelog: Changelog,
) -> None:
    first, later = order("ORD-1", "aa01"), order("ORD-2", "bb02")
    changelog.crash_after = 1
    with pytest.raises(Killed):
        deliver(first, 5)
    changelog.restart()
    deliver(later, 9)  # the restart skipped offset 5, delivered again below
    deliver(first, 5)
    deliver(first, 5)  # and once more: a plain redelivery
    assert orders_counted() == 2
    assert ledger_has("aa01", "ORD-1") and ledger_has("bb02", "ORD-2")
