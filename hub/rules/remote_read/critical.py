"""Critical values (危急值; national core rule 18, 2018) of remote diagnosis, on the same
coordination machine (schemas/reference/coordination/critical_value.toml): raised with a
report by the reading centre, double-checked by a second reader, delivered by the hub,
acknowledged by the ORDERING member only with the read-back text within the limit
(HUB_CRITICAL_ACK_MINUTES), resolved by the ordering member only; unacknowledged ones
escalate. Every step (who, what, when) is kept: `register_rows` gives the register."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from hub.rules.coordination import (
    HUB_MEMBER,
    FlowConfig,
    Refused,
    Task,
    apply,
    due_at,
    escalation_due,
    open_task,
    set_due,
)
from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.outputs import OpenPatient
from hub.rules.remote_read.readers import reader_label
from hub.rules.remote_read.record import ReadRecord
from schemas.models import OperatorAlert, deterministic_id
from schemas.models.coordination import TERMINAL_STATUSES
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueStatus,
    CriticalValueUpdate,
    Reader,
)
from schemas.reference.messages import Locale, Text

C = CriticalAction
PRIORITY = "CRITICAL"
CRITICAL_ALERT = "critical-value-unacknowledged"


def critical_key(request_id: str, critical_id: str) -> str:
    return f"{request_id}|{critical_id}"


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One line of the register: who (member and reader), what, when."""

    action: str
    member: str
    reader_id: str | None
    reader_name: str | None
    at: datetime
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "member": self.member, "reader_id": self.reader_id,
                "reader_name": self.reader_name, "at": self.at.astimezone(UTC).isoformat(),
                "text": self.text}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RegisterEntry:
        return cls(**{**value, "at": datetime.fromisoformat(value["at"]).astimezone(UTC)})


@dataclass(frozen=True, slots=True)
class CriticalRecord:
    task: Task  # requester: the reading member; performer: the ordering member
    request_id: str
    critical_id: str
    finding: str
    raised_by: str | None  # the raising reader's id (the checker must be another)
    pseudonym: str
    sealed_patient: str
    entries: tuple[RegisterEntry, ...] = ()
    read_back: str | None = None
    closed_at: datetime | None = None

    @property
    def key(self) -> str:
        return critical_key(self.request_id, self.critical_id)

    @property
    def is_closed(self) -> bool:
        return self.task.status in TERMINAL_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json(), "critical": {
            "request_id": self.request_id, "critical_id": self.critical_id,
            "finding": self.finding, "raised_by": self.raised_by,
            "pseudonym": self.pseudonym, "sealed_patient": self.sealed_patient,
            "entries": [e.to_json() for e in self.entries], "read_back": self.read_back,
            "closed_at": None if self.closed_at is None else self.closed_at.isoformat()}}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CriticalRecord:
        c = value["critical"]
        closed = c.get("closed_at")
        return cls(task=Task.from_json(value["task"]), request_id=c["request_id"],
                   critical_id=c["critical_id"], finding=c["finding"],
                   raised_by=c.get("raised_by"), pseudonym=c["pseudonym"],
                   sealed_patient=c["sealed_patient"],
                   entries=tuple(RegisterEntry.from_json(e) for e in c.get("entries", ())),
                   read_back=c.get("read_back"),
                   closed_at=None if closed is None else datetime.fromisoformat(closed))


@dataclass(frozen=True, slots=True)
class CriticalContext:
    config: FlowConfig
    ack_limit: timedelta  # HUB_CRITICAL_ACK_MINUTES
    open_patient: OpenPatient
    locale: Locale


@dataclass
class CriticalOutcome:
    record: CriticalRecord | None = None
    statuses: list[CriticalValueStatus] | None = None
    alerts: list[OperatorAlert] | None = None
    steps: tuple[str, ...] = ()
    acknowledged_in_time: bool | None = None
    escalation_level: int = 0
    repeated: bool = False


def _entry(action: str, member: str, by: Reader | None, at: datetime,
           text: str | None) -> RegisterEntry:
    return RegisterEntry(action, member, by.reader_id if by else None,
                         by.name if by else None, at, text)


def _apply(ctx: CriticalContext, task: Task, action: str, member: str, at: datetime,
           event_id: str) -> Task | None:
    result = apply(ctx.config, task, action, member, at, event_id)
    if isinstance(result, Refused):
        raise Rejection(result.code, result.message, **result.params)
    return None if result.step is None else result.task


def _statuses(record: CriticalRecord, read: ReadRecord, *, cause: str, action: C,
              member: str, by: Reader | None, at: datetime, ctx: CriticalContext,
              level: int = 0) -> list[CriticalValueStatus]:
    sid = deterministic_id("critical-status", record.key, cause)
    fields = {"status_id": sid, "request_id": record.request_id,
              "critical_id": record.critical_id, "examining_member": read.examining,
              "reading_member": record.task.requester, "action": action,
              "state": record.task.business_status, "finding": record.finding,
              "read_back": record.read_back, "by_member": member, "by": by, "at": at,
              "due_at": due_at(ctx.config, record.task), "escalation_level": level,
              "patient": ctx.open_patient(read.sealed())}
    return [CriticalValueStatus.model_validate({
        "envelope": CriticalValueStatus.new_envelope(
            party, event_id=deterministic_id("critical-status-to", sid, party),
            occurred_at=at), **fields})
        for party in dict.fromkeys((read.examining, record.task.requester))]


def on_critical(existing: CriticalRecord | None, read: ReadRecord | None,
                update: CriticalValueUpdate, ctx: CriticalContext) -> CriticalOutcome:
    """A step on a critical value; refused (Rejection) unless the machine allows it for
    the member and the rules for the reader (a second checker, a read-back)."""
    if read is None:
        raise Rejection(Reason.READ_UNKNOWN, "remote_read.unknown",
                        request_id=update.request_id)
    member, at, event_id = (update.envelope.member_id, update.envelope.occurred_at,
                            update.envelope.event_id)
    if update.action is C.RAISED:
        return _raise(existing, read, update, ctx)
    if existing is None:
        raise Rejection(Reason.CRITICAL_UNKNOWN, "remote_read.critical_unknown",
                        critical_id=update.critical_id)
    if event_id in existing.task.applied:
        return CriticalOutcome(repeated=True)
    if update.action is C.DOUBLE_CHECKED and (
            update.by is None or update.by.reader_id == existing.raised_by):
        raise Rejection(Reason.CRITICAL_SAME_CHECKER, "remote_read.same_checker",
                        reader=reader_label(update.by) if update.by else "-")
    if update.action is C.ACKNOWLEDGED and not (update.read_back or "").strip():
        raise Rejection(Reason.CRITICAL_READ_BACK_REQUIRED, "remote_read.read_back_required")
    task = _apply(ctx, existing.task, update.action.value, member, at, event_id)
    if task is None:
        return CriticalOutcome(repeated=True)
    text = update.read_back if update.action is C.ACKNOWLEDGED else update.note
    record = replace(existing, task=task,
                     entries=(*existing.entries, _entry(update.action.value, member,
                                                        update.by, at, text)),
                     read_back=update.read_back or existing.read_back,
                     closed_at=at if task.status in TERMINAL_STATUSES else None)
    statuses = _statuses(record, read, cause=event_id, action=update.action, member=member,
                         by=update.by, at=at, ctx=ctx)
    steps: tuple[str, ...] = (update.action.value,)
    in_time = None
    if update.action is C.ACKNOWLEDGED:
        due = due_at(ctx.config, existing.task)
        in_time = due is None or at <= due
    if update.action is C.DOUBLE_CHECKED:  # the hub delivers it now: the ack clock runs
        cause = f"{event_id}/delivered"
        delivered = _apply(ctx, task, C.DELIVERED.value, HUB_MEMBER, at, cause)
        assert delivered is not None
        record = replace(record, task=set_due(delivered, at + ctx.ack_limit),
                         entries=(*record.entries, _entry(C.DELIVERED.value, HUB_MEMBER,
                                                          None, at, None)))
        statuses += _statuses(record, read, cause=cause, action=C.DELIVERED,
                              member=HUB_MEMBER, by=None, at=at, ctx=ctx)
        steps += (C.DELIVERED.value,)
    return CriticalOutcome(record=record, statuses=statuses, steps=steps,
                           acknowledged_in_time=in_time)


def _raise(existing: CriticalRecord | None, read: ReadRecord, update: CriticalValueUpdate,
           ctx: CriticalContext) -> CriticalOutcome:
    """Raised with a report, by the centre reading the study."""
    member, at, event_id = (update.envelope.member_id, update.envelope.occurred_at,
                            update.envelope.event_id)
    if existing is not None:
        if event_id in existing.task.applied:
            return CriticalOutcome(repeated=True)
        raise Rejection("STEP_NOT_ALLOWED", "coordination.step_not_allowed", action="RAISED",
                        state=existing.task.business_status, member=member)
    if member != read.reading or read.report is None or not update.finding:
        raise Rejection(Reason.CRITICAL_NOT_READER, "remote_read.critical_not_reader",
                        reader=read.reading)
    task = open_task(ctx.config, critical_key(read.request_id, update.critical_id), member,
                     read.examining, PRIORITY, at, event_id)
    record = CriticalRecord(
        task=task, request_id=read.request_id, critical_id=update.critical_id,
        finding=update.finding, raised_by=update.by.reader_id if update.by else None,
        pseudonym=read.pseudonym, sealed_patient=read.sealed_patient,
        entries=(_entry(C.RAISED.value, member, update.by, at, update.finding),))
    return CriticalOutcome(
        record=record, steps=(C.RAISED.value,),
        statuses=_statuses(record, read, cause=event_id, action=C.RAISED, member=member,
                           by=update.by, at=at, ctx=ctx))


def on_critical_tick(record: CriticalRecord, read: ReadRecord | None, now: datetime,
                     ctx: CriticalContext) -> CriticalOutcome:
    """An unacknowledged (or unchecked, or unresolved) value past its limit escalates:
    level 1 both members, level 2 the operators too."""
    if record.is_closed or read is None:
        return CriticalOutcome()
    escalation = escalation_due(ctx.config, record.task, now)
    if escalation is None:
        return CriticalOutcome()
    level, due = escalation.level, escalation.due_at
    at = due + (ctx.config.office_after if level >= 2 else timedelta())
    escalated = replace(record, task=escalation.task, entries=(
        *record.entries, _entry(C.ESCALATED.value, HUB_MEMBER, None, at, f"level {level}")))
    cause = f"escalation|{due.isoformat()}|{level}"
    out = CriticalOutcome(record=escalated, escalation_level=level, steps=(C.ESCALATED.value,),
                          statuses=_statuses(escalated, read, cause=cause, action=C.ESCALATED,
                                             member=HUB_MEMBER, by=None, at=at, ctx=ctx,
                                             level=level))
    if level >= 2:
        summary = ctx.locale.render(Text("remote_read.critical_overdue", {
            "critical_id": record.critical_id, "request_id": record.request_id,
            "due_at": due, "level": level}))
        alert_id = deterministic_id("alert", CRITICAL_ALERT, record.key, due.isoformat())
        out.alerts = [OperatorAlert(
            envelope=OperatorAlert.new_envelope(read.examining, event_id=alert_id,
                                                occurred_at=at),
            alert_id=alert_id, kind=CRITICAL_ALERT, severity="CRITICAL",
            member_ids=[read.examining, record.task.requester], summary=summary,
            details={"request_id": record.request_id, "critical_id": record.critical_id,
                     "state": record.task.business_status, "due_at": due.isoformat()})]
    return out


REGISTER_COLUMNS = ("request_id", "critical_id", "examining_member", "reading_member",
                    "finding", "step", "member", "reader_id", "reader_name", "at", "text")


def register_rows(records: list[CriticalRecord], zone: tzinfo) -> list[dict[str, str]]:
    """The critical value register (危急值登记): one row per step, oldest first, times in
    the consortium's zone with the date."""
    rows = []
    for record in sorted(records, key=lambda r: r.task.opened_at):
        for entry in record.entries:
            rows.append({
                "request_id": record.request_id, "critical_id": record.critical_id,
                "examining_member": record.task.performer,
                "reading_member": record.task.requester, "finding": record.finding,
                "step": entry.action, "member": entry.member,
                "reader_id": entry.reader_id or "", "reader_name": entry.reader_name or "",
                "at": entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                "text": entry.text or ""})
    return rows
