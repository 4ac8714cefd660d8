"""The steps on a remote read by Task, and an ImagingStudy alone → ReadUpdate.

Task steps: businessStatus (our code, the same code in another system, or its Chinese
label as text), else Task.status: ready = images available, accepted / in-progress =
claimed, on-hold = information requested, cancelled. The reader is Task.owner (a
Practitioner or PractitionerRole); on a reassignment the owner is the new reader. The read
request: the hub's identifier (urn:consortium-hub:read-request-id) on the Task or its focus,
or a remote-read ServiceRequest of the Bundle as focus.
An ImagingStudy whose basedOn names a read request, status available: the images are there
(IMAGES_AVAILABLE; the study UID and the WADO-RS address in the note).
"""

from __future__ import annotations

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.remote_read import study_uid, wado_url
from connectors.member.fhir.remote_read_codes import (
    BUSINESS_STATUSES,
    business_status,
    reader_of,
    request_named,
    require_request,
    says_remote_read,
)
from connectors.member.fhir.resources import (
    References,
    Resource,
    codings,
    concept_text,
    to_datetime,
)
from connectors.member.mapping import Rejected, RejectReason, not_in_future
from schemas.models import Event, deterministic_id
from schemas.models.remote_read import ReadAction, ReadUpdate
from schemas.reference.messages import text as msg

TASK_STATUSES = {"ready": ReadAction.IMAGES_AVAILABLE, "accepted": ReadAction.CLAIMED,
                 "in-progress": ReadAction.CLAIMED, "on-hold": ReadAction.INFO_REQUESTED,
                 "cancelled": ReadAction.CANCELLED}
READER_STEPS = frozenset({ReadAction.CLAIMED, ReadAction.REASSIGNED})
# the reports come as DiagnosticReport, the backup routing is the hub's
CLIENT_STEPS = frozenset(BUSINESS_STATUSES) - {"preliminary-report", "final-report",
                                               "amended-report", "corrected-report",
                                               "routed-to-backup"}


def _action(task: Resource) -> ReadAction:
    business = business_status(task)
    if business in CLIENT_STEPS:
        return BUSINESS_STATUSES[business]
    if task.status in TASK_STATUSES:
        return TASK_STATUSES[task.status]
    raise Rejected(RejectReason.UNSUPPORTED, msg(
        "connector.fhir_remote_read_step", status=task.status or "-",
        business=business or concept_text(task.businessStatus) or "-",
        accepted=", ".join(sorted(CLIENT_STEPS))), "Task.businessStatus")


def is_remote_read_task(ctx: FhirContext, task: Resource, refs: References) -> bool:
    return says_remote_read([task.code]) or request_named(
        ctx.member_id, task, [task.focus, *(task.basedOn or [])], refs) is not None


def remote_read_update(ctx: FhirContext, task: Resource, refs: References) -> list[Event]:
    refs = refs.including_contained(task)
    focus = refs.resolve(task.focus, task) if task.focus is not None else None
    if task.status in ("requested", "draft", "received"):
        if focus is not None and focus.get_resource_type() == "ServiceRequest":
            return []  # the ServiceRequest's ReadRequest reads it
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_task_alone"),
                       "Task.focus")
    rid = require_request(ctx.member_id, task, [task.focus, *(task.basedOn or [])], refs,
                          "Task.focus")
    action = _action(task)
    reader = reader_of(task.owner, refs, task)
    if action in READER_STEPS and reader is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_reader",
                                                       step=action.value), "Task.owner")
    reason = task.statusReason
    note = (reason.text if reason is not None else None) or next(
        (n.text for n in task.note or [] if n.text), None)
    at = to_datetime(task.lastModified or task.authoredOn, ctx.zone, "Task.lastModified")
    return [ReadUpdate(
        envelope=ReadUpdate.new_envelope(
            ctx.member_id, occurred_at=not_in_future(at, "Task.lastModified") if at else None,
            event_id=deterministic_id(ctx.member_id, "fhir", "read-task", rid, action.value,
                                      str(task.lastModified or ""), str(task.meta.versionId
                                      if task.meta is not None else ""))),
        request_id=rid, action=action,
        reader=None if action is ReadAction.REASSIGNED else reader,
        reassigned_to=reader if action is ReadAction.REASSIGNED else None,
        reason_code=next((c for _, c, _ in codings(reason)), None), note=note,
    )]


def is_remote_read_study(ctx: FhirContext, study: Resource, refs: References) -> bool:
    return request_named(ctx.member_id, study, list(study.basedOn or []), refs) is not None


def images_available(ctx: FhirContext, study: Resource, refs: References) -> list[Event]:
    """An ImagingStudy naming a read request: alone, the images are there; beside its
    ServiceRequest in a Bundle, the ReadRequest reads it."""
    if any((t := refs.resolve(b, study)) is not None
           and t.get_resource_type() == "ServiceRequest" for b in study.basedOn or []):
        return []
    rid = require_request(ctx.member_id, study, list(study.basedOn or []), refs,
                          "ImagingStudy.basedOn")
    if study.status != "available":
        raise Rejected(RejectReason.UNSUPPORTED, msg(
            "connector.fhir_remote_read_study_status", status=study.status or "-"),
            "ImagingStudy.status")
    uid = study_uid(study)
    url = wado_url(study, refs)
    at = to_datetime(study.started, ctx.zone, "ImagingStudy.started")
    note = " ".join(filter(None, [f"StudyInstanceUID {uid}" if uid else None,
                                  f"WADO-RS {url}" if url else None])) or None
    return [ReadUpdate(
        envelope=ReadUpdate.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "read-images", rid,
                                                     uid or ""),
            occurred_at=not_in_future(at, "ImagingStudy.started") if at else None),
        request_id=rid, action=ReadAction.IMAGES_AVAILABLE, note=note)]
