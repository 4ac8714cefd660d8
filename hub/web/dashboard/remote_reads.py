"""The reading centres' board of the operators' page (issue 27), read from the remote
diagnosis tables (`remote-read-tasks`, `critical-values`, hub.agents.remote_read) over the
partitions this worker owns, read only: per member its worklist (what it reads and what it
sent to be read: emergency first, then by deadline), its open critical values, and the
figures (remote diagnoses per centre, report time compliance, critical values closed in
time).

Which rows each member sees and in which order is the flow's (hub.rules.remote_read.board);
this module puts words and Beijing times on them. Everything but `remote_read_figures` is
pure. No patient: a request is shown by its accession, members, modality and state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.agents import remote_read
from hub.rules.coordination import FlowConfig, shipped_flow
from hub.rules.referral.figures import CONSORTIUM_ZONE
from hub.rules.remote_read.board import CriticalRow, ReadRow, criticals_in_time, read_board
from hub.rules.remote_read.critical import CriticalRecord
from hub.rules.remote_read.figures import compliance, diagnoses_per_centre
from hub.rules.remote_read.record import ReadRecord
from hub.runtime.app import app
from hub.runtime.services import runtime
from hub.web.dashboard.referrals import short_ref, time_left
from schemas import topics
from schemas.reference.messages import Locale

JsonDict = dict[str, Any]
LISTED = 12  # rows per list; the counts cover all of them


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def read_row(row: ReadRow, member: str, now: datetime, locale: Locale) -> JsonDict:
    """One request as `member` sees it: one it reads, or one it sent to be read."""
    due = row.due_at
    left = None if due is None else round((due - now).total_seconds())
    return {
        "request_id": row.request_id, "request": short_ref(row.request_id),
        "role": "reading" if row.reading == member else "examining",
        "examining": row.examining, "reading": row.reading,
        "modality": row.modality,
        "modality_name": locale.label(f"remote_read.modality.{row.modality}"),
        "priority": row.priority,
        "priority_name": locale.label(f"remote_read.priority.{row.priority}"),
        "state": row.business_status,
        "state_name": locale.label(f"remote_read_view.state.{row.business_status}"),
        "claimant": row.claimant,
        "due_at": None if due is None else due.isoformat(),
        "due": None if due is None else locale.time(due),
        "seconds_left": left, "left": None if left is None else time_left(left, locale),
        "overdue": row.overdue, "escalation_level": row.escalation_level,
        "routed_to_backup": row.routed_to_backup,
    }


def critical_row(row: CriticalRow, now: datetime, locale: Locale) -> JsonDict:
    due = row.due_at
    left = None if due is None else round((due - now).total_seconds())
    return {
        "request_id": row.request_id, "request": short_ref(row.request_id),
        "critical_id": row.critical_id, "raised_by": row.raised_by,
        "ordering": row.ordering, "state": row.business_status,
        "state_name": locale.label(f"remote_read_view.critical.{row.business_status}"),
        "due_at": None if due is None else due.isoformat(),
        "due": None if due is None else locale.time(due),
        "left": None if left is None else time_left(left, locale),
        "overdue": row.overdue, "escalation_level": row.escalation_level,
    }


def member_section(member: str, reads: list[ReadRecord], criticals: list[CriticalRecord],
                   configs: tuple[FlowConfig, FlowConfig], now: datetime,
                   locale: Locale) -> JsonDict:
    shown = read_board(member, reads, criticals, *configs, now)
    return {
        "member": member,
        "open_total": len(shown.worklist),
        "overdue_total": sum(row.overdue for row in shown.worklist),
        "rows": [read_row(row, member, now, locale) for row in shown.worklist[:LISTED]],
        "criticals": [critical_row(row, now, locale) for row in shown.criticals[:LISTED]],
    }


def figures(reads: list[ReadRecord], criticals: list[CriticalRecord],
            ack_limit_seconds: float, zone: ZoneInfo) -> JsonDict:
    in_time = criticals_in_time(criticals, ack_limit_seconds)
    return {
        "per_centre": [f.as_dict() for f in diagnoses_per_centre(reads, "month", zone)],
        "compliance": [{**c.as_dict(), "rate": None if c.rate is None else round(c.rate, 4)}
                       for c in compliance(reads)],
        "criticals_in_time": [{"member": m, **n, "rate": _rate(n["in_time"], n["closed"])}
                              for m, n in in_time.items()],
    }


def remote_read_board(reads: Iterable[ReadRecord], criticals: Iterable[CriticalRecord],
                      configs: tuple[FlowConfig, FlowConfig], ack_limit_seconds: float,
                      now: datetime, locale: Locale, members: Iterable[str],
                      zone: ZoneInfo = CONSORTIUM_ZONE) -> JsonDict:
    """The whole board: a section per member party to a read or a critical value (in the
    registry's order), the consortium's counts and the figures."""
    kept, raised = list(reads), list(criticals)
    parties = {m for r in kept for m in (r.examining, r.reading)}
    parties |= {m for c in raised for m in (c.task.requester, c.task.performer)}
    office = read_board(None, kept, raised, *configs, now)
    return {
        "open_total": len(office.worklist),
        "overdue_total": sum(row.overdue for row in office.worklist),
        "criticals_open": len(office.criticals),
        "criticals_escalated": sum(row.escalation_level > 0 for row in office.criticals),
        "members": [member_section(m, kept, raised, configs, now, locale)
                    for m in members if m in parties],
        "figures": figures(kept, raised, ack_limit_seconds, zone),
    }


def owned_criticals() -> list[CriticalRecord]:
    """The critical values on the partitions this worker owns (as the agent's register)."""
    owned = {tp.partition for tp in app.assignor.assigned_actives()
             if tp.topic == topics.REMOTE_READS.name}
    found = (CriticalRecord.from_json(v) for v in list(remote_read.criticals.values()))
    return [c for c in found if remote_read.home_partition(c.request_id) in owned]


def remote_read_figures(now: datetime) -> JsonDict:
    """The board over the reads and critical values this worker owns."""
    try:
        reads, criticals = remote_read.owned_records(), owned_criticals()
    except Exception:  # no assignment yet
        reads, criticals = [], []
    zone = runtime.locale.zone
    return remote_read_board(
        reads, criticals, (shipped_flow("remote_read"), shipped_flow("critical_value")),
        runtime.settings.critical_ack_minutes * 60.0, now, runtime.locale,
        runtime.registry.ids, zone if isinstance(zone, ZoneInfo) else CONSORTIUM_ZONE)
