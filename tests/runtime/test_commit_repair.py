"""When a partition's commits are held back behind a stale belief, the repair moves the
belief up to what the broker already holds (or to the partition's first offset, when
retention deleted what lies below); when they are held back behind a hole that stays, it
delivers again from the committed offset; when messages wait and none is fetched, it
seeks the partition to its committed offset again."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from faust.types import TP

from hub.runtime.patches import commit_repair
from hub.runtime.patches.commit_repair import redeliver_from, repaired, undelivered_from


def test_the_belief_moves_up_to_the_broker_when_that_is_further_on() -> None:
    assert repaired(273, 285) == 285
    assert repaired(273, 280) == 280  # 280..284 still to be acked: held back from there


def test_the_belief_never_moves_back_nor_without_a_reason() -> None:
    assert repaired(273, None) is None
    assert repaired(273, 270) is None
    assert repaired(273, 273) is None


def test_offsets_deleted_by_retention_are_passed() -> None:
    assert repaired(273, 273, log_start=300) == 300
    assert repaired(273, 290, log_start=280) == 290
    assert repaired(273, None, log_start=250) is None


def test_a_hole_that_stays_is_delivered_again_from_the_committed_offset() -> None:
    assert redeliver_from([290, 291], 285, 285, None) is None  # first sight: maybe in flight
    assert redeliver_from([290, 291], 285, 285, (285, 290)) == 285
    assert redeliver_from([292], 285, 285, (285, 290)) is None  # it moved: still working
    assert redeliver_from([290, 291], 285, 280, (285, 290)) is None  # broker disagrees
    assert redeliver_from([286], 285, 285, (285, 286)) == 285  # a hole of one message


def test_a_partition_with_messages_waiting_and_none_read_is_sought_again() -> None:
    assert undelivered_from(48, 59, 48, None) is None  # first sight: maybe on its way
    assert undelivered_from(48, 59, 48, (48, 48)) == 48
    assert undelivered_from(48, 59, None, (48, None)) == 48


def test_a_partition_being_read_or_caught_up_is_left_alone() -> None:
    assert undelivered_from(48, 59, 52, (48, 52)) is None  # read on: its messages are queued
    assert undelivered_from(48, 48, 48, (48, 48)) is None  # nothing waiting
    assert undelivered_from(48, None, 48, (48, 48)) is None  # end offset unknown
    assert undelivered_from(50, 59, 50, (48, 48)) is None  # it moved since the last check


def test_a_check_that_fails_is_logged_and_tried_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """An error would end the timer for good (the broker away, say)."""
    calls: list[int] = []

    async def broker_away() -> None:
        calls.append(1)
        raise KafkaConnectionError("Connection refused")

    monkeypatch.setattr(commit_repair, "check_commits", broker_away)
    asyncio.run(commit_repair.repair_stalled_commits())
    asyncio.run(commit_repair.repair_stalled_commits())
    assert len(calls) == 2
    assert "commits failed (KafkaConnectionError" in caplog.text


class FakeConsumer:
    """What the check reads of Faust's consumer; seeks are recorded, the broker's end
    offset is `end` everywhere."""

    def __init__(self, assigned: set[TP], end: int, **state: dict[TP, Any]) -> None:
        self.assigned, self.end = assigned, end
        self._thread = object()
        self._acked: dict[TP, list[int]] = state.get("acked", {})
        self._committed_offset: dict[TP, int] = state.get("committed", {})
        self._read_offset: dict[TP, int] = state.get("read", {})
        self.seeks: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return self.assigned

    async def seek(self, partition: TP, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def highwaters(self, *partitions: TP) -> dict[TP, int]:
        return {p: self.end for p in partitions}


def checked_by(monkeypatch: pytest.MonkeyPatch, consumer: FakeConsumer) -> None:
    """The repair's next checks look at `consumer`, from a clean slate."""
    monkeypatch.setattr(commit_repair, "app", SimpleNamespace(
        consumer=consumer, rebalancing=False,
        topics=SimpleNamespace(acks_enabled_for=lambda topic: True)))
    for name, empty in (("_holes_seen", {}), ("_idle_seen", {}), ("_reads_seen", [])):
        monkeypatch.setattr(commit_repair, name, empty)


def test_a_commit_made_while_the_check_awaits_the_broker_is_taken_as_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust's commit shortens the partition's acked list (here: to nothing) and moves its
    belief while the check asks the broker; the check must neither fail nor seek."""
    tp = TP("hub.stock", 3)
    consumer = FakeConsumer({tp}, 60, acked={tp: [57, 58]}, committed={tp: 56},
                            read={tp: 58})

    async def committed_meanwhile(consumer_: object, partition: TP) -> tuple[int, int]:
        consumer._acked[tp].clear()
        consumer._committed_offset[tp] = 59
        return 56, 0

    checked_by(monkeypatch, consumer)
    monkeypatch.setattr(commit_repair, "broker_offsets", committed_meanwhile)
    commit_repair._holes_seen[tp] = (56, 57)  # seen last time: a seek would be due
    asyncio.run(commit_repair.check_commits())
    assert consumer.seeks == []


def test_an_unread_partition_is_fetched_again_only_once_the_worker_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker draining a backlog leaves some partitions unread for a while: that is not
    a stuck partition. Once nothing else is read either, it is."""
    stuck, busy = TP("hub.orders", 2), TP("hub.results", 0)
    consumer = FakeConsumer({stuck, busy}, 135, read={busy: 10})
    checked_by(monkeypatch, consumer)
    asyncio.run(commit_repair.check_commits())  # first sight
    consumer._read_offset[busy] = 20
    asyncio.run(commit_repair.check_commits())  # the worker reads on: busy, not stuck
    assert consumer.seeks == []
    asyncio.run(commit_repair.check_commits())  # nothing read anywhere since
    assert consumer.seeks == [(stuck, 0)]


def test_the_first_messages_of_a_partition_with_nothing_committed_are_delivered_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restarted worker's fetch skipped offsets 0..2 of a partition nobody had committed
    on (Faust believes None): the hole is delivered again from 0, as for any hole."""
    tp = TP("hub.orders", 2)
    consumer = FakeConsumer({tp}, 9, acked={tp: [3, 4, 5]}, read={tp: 6})

    async def nothing_committed(consumer_: object, partition: TP) -> tuple[None, int]:
        return None, 0

    checked_by(monkeypatch, consumer)
    monkeypatch.setattr(commit_repair, "broker_offsets", nothing_committed)
    asyncio.run(commit_repair.check_commits())
    assert consumer.seeks == []  # a hole seen once may still fill in
    asyncio.run(commit_repair.check_commits())
    assert consumer.seeks == [(tp, 0)]


def test_with_nothing_committed_a_start_deleted_by_retention_is_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = TP("in.lead", 0)
    consumer = FakeConsumer({tp}, 900, acked={tp: [700, 701]}, read={tp: 702})

    async def retention_deleted(consumer_: object, partition: TP) -> tuple[None, int]:
        return None, 700

    checked_by(monkeypatch, consumer)
    monkeypatch.setattr(commit_repair, "broker_offsets", retention_deleted)
    asyncio.run(commit_repair.check_commits())
    assert consumer._committed_offset[tp] == 700 and consumer.seeks == []
