"""The office's referral figures per period (a calendar month or day in the consortium's
zone): upward and downward referrals by arrival (not by request: a referral counts where
the patient arrived), answers in time out of the answers given, the closed loop of downward
referrals (followed up / arrived) and the use of reserved places (booked / reserved) of the
pools whose period starts in it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hub.rules.referral.capacity import Pool
from hub.rules.referral.record import ReferralRecord
from schemas.models.referral import ReferralDirection

CONSORTIUM_ZONE = ZoneInfo("Asia/Shanghai")
Period = Literal["month", "day"]


def period_of(moment: datetime, by: Period = "month", zone: ZoneInfo = CONSORTIUM_ZONE) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m}" if by == "month" else f"{local:%Y-%m-%d}"


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class PeriodFigures:
    period: str
    upward_arrived: int = 0
    downward_arrived: int = 0
    lateral_arrived: int = 0
    answered: int = 0
    answered_in_time: int = 0
    downward_followed_up: int = 0  # of the downward referrals that arrived in the period
    reserved: int = 0
    booked: int = 0

    @property
    def in_time_rate(self) -> float | None:
        return _rate(self.answered_in_time, self.answered)

    @property
    def closed_loop_rate(self) -> float | None:
        return _rate(self.downward_followed_up, self.downward_arrived)

    @property
    def reserved_use(self) -> float | None:
        return _rate(self.booked, self.reserved)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "in_time_rate": self.in_time_rate,
                "closed_loop_rate": self.closed_loop_rate, "reserved_use": self.reserved_use}


def office_figures(records: Iterable[ReferralRecord], pools: Iterable[Pool],
                   by: Period = "month", zone: ZoneInfo = CONSORTIUM_ZONE,
                   ) -> list[PeriodFigures]:
    rows: dict[str, PeriodFigures] = {}

    def row(moment: datetime) -> PeriodFigures:
        key = period_of(moment, by, zone)
        return rows.setdefault(key, PeriodFigures(key))

    for record in records:
        if record.arrived_at is not None:
            arrived = row(record.arrived_at)
            if record.direction is ReferralDirection.UP:
                arrived.upward_arrived += 1
            elif record.direction is ReferralDirection.DOWN:
                arrived.downward_arrived += 1
                arrived.downward_followed_up += record.followed_up_at is not None
            else:
                arrived.lateral_arrived += 1
        if record.answered_at is not None:
            answered = row(record.answered_at)
            answered.answered += 1
            due = record.answer_due_at
            answered.answered_in_time += due is None or record.answered_at <= due
    for pool in pools:
        used = row(pool.period_start)
        used.reserved += pool.reserved
        used.booked += pool.booked
    return [rows[key] for key in sorted(rows)]
