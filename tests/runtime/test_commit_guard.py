"""Faust's consumer, with the guard installed, never commits over a message no agent
acked: not one left at the committed offset, not offsets its fetch loop jumped over."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from hub import metrics
from hub.runtime.patches import commit_guard

PARTITION = TP("in.lead", 1)


def consumer_state(acked: list[int], committed: int | None) -> Any:
    """The part of a Faust consumer its commit rule reads."""
    return SimpleNamespace(
        _acked={PARTITION: list(acked)}, _acked_index={PARTITION: set(acked)},
        _gap=defaultdict(IntervalTree), _committed_offset={PARTITION: committed})


def jumps() -> float:
    value = metrics.REGISTRY.get_sample_value("hub_fetch_jumps_total",
                                              {"topic": PARTITION.topic})
    return value or 0.0


@pytest.fixture()
def faust_as_shipped() -> Any:
    guarded = Consumer._new_offset, Consumer._add_gap
    Consumer._new_offset = commit_guard._ORIGINAL_NEW_OFFSET  # type: ignore[method-assign]
    Consumer._add_gap = commit_guard._ORIGINAL_ADD_GAP  # type: ignore[method-assign]
    yield Consumer
    Consumer._new_offset, Consumer._add_gap = guarded  # type: ignore[method-assign]


def test_held_back_while_the_committed_offset_is_not_acked() -> None:
    assert commit_guard.held_back([285, 286], 284)  # one message at 284 never acked
    assert commit_guard.held_back([290], 284)
    assert not commit_guard.held_back([284, 285], 284)
    assert not commit_guard.held_back([285, 286], 285)
    assert not commit_guard.held_back([], 284) and not commit_guard.held_back([], None)


def test_with_nothing_committed_the_partition_start_is_due() -> None:
    # Faust believes None for "nothing committed" and for 0: the first messages a
    # restarted fetch skipped must not be committed over
    assert commit_guard.held_back([3, 4], None)
    assert not commit_guard.held_back([0, 1], None)


def test_faust_as_shipped_commits_over_one_unacked_message(faust_as_shipped: Any) -> None:
    """Why the guard exists: committed 284 (the next to process), 284 never acked."""
    assert faust_as_shipped._new_offset(consumer_state([285, 286], 284), PARTITION) == 287


def test_the_guard_holds_the_partition_back_until_the_message_is_acked() -> None:
    commit_guard.install()
    state = consumer_state([285, 286], 284)
    assert Consumer._new_offset(state, PARTITION) is None
    state._acked[PARTITION].append(284)
    assert Consumer._new_offset(state, PARTITION) == 287


def test_the_guard_leaves_ordinary_commits_alone() -> None:
    commit_guard.install()
    assert Consumer._new_offset(consumer_state([284, 285, 287], 284), PARTITION) == 286
    assert Consumer._new_offset(consumer_state([0, 1], None), PARTITION) == 2
    assert Consumer._new_offset(consumer_state([], 284), PARTITION) is None


def test_offsets_the_fetch_loop_jumped_over_are_not_counted_as_acked(
    faust_as_shipped: Any,
) -> None:
    as_shipped = consumer_state([290], 284)
    asyncio.run(faust_as_shipped._add_gap(as_shipped, PARTITION, 285, 289))
    assert faust_as_shipped._new_offset(as_shipped, PARTITION) == 291  # 284..289 passed

    commit_guard.install()
    before = jumps()
    guarded = consumer_state([290], 284)
    asyncio.run(Consumer._add_gap(guarded, PARTITION, 285, 289))
    assert not guarded._gap[PARTITION] and jumps() == before + 1
    assert Consumer._new_offset(guarded, PARTITION) is None
