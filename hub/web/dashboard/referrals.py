"""The referral board of the operators' page (issue 26), read from the referral flow's
tables (`referral-tasks`, `referral-pools`, hub.agents.referral) over the partitions this
worker owns, read only: per member, the referrals it sent and received by state with the
open ones listed, overdue first; the reserved pools and their fill; the office's
escalations; and the office's figures per month.

Everything but `referral_figures` is pure: the records, the pools, the clock and how a
task's deadline is read (the coordination machine's `due_at`) are passed in. The page is
the operators' and pseudonymous: a referral is shown by its number, its parties,
direction, priority, state and deadline; never a patient, not even the pseudonym. Texts
are rendered here in the hub's locale (Chinese by default), times in the consortium's
zone with their date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.agents import referral
from hub.rules.coordination import Task, due_at, shipped_flow
from hub.rules.referral.capacity import MINIMUM_RESERVED_SHARE, Pool
from hub.rules.referral.figures import CONSORTIUM_ZONE, PeriodFigures, office_figures
from hub.rules.referral.record import ReferralRecord
from hub.runtime.services import runtime
from schemas.reference.messages import Locale

JsonDict = dict[str, Any]
DueAt = Callable[[Task], datetime | None]
LISTED = 12  # rows per list; the counts cover all of them
SHORT_REF = 20  # characters of a referral number the page shows
OFFICE_LEVEL = 2  # an escalation this high has reached the consortium's office
FIGURE_PERIODS = 6  # the latest periods of the office's figures


def _say(locale: Locale, group: str, value: str) -> str:
    """The word for a code in `referral_view.<group>.<code>`, else the code."""
    try:
        return locale.say(f"referral_view.{group}.{value}")
    except KeyError:
        return value


def short_ref(record: ReferralRecord) -> str:
    """The referrer's own number, shortened to what fits a table cell."""
    ref = record.referral_ref
    return ref if len(ref) <= SHORT_REF else "…" + ref[-(SHORT_REF - 1):]


def time_left(seconds: float, locale: Locale) -> str:
    """'剩 3.5 小时' before the deadline, '逾期 20 分钟' after it."""
    span = abs(seconds)
    if span < 3600:
        amount = locale.say("dashboard.referral.minutes", n=max(1, round(span / 60)))
    elif span < 48 * 3600:
        amount = locale.say("dashboard.referral.hours", n=f"{span / 3600:.1f}")
    else:
        amount = locale.say("dashboard.referral.days", n=round(span / 86400))
    key = "dashboard.referral.overdue_by" if seconds < 0 else "dashboard.referral.left"
    return locale.say(key, span=amount)


def referral_row(record: ReferralRecord, member: str, now: datetime, due: datetime | None,
                 locale: Locale) -> JsonDict:
    """One referral as `member` sees it on the board: sent or received, with whom."""
    sent = record.referrer == member
    task = record.task
    left = None if due is None else round((due - now).total_seconds())
    return {
        "referral_id": record.referral_id,
        "referral": short_ref(record),
        "role": "sent" if sent else "received",
        "counterpart": record.receiver if sent else record.referrer,
        "direction": record.direction.value,
        "direction_name": _say(locale, "direction", record.direction.value),
        "priority": record.priority.value,
        "priority_name": _say(locale, "priority", record.priority.value),
        "status": task.status.value,
        "state": task.business_status,
        "state_name": _say(locale, "state", task.business_status),
        "due_at": None if due is None else due.isoformat(),
        "due": None if due is None else locale.time(due),
        "seconds_left": left,
        "left": None if left is None else time_left(left, locale),
        "overdue": left is not None and left < 0,
        "escalation_level": task.escalation_level,
        "since": task.since.isoformat(),
        "closed": record.is_closed,
    }


def _order(row: JsonDict) -> tuple[int, float, str]:
    """Overdue first (most overdue first), then the soonest due, then no deadline."""
    left = row["seconds_left"]
    return (0 if row["overdue"] else 1 if left is not None else 2,
            left if left is not None else 0.0, row["referral_id"])


def _by_state(rows: list[JsonDict]) -> list[JsonDict]:
    counts: dict[str, JsonDict] = {}
    for row in rows:
        entry = counts.setdefault(row["state"], {"state": row["state"],
                                                 "state_name": row["state_name"], "count": 0})
        entry["count"] += 1
    return sorted(counts.values(), key=lambda e: (-e["count"], e["state"]))


def member_section(member: str, records: Iterable[ReferralRecord], now: datetime,
                   due_at: DueAt, locale: Locale) -> JsonDict:
    """What one member's part of the board holds: only the referrals it is a party to,
    counted by state for what it sent and what it received; listed open ones first
    (overdue first, then the soonest due), then the last closed."""
    rows = [referral_row(r, member, now, due_at(r.task), locale) for r in records
            if member in (r.referrer, r.receiver)]
    sent = [row for row in rows if row["role"] == "sent"]
    received = [row for row in rows if row["role"] == "received"]
    still_open = sorted((row for row in rows if not row["closed"]), key=_order)
    closed = sorted((row for row in rows if row["closed"]),
                    key=lambda row: row["since"], reverse=True)
    return {
        "member": member,
        "sent": {"total": len(sent), "by_state": _by_state(sent)},
        "received": {"total": len(received), "by_state": _by_state(received)},
        "open_total": len(still_open),
        "overdue_total": sum(row["overdue"] for row in still_open),
        "rows": (still_open + closed)[:LISTED],
    }


def pool_row(pool: Pool, now: datetime, locale: Locale) -> JsonDict:
    """A reserved pool: its counts, fill (booked / reserved) and the 20% check."""
    share = pool.reserved_share
    return {
        "member": pool.owner, "pool_id": pool.pool_id, "resource": pool.resource.value,
        "resource_kind": _say(locale, "resource", pool.resource.value),
        "resource_code": pool.resource_code, "resource_name": pool.resource_name,
        "period": locale.say("dashboard.referral.period", start=pool.period_start,
                             end=pool.period_end),
        "current": pool.period_start <= now < pool.period_end,
        "total": pool.total, "reserved": pool.reserved, "booked": pool.booked,
        "free": pool.free, "fill_rate": round(pool.fill_rate, 4),
        "reserved_share": round(share, 4), "below_minimum": pool.below_minimum,
        "warning": locale.say("dashboard.referral.reserve_below", share=f"{share:.0%}",
                              minimum=f"{MINIMUM_RESERVED_SHARE:.0%}")
        if pool.below_minimum else None,
    }


def pool_rows(pools: Iterable[Pool], now: datetime, locale: Locale) -> list[JsonDict]:
    """Pools reserving too little first, then by member and period; past periods last."""
    ordered = sorted(pools, key=lambda p: (not p.below_minimum, p.period_end <= now, p.owner,
                                           p.period_start, p.pool_id))
    return [pool_row(pool, now, locale) for pool in ordered]


def escalation_rows(records: Iterable[ReferralRecord], now: datetime, due_at: DueAt,
                    locale: Locale) -> list[JsonDict]:
    """Open referrals escalated to the office (level 2), most overdue first."""
    rows = []
    for record in records:
        if record.is_closed or record.task.escalation_level < OFFICE_LEVEL:
            continue
        row = referral_row(record, record.receiver, now, due_at(record.task), locale)
        rows.append({**row, "referrer": record.referrer, "receiver": record.receiver})
    return sorted(rows, key=_order)


def figure_rows(figures: Iterable[PeriodFigures]) -> list[JsonDict]:
    """The office's figures of the latest periods, newest first, rates to four places."""
    rows = []
    for period in sorted(figures, key=lambda f: f.period, reverse=True)[:FIGURE_PERIODS]:
        row = period.as_dict()
        for rate in ("in_time_rate", "closed_loop_rate", "reserved_use"):
            row[rate] = None if row[rate] is None else round(row[rate], 4)
        rows.append(row)
    return rows


def referral_board(records: Iterable[ReferralRecord], pools: Iterable[Pool],
                   figures: Iterable[PeriodFigures], now: datetime, due_at: DueAt,
                   locale: Locale, members: Iterable[str]) -> JsonDict:
    """The whole board: a section per member with referrals (in the registry's order),
    the pools, the office's escalations and figures."""
    kept = list(records)
    parties = {m for r in kept for m in (r.referrer, r.receiver)}
    sections = [member_section(m, kept, now, due_at, locale) for m in members if m in parties]
    pooled = pool_rows(pools, now, locale)
    escalations = escalation_rows(kept, now, due_at, locale)
    return {
        "open_total": sum(not r.is_closed for r in kept),
        "overdue_total": sum(1 for r in kept if not r.is_closed
                             and (due := due_at(r.task)) is not None and due < now),
        "members": sections,
        "pools": pooled[:LISTED],
        "pools_total": len(pooled),
        "pools_below_minimum": sum(p["below_minimum"] for p in pooled),
        "escalations": escalations[:LISTED],
        "escalations_total": len(escalations),
        "figures": figure_rows(figures),
    }


def referral_figures(now: datetime) -> JsonDict:
    """The board over the referrals and pools this worker owns (none before its partitions
    are assigned)."""
    try:
        records, pools = referral.owned_records(), referral.owned_pools()
    except Exception:  # no assignment yet
        records, pools = [], []
    config = shipped_flow(referral.AGENT)
    zone = runtime.locale.zone
    figures = office_figures(records, pools, "month",
                             zone if isinstance(zone, ZoneInfo) else CONSORTIUM_ZONE)
    return referral_board(records, pools, figures, now, lambda task: due_at(config, task),
                          runtime.locale, runtime.registry.ids)
