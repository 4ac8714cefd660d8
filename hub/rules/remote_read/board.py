"""What the reading centres' board shows (pure, no identity: request ids, members, states):
per reading centre its open requests, by priority (emergency first) then deadline; the
critical values still open, escalated first; and the share of critical values closed in
time, from the critical-value records alone (acknowledged by the deadline they ran on)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hub.rules.coordination import FlowConfig, due_at
from hub.rules.remote_read.critical import CriticalRecord
from hub.rules.remote_read.record import ReadRecord

PRIORITY_ORDER = {"EMERGENCY": 0, "URGENT": 1, "ROUTINE": 2}
ACKNOWLEDGING = ("ACKNOWLEDGED", "RESOLVED")  # the steps that stop a critical value's clock


@dataclass(frozen=True, slots=True)
class ReadRow:
    request_id: str
    examining: str
    reading: str
    modality: str
    priority: str
    business_status: str
    claimant: str | None  # the claiming reader's name, else id
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    routed_to_backup: bool


@dataclass(frozen=True, slots=True)
class CriticalRow:
    request_id: str
    critical_id: str
    raised_by: str  # the reading member
    ordering: str  # the member that must acknowledge
    business_status: str
    due_at: datetime | None
    overdue: bool
    escalation_level: int


@dataclass
class ReadBoard:
    member: str | None
    worklist: list[ReadRow] = field(default_factory=list)
    criticals: list[CriticalRow] = field(default_factory=list)


def read_row(record: ReadRecord, config: FlowConfig, now: datetime) -> ReadRow:
    due = due_at(config, record.task)  # the report deadline rides on the task (engine)
    reader = record.claimant
    return ReadRow(
        request_id=record.request_id, examining=record.examining, reading=record.reading,
        modality=record.modality.value, priority=record.priority.value,
        business_status=record.task.business_status,
        claimant=None if reader is None else (reader.name or reader.reader_id),
        due_at=due, overdue=due is not None and now >= due,
        escalation_level=record.task.escalation_level,
        routed_to_backup=record.reading != record.first_reader)


def critical_row(record: CriticalRecord, config: FlowConfig, now: datetime) -> CriticalRow:
    due = due_at(config, record.task)
    return CriticalRow(
        request_id=record.request_id, critical_id=record.critical_id,
        raised_by=record.task.requester, ordering=record.task.performer,
        business_status=record.task.business_status, due_at=due,
        overdue=due is not None and now >= due, escalation_level=record.task.escalation_level)


def read_board(member: str | None, reads: Iterable[ReadRecord],
               criticals: Iterable[CriticalRecord], read_config: FlowConfig,
               critical_config: FlowConfig, now: datetime) -> ReadBoard:
    """`member`'s board (None: the consortium's): the open reads it reads or sent, the
    open critical values it raised or must acknowledge."""
    shown = ReadBoard(member)
    latest = datetime.max.replace(tzinfo=now.tzinfo)
    shown.worklist = sorted(
        (read_row(r, read_config, now) for r in reads if not r.is_closed
         and member in (None, r.reading, r.examining)),
        key=lambda row: (PRIORITY_ORDER.get(row.priority, 9), row.due_at or latest,
                         row.request_id))
    shown.criticals = sorted(
        (critical_row(c, critical_config, now) for c in criticals if not c.is_closed
         and member in (None, c.task.requester, c.task.performer)),
        key=lambda row: (-row.escalation_level, row.due_at or latest, row.request_id))
    return shown


def acknowledged_at(record: CriticalRecord) -> datetime | None:
    """When the ordering member first acknowledged (or resolved) it, from its register."""
    times = [e.at for e in record.entries if e.action in ACKNOWLEDGING]
    return min(times) if times else None


def raised_at(record: CriticalRecord) -> datetime | None:
    times = [e.at for e in record.entries if e.action == "RAISED"]
    return min(times) if times else None


def criticals_in_time(records: Iterable[CriticalRecord],
                      ack_limit_seconds: float) -> dict[str, dict[str, int]]:
    """Per ordering member: critical values closed, and of those acknowledged within the
    limit of being raised (a closed one never acknowledged counts as late)."""
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        if not record.is_closed:
            continue
        entry = counts.setdefault(record.task.performer, {"closed": 0, "in_time": 0})
        entry["closed"] += 1
        raised, acked = raised_at(record), acknowledged_at(record)
        if raised is not None and acked is not None:
            entry["in_time"] += (acked - raised).total_seconds() <= ack_limit_seconds
    return dict(sorted(counts.items()))
