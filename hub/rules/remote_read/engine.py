"""The remote diagnosis flow: a request opens a coordination task at the reading centre
its route names, each member's step moves it (the machine decides which member may take
which step, hub.rules.remote_read.readers which reader), the report deadline runs from
the images in working time, and the watchdog escalates a late read to both members, then
re-routes it to the backup centre. Each function returns what to send and what to store;
the agent does both, outputs first."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hub.rules.coordination import (
    HUB_MEMBER,
    Applied,
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
from hub.rules.remote_read.limits import LimitRule, WorkingTime, deadline, report_limit
from hub.rules.remote_read.outputs import (
    OpenPatient,
    overdue_alert,
    overdue_reason,
    read_statuses,
    reader_copy,
    recognisable_report,
)
from hub.rules.remote_read.readers import check_claim, check_locked, reader_changes
from hub.rules.remote_read.record import ReadRecord, fingerprint
from schemas.models import ImagingReport, OperatorAlert
from schemas.models.coordination import TERMINAL_STATUSES
from schemas.models.remote_read import (
    ReadAction,
    ReadRequest,
    ReadStatus,
    ReadUpdate,
    read_request_id,
)
from schemas.reference.items import ItemCatalogue
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, Text
from schemas.reference.reading_centres import ReadingCentres
from schemas.reference.registry import Registry

A = ReadAction
# the business statuses the report clock runs in (waiting-for-information: the examining
# member's clock, from the flow's file)
REPORT_CLOCK = frozenset({"images-available", "claimed", "released", "information-provided",
                          "preliminary", "routed-to-backup"})
REPORTS = frozenset({A.FINAL_REPORT, A.AMENDED_REPORT, A.CORRECTED_REPORT})


@dataclass(frozen=True, slots=True)
class Context:
    config: FlowConfig
    registry: Registry
    centres: ReadingCentres
    limits: tuple[LimitRule, ...]
    work: WorkingTime
    open_patient: OpenPatient
    locale: Locale = DEFAULT_LOCALE
    # the recognition catalogue: a request that names only the member's own exam code
    # (an HL7 OBR-4) is given its consortium item, so its final report can be recognised
    catalogue: ItemCatalogue | None = None


@dataclass
class Outcome:
    record: ReadRecord | None = None  # to store (None: unchanged)
    statuses: list[ReadStatus] = field(default_factory=list)  # to the members' out topics
    requests: list[tuple[str, ReadRequest]] = field(default_factory=list)  # (centre, request)
    results: list[ImagingReport] = field(default_factory=list)  # to hub.results
    alerts: list[OperatorAlert] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # the actions applied (metrics)
    report_seconds: float | None = None  # images to final report (the histogram)
    in_time: bool | None = None  # the final report: by its deadline?
    escalation_level: int = 0
    repeated: bool = False


def _name(registry: Registry, member_id: str) -> str:
    member = registry.get(member_id)
    return member.name if member is not None else member_id


def _timed(ctx: Context, before: Task, record: ReadRecord) -> ReadRecord:
    """The task with the report deadline where the report clock runs; an escalation
    survives a step that keeps the same deadline."""
    task = record.task
    if task.business_status in REPORT_CLOCK and record.report_due_at is not None:
        task = set_due(task, record.report_due_at)
        if due_at(ctx.config, task) == due_at(ctx.config, before):
            task = replace(task, escalation_level=before.escalation_level)
    return replace(record, task=task)


def _step(ctx: Context, task: Task, action: str, member: str, at: datetime,
          event_id: str) -> Applied:
    result = apply(ctx.config, task, action, member, at, event_id)
    if isinstance(result, Refused):
        raise Rejection(result.code, result.message, **result.params)
    return result


def _images(record: ReadRecord, at: datetime, ctx: Context) -> dict[str, object]:
    limit = report_limit(ctx.limits, record.modality, record.priority, record.setting,
                         record.complex_study)
    return {"images_at": at, "report_due_at": deadline(limit, at, ctx.work)}


def _item_of(ctx: Context, member_id: str, local_code: str) -> str | None:
    """The consortium item of a member's own exam code, if the catalogue maps it."""
    item = ctx.catalogue.resolve(member_id, local_code) if ctx.catalogue else None
    return item.code if item is not None else None


def on_request(existing: ReadRecord | None, request: ReadRequest, ctx: Context) -> Outcome:
    """A new read request: its task opened at the reading centre, the request (patient in
    clear) on the centre's worklist, a status to both; images already there start the
    report clock at once."""
    if not request.patient.key or not request.patient.sealed:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_pseudonym")
    sender, at = request.envelope.member_id, request.envelope.occurred_at
    rid = read_request_id(sender, request.accession)
    if existing is not None:
        if existing.request_event_id == request.envelope.event_id or \
                existing.fingerprint == fingerprint(request):
            return Outcome(repeated=True)
        raise Rejection(Reason.READ_ID_REUSED, "remote_read.id_reused", request_id=rid)
    route = ctx.centres.route_for(sender, request.modality)
    if route is None:
        raise Rejection(Reason.READ_NO_CENTRE, "remote_read.no_centre",
                        member=_name(ctx.registry, sender),
                        modality=Label(f"remote_read.modality.{request.modality.value}"))
    limit = report_limit(ctx.limits, request.modality, request.priority, request.setting,
                         request.complex_study)
    task = open_task(ctx.config, rid, sender, route.reading_member, request.priority.value,
                     at, request.envelope.event_id)
    record = ReadRecord(
        task=task, accession=request.accession, modality=request.modality,
        priority=request.priority, setting=request.setting,
        complex_study=request.complex_study,
        item_code=request.item_code or _item_of(ctx, sender, request.local_code),
        local_code=request.local_code, item_name=request.item_name,
        study_ref=request.study_uid or request.record_ref or request.accession,
        pseudonym=request.patient.key, sealed_patient=request.patient.sealed.decode("ascii"),
        request_event_id=request.envelope.event_id, fingerprint=fingerprint(request),
        first_reader=route.reading_member, backup=route.backup_member, limit=str(limit),
        request=request.model_dump(mode="json"))
    out = Outcome(requests=[(record.reading, reader_copy(record, ctx.open_patient))],
                  steps=["OPENED"])
    out.statuses = read_statuses(
        record, cause=request.envelope.event_id, action=None, by_member=sender, at=at,
        due_at=None, open_patient=ctx.open_patient, locale=ctx.locale,
        reason=Text("remote_read.opened", {"reader": _name(ctx.registry, record.reading)}))
    if request.images_available_at is not None:
        images_at = max(request.images_available_at, at)
        cause = f"{request.envelope.event_id}/images"
        moved = _step(ctx, task, A.IMAGES_AVAILABLE.value, sender, images_at, cause).task
        record = _timed(ctx, task, record.with_task(moved, **_images(record, images_at, ctx)))
        out.statuses += read_statuses(
            record, cause=cause, action=A.IMAGES_AVAILABLE, by_member=sender, at=images_at,
            due_at=due_at(ctx.config, record.task), open_patient=ctx.open_patient,
            locale=ctx.locale)
        out.steps.append(A.IMAGES_AVAILABLE.value)
    out.record = record
    return out


def _clock_changes(record: ReadRecord, action: A, at: datetime,
                   ctx: Context) -> dict[str, object]:
    if action is A.IMAGES_AVAILABLE:
        return _images(record, at, ctx)
    if action is A.INFO_REQUESTED:
        return {"info_requested_at": at}
    if action is A.INFO_PROVIDED and record.info_requested_at is not None:
        waited = at - record.info_requested_at
        due = record.report_due_at
        return {"info_requested_at": None,
                "paused_s": record.paused_s + int(waited.total_seconds()),
                "report_due_at": None if due is None else due + waited}
    if action is A.PRELIMINARY_REPORT and record.preliminary_at is None:
        return {"preliminary_at": at}
    if action is A.FINAL_REPORT:
        return {"final_at": at}
    return {}


def on_update(record: ReadRecord | None, update: ReadUpdate, ctx: Context) -> Outcome:
    """A member's step: refused (Rejection) unless the machine allows it for the member
    and the reader rules for the reader; else the new state, a status to both members,
    and with a final or amended report from a QC-passed centre a recognisable result."""
    if record is None:
        raise Rejection(Reason.READ_UNKNOWN, "remote_read.unknown",
                        request_id=update.request_id)
    sender, at, event_id = (update.envelope.member_id, update.envelope.occurred_at,
                            update.envelope.event_id)
    if event_id in record.task.applied:
        return Outcome(repeated=True)
    check_locked(record, update)
    if update.action is A.CLAIMED:
        check_claim(record, update)
    applied = _step(ctx, record.task, update.action.value, sender, at, event_id)
    if applied.repeated or applied.step is None:
        return Outcome(repeated=True)
    changes = {**reader_changes(record, update),
               **_clock_changes(record, update.action, at, ctx)}
    if applied.task.status in TERMINAL_STATUSES and record.closed_at is None:
        changes["closed_at"] = at
    report = changes.get("report")
    ref = getattr(report, "report_ref", None)
    if ref is not None and ref not in record.report_refs:
        changes["report_refs"] = (*record.report_refs, ref)
    moved = _timed(ctx, record.task, record.with_task(applied.task, **changes))
    out = Outcome(record=moved, steps=[update.action.value])
    out.statuses = read_statuses(
        moved, cause=event_id, action=update.action, by_member=sender, at=at,
        due_at=due_at(ctx.config, moved.task), open_patient=ctx.open_patient,
        locale=ctx.locale, by_reader=update.reader, update=update)
    if update.action in REPORTS:
        result = recognisable_report(moved, ctx.registry, event_id, at)
        out.results = [result] if result is not None else []
    if update.action is A.FINAL_REPORT and moved.images_at is not None:
        out.report_seconds = (at - moved.images_at).total_seconds()
        out.in_time = record.report_due_at is None or at <= record.report_due_at
    return out


def on_tick(record: ReadRecord, now: datetime, ctx: Context) -> Outcome:
    """The watchdog's look at one open read: a missed report deadline escalates one level
    at a time (1: both members, the centre's supervisor; 2: re-routed to the backup centre
    and the operators told). Times are the moments things fell due, so a repeat after a
    crash is the same."""
    if record.is_closed:
        return Outcome()
    escalation = escalation_due(ctx.config, record.task, now)
    if escalation is None:
        return Outcome()
    due, level = escalation.due_at, escalation.level
    at = due + (ctx.config.office_after if level >= 2 else timedelta())
    cause = f"escalation|{due.isoformat()}|{level}"
    reason = overdue_reason(record, due, level, _name(ctx.registry, record.reading))
    escalated = record.with_task(escalation.task)
    out = Outcome(record=escalated, escalation_level=level)
    out.statuses = read_statuses(escalated, cause=cause, action=None, by_member=HUB_MEMBER,
                                 at=at, due_at=due, open_patient=ctx.open_patient,
                                 locale=ctx.locale, escalation_level=level, reason=reason)
    if level < 2:
        return out
    out.alerts.append(overdue_alert(record, reason, due, at, level, ctx.locale))
    if record.backup is not None and record.task.status.value in {"RECEIVED", "IN_PROGRESS"}:
        _to_backup(escalated, record.backup, at, cause, ctx, out)
    return out


def owes_tick(task: Task, now: datetime, ctx: Context) -> bool:
    """Whether on_tick has something to do with the read of this task: it judges the task
    alone, so a sweep need load no more of a read that owes nothing."""
    return task.status not in TERMINAL_STATUSES and \
        escalation_due(ctx.config, task, now) is not None


def _to_backup(record: ReadRecord, backup: str, at: datetime, cause: str, ctx: Context,
               out: Outcome) -> None:
    """The hub's ROUTED_TO_BACKUP: the backup centre becomes the performer, gets the
    request on its worklist and a fresh report limit from now."""
    routed_cause = f"{cause}/backup"
    applied = _step(ctx, record.task, A.ROUTED_TO_BACKUP.value, HUB_MEMBER, at, routed_cause)
    previous = record.reading
    limit = report_limit(ctx.limits, record.modality, record.priority, record.setting,
                         record.complex_study)
    moved = replace(record, task=replace(applied.task, performer=backup), backup=None,
                    claimant=None, writer=None, report_due_at=deadline(limit, at, ctx.work))
    moved = _timed(ctx, applied.task, moved)
    out.record = moved
    out.steps.append(A.ROUTED_TO_BACKUP.value)
    out.requests.append((backup, reader_copy(moved, ctx.open_patient)))
    out.statuses += read_statuses(
        moved, cause=routed_cause, action=A.ROUTED_TO_BACKUP, by_member=HUB_MEMBER, at=at,
        due_at=due_at(ctx.config, moved.task), open_patient=ctx.open_patient,
        locale=ctx.locale, also_to=(previous,),
        reason=Text("remote_read.routed_to_backup", {
            "request_id": record.request_id, "backup": _name(ctx.registry, backup)}))


def past_retention(closed_at: datetime | None, now: datetime, retention: timedelta) -> bool:
    return closed_at is not None and closed_at + retention < now
