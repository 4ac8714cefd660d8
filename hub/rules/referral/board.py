"""What the referral board shows (pure, no identity: referral ids, members, states): per
member the referrals it sent and received by state, its open referrals overdue first then
by deadline, and its reserved pools with their fill; with no member, the consortium's
(the office's view, its escalations first)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hub.rules.coordination import FlowConfig, due_at
from hub.rules.referral.capacity import Pool
from hub.rules.referral.record import ReferralRecord


@dataclass(frozen=True, slots=True)
class ReferralRow:
    referral_id: str
    referrer: str
    receiver: str
    direction: str
    kind: str
    priority: str
    status: str
    business_status: str
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    booking_starts_at: datetime | None


@dataclass(frozen=True, slots=True)
class PoolRow:
    owner: str
    pool_id: str
    resource: str
    resource_name: str
    period_start: datetime
    period_end: datetime
    total: int
    reserved: int
    booked: int
    free: int
    fill_rate: float
    below_minimum: bool


@dataclass
class Board:
    member: str | None
    sent: Counter[str] = field(default_factory=Counter)  # business status -> count
    received: Counter[str] = field(default_factory=Counter)
    open: list[ReferralRow] = field(default_factory=list)  # overdue first, then by due
    pools: list[PoolRow] = field(default_factory=list)


def row_of(record: ReferralRecord, config: FlowConfig, now: datetime) -> ReferralRow:
    due = due_at(config, record.task)
    return ReferralRow(
        referral_id=record.referral_id, referrer=record.referrer, receiver=record.receiver,
        direction=record.direction.value, kind=record.kind.value,
        priority=record.priority.value, status=record.task.status.value,
        business_status=record.task.business_status, due_at=due,
        overdue=due is not None and now >= due,
        escalation_level=record.task.escalation_level,
        booking_starts_at=record.booking.starts_at if record.booking else None,
    )


def pool_row(pool: Pool) -> PoolRow:
    return PoolRow(
        owner=pool.owner, pool_id=pool.pool_id, resource=pool.resource.value,
        resource_name=pool.resource_name, period_start=pool.period_start,
        period_end=pool.period_end, total=pool.total, reserved=pool.reserved,
        booked=pool.booked, free=pool.free, fill_rate=pool.fill_rate,
        below_minimum=pool.below_minimum,
    )


def board(member: str | None, records: Iterable[ReferralRecord], pools: Iterable[Pool],
          config: FlowConfig, now: datetime) -> Board:
    shown = Board(member)
    for record in records:
        sends = member in (None, record.referrer)
        receives = member in (None, record.receiver)
        if not (sends or receives):
            continue
        if sends:
            shown.sent[record.task.business_status] += 1
        if receives and member is not None:
            shown.received[record.task.business_status] += 1
        if not record.is_closed:
            shown.open.append(row_of(record, config, now))
    shown.open.sort(key=lambda row: (not row.overdue, -row.escalation_level,
                                     row.due_at or datetime.max.replace(tzinfo=now.tzinfo)))
    shown.pools = sorted((pool_row(p) for p in pools if member in (None, p.owner)),
                         key=lambda row: (row.owner, row.period_start, row.pool_id))
    return shown
