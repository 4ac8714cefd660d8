"""The office's figures: referrals counted by arrival in the consortium's zone (a Beijing
morning that is still yesterday in UTC counts today), answers in time out of answers, the
downward closed loop (followed up / arrived) and reserved-slot use (booked / reserved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.rules.coordination import Task
from hub.rules.referral.capacity import book, publish
from hub.rules.referral.figures import office_figures, period_of
from hub.rules.referral.record import ReferralRecord
from schemas.models.clinical import OrderPriority
from schemas.models.coordination import TaskStatus
from schemas.models.referral import Booking, ReferralDirection, ReferralKind
from tests.factories import capacity_pool

NOV_30_BEIJING = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 2026-12-01 01:00 in Beijing
DEC = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def record(ref: str, direction: ReferralDirection, **times: datetime | None) -> ReferralRecord:
    task = Task(task_id=f"x:{ref}", requester="x", performer="y", priority="ROUTINE",
                status=TaskStatus.IN_PROGRESS, business_status="arrived", since=DEC,
                opened_at=DEC)
    return ReferralRecord(task=task, referral_ref=ref, direction=direction,
                          kind=ReferralKind.OUTPATIENT, priority=OrderPriority.ROUTINE,
                          pseudonym="p", sealed_patient="s", request_event_id=ref,
                          fingerprint=ref, request={}, **times)  # type: ignore[arg-type]


def test_periods_are_counted_in_beijing_time() -> None:
    assert period_of(NOV_30_BEIJING) == "2026-12"
    assert period_of(NOV_30_BEIJING, "day") == "2026-12-01"


def test_figures_by_arrival_answers_closed_loop_and_reserved_use() -> None:
    due = DEC + timedelta(hours=24)
    records = [
        record("u1", ReferralDirection.UP, arrived_at=NOV_30_BEIJING, answered_at=DEC,
               answer_due_at=due),
        record("u2", ReferralDirection.UP, answered_at=due + timedelta(minutes=1),
               answer_due_at=due),  # answered late, never arrived
        record("d1", ReferralDirection.DOWN, arrived_at=DEC, followed_up_at=DEC),
        record("d2", ReferralDirection.DOWN, arrived_at=DEC),
    ]
    pool = publish(None, capacity_pool("lead", "beds", total=40, reserved=8, at=DEC))
    pool, _ = book(pool, "lead", Booking(pool_id="beds"), "x:u1")
    pool, _ = book(pool, "lead", Booking(pool_id="beds"), "x:d1")
    [dec] = office_figures(records, [pool])
    assert (dec.period, dec.upward_arrived, dec.downward_arrived) == ("2026-12", 1, 2)
    assert (dec.answered, dec.answered_in_time, dec.in_time_rate) == (2, 1, 0.5)
    assert dec.closed_loop_rate == 0.5 and dec.reserved_use == 0.25
    assert dec.as_dict()["closed_loop_rate"] == 0.5
