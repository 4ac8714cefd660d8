"""A party's Task on a referral → ReferralUpdate (POST of a Task, PUT of Task/{id}, or a Task
in a transaction Bundle). A Task with status requested whose referral ServiceRequest is in
the same Bundle gives no event of its own: the ServiceRequest's ReferralRequest reads it.

The referral: focus (or a Task identifier) with system urn:consortium-hub:referral-id and
value '<referrer>:<referral_ref>', as the hub writes them; else focus / the placer
identifier names the referrer's number and Task.requester the referrer (the sender when the
requester is missing). The receiver: Task.owner, else the sender when it is not the referrer.

The step: businessStatus (a code of urn:consortium-hub:referral-business-status, or the same
code in another system or as text) when it names one that goes with Task.status (a booked
left over on an in-progress Task is the arrival), else Task.status (received,
accepted, rejected, cancelled, completed; in-progress = arrived; on-hold = information
requested). statusReason → reason_code (its code) and note (its text, else Task.note).
Task.output: Appointment / Slot → the booking (the pool: Slot.schedule, else the extension
urn:consortium-hub:fhir:referral-pool), Encounter → encounter_ref, Organization → the member
referred onward to, CarePlan → the downward plan, documents → documents.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.referral import is_referral
from connectors.member.fhir.referral_codes import (
    BUSINESS_STATUSES,
    ONWARD_EXTENSION,
    POOL_EXTENSION,
    REFERRAL_ID_SYSTEM,
    business_code,
    document_ref,
    member_of,
    reference_id,
)
from connectors.member.fhir.resources import References, Resource, codings, to_datetime
from connectors.member.mapping import Rejected, RejectReason, not_in_future
from schemas.models import Event, ReferralUpdate, deterministic_id
from schemas.models.referral import Booking, DocumentKind, ReferralAction, referral_id
from schemas.reference.messages import text as msg

TASK_STATUSES: dict[str, ReferralAction] = {
    "received": ReferralAction.RECEIVED, "accepted": ReferralAction.ACCEPTED,
    "rejected": ReferralAction.REJECTED, "cancelled": ReferralAction.CANCELLED,
    "completed": ReferralAction.COMPLETED, "in-progress": ReferralAction.ARRIVED,
    "on-hold": ReferralAction.INFO_REQUESTED,
}
PARTY_STEPS = {code: action for code, action in BUSINESS_STATUSES.items()
               if action is not ReferralAction.EXPIRED}
BOOKING_STEPS = frozenset({ReferralAction.BOOKED, ReferralAction.REBOOKED})
A = ReferralAction
# The Task.status each business step goes with. A business status left over from an earlier
# step (booked while the status is in-progress) gives way to the status.
HOME_STATUSES: dict[ReferralAction, frozenset[str]] = {
    A.RECEIVED: frozenset({"received"}),
    A.INFO_REQUESTED: frozenset({"on-hold", "received", "requested"}),
    A.INFO_PROVIDED: frozenset({"on-hold", "received", "requested", "in-progress"}),
    A.ACCEPTED: frozenset({"accepted"}), A.REJECTED: frozenset({"rejected"}),
    A.REFERRED_ONWARD: frozenset({"rejected", "cancelled", "completed", "received",
                                  "accepted", "in-progress"}),
    A.BOOKED: frozenset({"accepted", "received"}), A.REBOOKED: frozenset({"accepted", "received"}),
    A.ARRIVED: frozenset({"in-progress"}), A.NO_SHOW: frozenset({"accepted"}),
    A.INTERIM_REPORT: frozenset({"in-progress", "accepted"}),
    A.COMPLETED: frozenset({"completed"}), A.FOLLOWED_UP: frozenset({"completed", "in-progress"}),
    A.CANCELLED: frozenset({"cancelled"}),
}


def carried_by_request(task: Resource, refs: References) -> bool:
    """A requested Task whose referral ServiceRequest is in the Bundle (or contained)."""
    focus = refs.resolve(task.focus, task) if task.focus is not None else None
    return task.status in ("requested", "draft") and focus is not None \
        and focus.get_resource_type() == "ServiceRequest" and is_referral(focus)


def _action(task: Resource) -> ReferralAction:
    business = [business_code(code) for _, code, _ in codings(task.businessStatus)]
    if task.businessStatus is not None and task.businessStatus.text:
        business.append(business_code(task.businessStatus.text))
    status = str(task.status or "")
    for code in business:
        if code in PARTY_STEPS:
            step = PARTY_STEPS[code]
            stale = status in TASK_STATUSES and status not in HOME_STATUSES[step]
            return TASK_STATUSES[status] if stale else step
    action = TASK_STATUSES.get(status)
    if action is None:
        raise Rejected(RejectReason.UNSUPPORTED, msg(
            "connector.fhir_referral_step", status=task.status or "-",
            business=", ".join(business) or "-", accepted=", ".join(PARTY_STEPS)),
            "Task.businessStatus" if business else "Task.status")
    return action


def _referral(ctx: FhirContext, task: Resource, refs: References) -> tuple[str, str]:
    """(referral id, referrer)."""
    focus = task.focus
    for identifier in [*([focus.identifier] if focus and focus.identifier else []),
                       *(task.identifier or [])]:
        if identifier.system == REFERRAL_ID_SYSTEM and identifier.value and ":" in identifier.value:
            return str(identifier.value), str(identifier.value).split(":", 1)[0]
    target = refs.resolve(focus, task) if focus is not None else None
    placer = [i.value for i in [*(getattr(target, "identifier", None) or []),
                                *(task.identifier or [])]
              if i.value and i.type is not None and "PLAC" in [c for _, c, _ in codings(i.type)]]
    number = next(iter(placer), None) or reference_id(focus)
    if not number:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_referral"),
                       "Task.focus")
    referrer = ctx.member_id
    if task.requester is not None:
        referrer = member_of(task.requester, refs, task) or ""
        if not referrer:
            raise Rejected(RejectReason.UNMAPPED_CODE, msg("connector.fhir_referral_no_referrer"),
                           "Task.requester")
    return referral_id(referrer, number), referrer


def _output(task: Resource, refs: References, kind: str) -> list[tuple[Any, Resource | None]]:
    found = []
    for output in task.output or []:
        reference = output.valueReference
        if reference is None:
            continue
        target = refs.resolve(reference, task)
        named = target.get_resource_type() if target is not None else (
            reference.type or (reference.reference or "").split("/")[0].lstrip("#"))
        if named == kind:
            found.append((reference, target))
    return found


def _pool(*holders: Resource | None) -> str | None:
    for holder in holders:
        for extension in getattr(holder, "extension", None) or []:
            if extension.url == POOL_EXTENSION and (extension.valueString or extension.valueCode):
                return str(extension.valueString or extension.valueCode)
    return None


def _booking(ctx: FhirContext, task: Resource, refs: References) -> Booking:
    appointment = next((t for _, t in _output(task, refs, "Appointment") if t is not None), None)
    slot_ref = next(iter(appointment.slot or []), None) if appointment is not None else None
    slot_ref = slot_ref or next((r for r, _ in _output(task, refs, "Slot")), None)
    if appointment is None and slot_ref is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_booking"),
                       "Task.output")
    slot = refs.resolve(slot_ref, appointment or task) if slot_ref is not None else None
    schedule = slot.schedule if slot is not None else None
    pool = _pool(appointment, slot, task) or reference_id(schedule)
    if not pool:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_pool"),
                       "Task.output")
    starts = (appointment.start if appointment is not None else None) or (
        slot.start if slot is not None else None)
    where = next((p.actor.display for p in getattr(appointment, "participant", None) or []
                  if p.actor is not None and p.actor.display
                  and (p.actor.type == "Location" or "Location/" in (p.actor.reference or ""))),
                 None)
    slot_id = next((i.value for i in getattr(slot, "identifier", None) or [] if i.value),
                   None) or (reference_id(slot_ref) if slot_ref is not None else None)
    return Booking(pool_id=pool, slot_id=slot_id,
                   starts_at=to_datetime(starts, ctx.zone, "Appointment.start"), location=where)


def _onward(task: Resource, refs: References) -> str:
    references = [r for r, _ in _output(task, refs, "Organization")] + [
        e.valueReference for e in task.extension or []
        if e.url == ONWARD_EXTENSION and e.valueReference is not None]
    for reference in references:
        member = member_of(reference, refs, task)
        if member is not None:
            return member
    raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_onward"),
                   "Task.output")


def _version(task: Resource) -> str:
    """The Task's content without meta: a resend of one version, one event id."""
    content = json.loads(task.model_dump_json(exclude_none=True))
    content.pop("meta", None)
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def referral_update(ctx: FhirContext, task: Resource, refs: References) -> list[Event]:
    refs = refs.including_contained(task)
    if carried_by_request(task, refs):
        return []
    if task.status in ("requested", "draft"):
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_task_alone"),
                       "Task.focus")
    action = _action(task)
    rid, referrer = _referral(ctx, task, refs)
    receiver = member_of(task.owner, refs, task) if task.owner is not None else None
    if task.owner is not None and receiver is None:
        raise Rejected(RejectReason.UNMAPPED_CODE, msg(
            "connector.fhir_referral_unknown_member",
            reference=task.owner.reference or task.owner.display or "-"), "Task.owner")
    receiver = receiver or (ctx.member_id if referrer != ctx.member_id else None)
    if receiver is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_receiver"),
                       "Task.owner")
    at = to_datetime(task.lastModified or task.authoredOn, ctx.zone, "Task.lastModified")
    default_kind = DocumentKind.OUTCOME if action is ReferralAction.COMPLETED \
        else DocumentKind.OTHER
    documents = [d for d in (document_ref(i.valueReference, refs, task, default_kind)
                             for i in [*(task.output or []), *(task.input or [])]
                             if i.valueReference is not None) if d is not None]
    plan = next((t.description or t.title for _, t in _output(task, refs, "CarePlan")
                 if t is not None and (t.description or t.title)), None)
    encounter = next((next((i.value for i in getattr(t, "identifier", None) or [] if i.value),
                           None) or reference_id(r) for r, t in _output(task, refs, "Encounter")),
                     None)
    reason = task.statusReason
    note = (reason.text if reason is not None else None) or next(
        (n.text for n in task.note or [] if n.text), None)
    return [ReferralUpdate(
        envelope=ReferralUpdate.new_envelope(
            ctx.member_id, occurred_at=not_in_future(at, "Task.lastModified") if at else None,
            event_id=deterministic_id(ctx.member_id, "fhir", "Task", rid, action.value,
                                      _version(task))),
        referral_id=rid, to_member=receiver, action=action,
        booking=_booking(ctx, task, refs) if action in BOOKING_STEPS else None,
        reason_code=next((c for _, c, _ in codings(reason)), None), note=note,
        onward_to=_onward(task, refs) if action is ReferralAction.REFERRED_ONWARD else None,
        encounter_ref=encounter, documents=documents, downward_plan=plan,
    )]
