"""A partition's records reach the agents in offset order from wherever it was sought to:
a record past the next offset due is held back, the partition is sought back, and the
skipped records come first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.types import TP

from hub.runtime.patches import fetch_order
from hub.runtime.patches.fetch_order import SEEKS_BACK_BEFORE_PASSING, PartitionOrder, order_of

ORDERS = TP("hub.orders", 4)
STOCK = TP("hub.stock", 3)
CHANGELOG = TP("hub-table-changelog", 4)


class FakeConsumer:
    """What the wrapped methods touch: the fetched batch, seeks, and which topics ack."""

    def __init__(self) -> None:
        self.batch: list[tuple[TP, int]] = []
        self.seeks: list[tuple[TP, int]] = []
        self.committed: dict[TP, int | None] = {}
        self.app = SimpleNamespace(topics=SimpleNamespace(
            acks_enabled_for=lambda topic: not topic.endswith("-changelog")))

    async def _seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


async def fetched(consumer: FakeConsumer, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
    for tp, offset in consumer.batch:
        yield tp, SimpleNamespace(topic=tp.topic, offset=offset)


async def faust_seek(consumer: FakeConsumer, tp: TP, offset: int) -> None:
    await consumer._seek(tp, offset)


async def faust_seek_to_committed(consumer: FakeConsumer) -> dict[TP, int | None]:
    return consumer.committed


@pytest.fixture()
def consumer(monkeypatch: pytest.MonkeyPatch) -> FakeConsumer:
    monkeypatch.setattr(fetch_order, "_ORIGINAL_GETMANY", fetched)
    monkeypatch.setattr(fetch_order, "_ORIGINAL_SEEK", faust_seek)
    monkeypatch.setattr(fetch_order, "_ORIGINAL_SEEK_TO_COMMITTED", faust_seek_to_committed)
    fetch_order.install()
    return FakeConsumer()


def handed_over(consumer: FakeConsumer, batch: Iterable[tuple[TP, int]]) -> list[tuple[TP, int]]:
    consumer.batch = list(batch)

    async def drain() -> list[tuple[TP, int]]:
        return [(tp, m.offset) async for tp, m in Consumer.getmany(consumer, 1.0)]  # type: ignore[arg-type]

    return asyncio.run(drain())


def test_records_in_order_are_handed_over_as_fetched(consumer: FakeConsumer) -> None:
    batch = [(ORDERS, 44), (STOCK, 56), (ORDERS, 45), (STOCK, 57)]
    assert handed_over(consumer, batch) == batch
    assert order_of(consumer).expected == {ORDERS: 46, STOCK: 58} and not consumer.seeks


def test_a_partition_fetched_past_its_sought_offset_is_sought_back(
    consumer: FakeConsumer,
) -> None:
    asyncio.run(Consumer.seek(consumer, ORDERS, 44))  # type: ignore[arg-type]
    assert handed_over(consumer, [(ORDERS, 46), (STOCK, 56), (ORDERS, 47)]) == [(STOCK, 56)]
    assert consumer.seeks == [(ORDERS, 44), (ORDERS, 44)]  # Faust's seek, then the one back
    again = [(ORDERS, 44), (ORDERS, 45), (ORDERS, 46), (ORDERS, 47)]
    assert handed_over(consumer, again) == again


def test_every_seek_to_committed_offsets_sets_what_is_due(consumer: FakeConsumer) -> None:
    order_of(consumer).expected[STOCK] = 90
    consumer.committed = {ORDERS: 29, STOCK: None}
    asyncio.run(ThreadDelegateConsumer.seek_to_committed(consumer))  # type: ignore[arg-type]
    assert order_of(consumer).expected == {ORDERS: 29}  # no committed offset: no rule
    assert handed_over(consumer, [(ORDERS, 31), (STOCK, 7)]) == [(STOCK, 7)]
    assert consumer.seeks == [(ORDERS, 29)]


def test_a_seek_back_that_fails_holds_the_partition_and_stops_nothing(
    consumer: FakeConsumer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def not_assigned(tp: TP, offset: int) -> None:
        raise RuntimeError("partition not assigned")

    monkeypatch.setattr(consumer, "_seek", not_assigned)
    order_of(consumer).sought(ORDERS, 44)
    assert handed_over(consumer, [(ORDERS, 46), (STOCK, 56)]) == [(STOCK, 56)]
    assert order_of(consumer).expected[ORDERS] == 44  # tried again at the next fetch


def test_records_behind_and_changelogs_are_left_to_faust(consumer: FakeConsumer) -> None:
    order_of(consumer).sought(ORDERS, 50)
    order_of(consumer).sought(CHANGELOG, 10)
    assert handed_over(consumer, [(ORDERS, 48), (CHANGELOG, 20)]) == [
        (ORDERS, 48), (CHANGELOG, 20)]
    assert order_of(consumer).expected[ORDERS] == 50 and not consumer.seeks


def test_offsets_that_stay_unfetchable_are_passed_over_after_a_few_seeks() -> None:
    order = PartitionOrder()
    order.sought(STOCK, 56)  # 56..59 deleted by retention: the fetch starts at 60
    assert [order.seek_back_to(STOCK, 60) for _ in range(SEEKS_BACK_BEFORE_PASSING)] == [
        56] * SEEKS_BACK_BEFORE_PASSING
    assert order.seek_back_to(STOCK, 60) is None
    order.handed_over(STOCK, 60)
    assert order.expected[STOCK] == 61 and order.seek_back_to(STOCK, 61) is None
    order.sought(STOCK, 56)
    assert order.seek_back_to(STOCK, 60) == 56  # a new seek counts afresh
