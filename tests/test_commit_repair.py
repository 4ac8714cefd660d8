"""When a partition's commits are stuck behind a stale belief, and only then, the repair
moves the belief up to what the broker already holds; when they are stuck behind a hole
that stays, it delivers again from the committed offset."""

from __future__ import annotations

from hub.commit_repair import redeliver_from, repaired, stalled


def test_a_partition_is_stalled_only_when_its_acks_start_past_the_belief() -> None:
    assert stalled([285, 286], 273)
    assert not stalled([285, 286], 285) and not stalled([285, 286], 284)
    assert not stalled([], 273) and not stalled([285], None)


def test_the_belief_moves_up_to_the_broker_when_that_reaches_the_first_ack() -> None:
    assert repaired([285, 286], 273, 285) == 285
    assert repaired([285, 286], 273, 284) == 284


def test_a_real_gap_is_left_alone() -> None:
    assert repaired([285, 286], 273, 280) is None  # 280..284 still to be acked
    assert repaired([285, 286], 273, None) is None
    assert repaired([285, 286], 273, 270) is None  # never moves backwards


def test_a_hole_that_stays_is_delivered_again_from_the_committed_offset() -> None:
    assert redeliver_from([290, 291], 285, 285, None) is None  # first sight: maybe in flight
    assert redeliver_from([290, 291], 285, 285, (285, 290)) == 285
    assert redeliver_from([292], 285, 285, (285, 290)) is None  # it moved: still working
    assert redeliver_from([290, 291], 285, 280, (285, 290)) is None  # broker disagrees
