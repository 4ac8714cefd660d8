"""The referral board of the operators' page (issue 26), read from the referral flow's
tables (`referral-tasks`, `referral-pools`, hub.agents.referral) over the partitions this
worker owns, read only: per member, the referrals it sent and received by state with the
open ones listed, overdue first; the reserved pools and their fill; the office's
escalations; and the office's figures per month.

Which referrals and pools each member sees, and in which order, is the flow's
(hub.rules.referral.board); this module puts words and Beijing times on it. Everything but
`referral_figures` is pure: records, pools, the flow's configuration and the clock are
passed in. The page is the operators' and pseudonymous: a referral is shown by its number,
its parties, direction, priority, state and deadline; never a patient, not even the
pseudonym. Texts are in the hub's locale (Chinese by default), times in the consortium's
zone with their date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.agents import referral
from hub.rules.coordination import FlowConfig, shipped_flow
from hub.rules.referral.board import PoolRow, ReferralRow, board, row_of
from hub.rules.referral.capacity import MINIMUM_RESERVED_SHARE, Pool
from hub.rules.referral.figures import CONSORTIUM_ZONE, PeriodFigures, office_figures
from hub.rules.referral.record import ReferralRecord
from hub.runtime.services import runtime
from schemas.reference.messages import Locale

JsonDict = dict[str, Any]
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


def short_ref(referral_id: str) -> str:
    """The referrer's own number, shortened to what fits a table cell."""
    ref = referral_id.split(":", 1)[-1]
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


def referral_row(row: ReferralRow, member: str, now: datetime, locale: Locale) -> JsonDict:
    """One referral as `member` sees it on the board: sent or received, with whom."""
    sent = row.referrer == member
    due = row.due_at
    left = None if due is None else round((due - now).total_seconds())
    return {
        "referral_id": row.referral_id,
        "referral": short_ref(row.referral_id),
        "role": "sent" if sent else "received",
        "counterpart": row.receiver if sent else row.referrer,
        "referrer": row.referrer,
        "receiver": row.receiver,
        "direction": row.direction,
        "direction_name": _say(locale, "direction", row.direction),
        "priority": row.priority,
        "priority_name": _say(locale, "priority", row.priority),
        "status": row.status,
        "state": row.business_status,
        "state_name": _say(locale, "state", row.business_status),
        "due_at": None if due is None else due.isoformat(),
        "due": None if due is None else locale.time(due),
        "seconds_left": left,
        "left": None if left is None else time_left(left, locale),
        "overdue": row.overdue,
        "escalation_level": row.escalation_level,
        "booked_for": None if row.booking_starts_at is None
        else locale.time(row.booking_starts_at),
    }


def _by_state(counts: Counter[str], locale: Locale) -> JsonDict:
    return {"total": sum(counts.values()),
            "by_state": [{"state": state, "state_name": _say(locale, "state", state),
                          "count": count}
                         for state, count in sorted(counts.items(),
                                                    key=lambda kv: (-kv[1], kv[0]))]}


def _last_closed(member: str, records: Iterable[ReferralRecord], config: FlowConfig,
                 now: datetime) -> list[ReferralRow]:
    closed = sorted((r for r in records if r.is_closed and member in (r.referrer, r.receiver)),
                    key=lambda r: r.closed_at or r.task.since, reverse=True)
    return [row_of(r, config, now) for r in closed[:LISTED]]


def member_section(member: str, records: Iterable[ReferralRecord], config: FlowConfig,
                   now: datetime, locale: Locale) -> JsonDict:
    """One member's part: only the referrals it is a party to, counted by state for what
    it sent and what it received; listed open ones first (overdue first), then the last
    closed ones (so a loop just closed stays in sight)."""
    kept = list(records)
    shown = board(member, kept, (), config, now)
    rows = [{**referral_row(row, member, now, locale), "closed": False} for row in shown.open]
    rows += [{**referral_row(row, member, now, locale), "closed": True}
             for row in _last_closed(member, kept, config, now)]
    return {
        "member": member,
        "sent": _by_state(shown.sent, locale),
        "received": _by_state(shown.received, locale),
        "open_total": len(shown.open),
        "overdue_total": sum(row.overdue for row in shown.open),
        "rows": rows[:LISTED],
    }


def pool_row(pool: PoolRow, now: datetime, locale: Locale) -> JsonDict:
    """A reserved pool: its counts, fill (booked / reserved) and the 20% check."""
    share = pool.reserved / pool.total if pool.total else 0.0
    return {
        "member": pool.owner, "pool_id": pool.pool_id, "resource": pool.resource,
        "resource_kind": _say(locale, "resource", pool.resource),
        "resource_name": pool.resource_name,
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
                   figures: Iterable[PeriodFigures], config: FlowConfig, now: datetime,
                   locale: Locale, members: Iterable[str]) -> JsonDict:
    """The whole board: a section per member with referrals (in the registry's order);
    the office's view: its escalations (level 2, open), every pool (those reserving under
    20% first, past periods last) and its figures."""
    kept = list(records)
    parties = {m for r in kept for m in (r.referrer, r.receiver)}
    office = board(None, kept, pools, config, now)
    escalations = [referral_row(row, row.receiver, now, locale) for row in office.open
                   if row.escalation_level >= OFFICE_LEVEL]
    pooled = sorted(office.pools, key=lambda p: (not p.below_minimum, p.period_end <= now))
    return {
        "open_total": len(office.open),
        "overdue_total": sum(row.overdue for row in office.open),
        "members": [member_section(m, kept, config, now, locale) for m in members
                    if m in parties],
        "pools": [pool_row(p, now, locale) for p in pooled[:LISTED]],
        "pools_total": len(pooled),
        "pools_below_minimum": sum(p.below_minimum for p in pooled),
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
    zone = runtime.locale.zone
    figures = office_figures(records, pools, "month",
                             zone if isinstance(zone, ZoneInfo) else CONSORTIUM_ZONE)
    return referral_board(records, pools, figures, shipped_flow(referral.AGENT), now,
                          runtime.locale, runtime.registry.ids)
