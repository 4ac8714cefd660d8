"""Two-way referral in HL7 v2 (HL7 v2.5 chapter 11): REF^I12 a new referral, REF^I13 a
change, REF^I14 a cancellation, and RRI^I12/I13 the receiver's answer, to ReferralRequest
and ReferralUpdate. The member guide (docs/member-integration.md, 双向转诊) is the profile.

The sending member is the connector's own. In an RRI, or a REF whose PRD RT names it, it is
the receiver: the referrer is the member of a hub name in RF1-6, else PRD RP, else MSH-6,
else RF1-6.2 (a receiver's REF^I14 is refused: cancelling is the referrer's). Otherwise it
is the referrer and PRD RT names the receiver; its REF^I13 provides information. RF1-6.1
is the referrer's referral number (or the hub's whole name `<member>:<number>`, as the
hub's REF/RRI carry it in RF1-11).

Segments are read by name, so their order does not matter; unknown Z-segments are ignored.
MSH-10 may be empty: the event id is then derived from the message's text.
"""

from __future__ import annotations

import hashlib

from connectors.member.hl7.context import EventList, MappingContext
from connectors.member.hl7.message import Hl7Message, get, parse_date
from connectors.member.hl7.patient import patient_from_pid, person_name
from connectors.member.hl7.referral_parts import (
    REFERRED_TO_ROLES,
    REFERRING_ROLES,
    StepFields,
    booking,
    documents,
    insurance,
    member_named,
    member_of,
    notes,
    provider,
    registry_of,
    step_fields,
    unknown_document_kinds,
)
from connectors.member.hl7.referral_terms import (
    direction_of,
    kind_of,
    priority_of,
    service_of,
    status_action,
)
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import deterministic_id
from schemas.models.referral import (
    ReferralAction,
    ReferralRequest,
    ReferralUpdate,
    referral_id,
)
from schemas.reference.messages import text
from schemas.reference.registry import Registry

REFERRAL_TYPES: tuple[tuple[str, str], ...] = (
    ("REF", "I12"), ("REF", "I13"), ("REF", "I14"), ("RRI", "I12"), ("RRI", "I13"))
PARTY_ACTIONS = frozenset(a for a in ReferralAction if a is not ReferralAction.EXPIRED)


def is_referral(message_type: str, trigger: str) -> bool:
    return (message_type.upper(), trigger.upper()) in REFERRAL_TYPES


def _event_id(ctx: MappingContext, message: Hl7Message, part: str) -> str:
    if message.header.control_id:
        return ctx.event_id(message, "RF1", part)
    digest = hashlib.sha256(message.text.encode()).hexdigest()
    return deterministic_id(ctx.member_id, "hl7-no-control-id", digest, part)


def _referral_ref(registry: Registry, message: Hl7Message) -> tuple[str | None, str]:
    """(the member a hub name carries, the referral number) from RF1-6."""
    rf1 = message.first("RF1")
    ref = get(rf1, 6, 1) if rf1 is not None else ""
    if not ref:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_ref"), "RF1-6")
    member, _, number = ref.partition(":")
    return (member, number) if number and registry.get(member) else (None, ref)


def referral_warnings(message: Hl7Message) -> tuple[Rejected, ...]:
    """What a referral message said that was kept without being understood (ACK ERR W)."""
    if not is_referral(message.header.message_type, message.header.trigger):
        return ()
    return unknown_document_kinds(message)


def map_referral(ctx: MappingContext, message: Hl7Message) -> EventList:
    kind = (message.header.message_type.upper(), message.header.trigger.upper())
    if kind == ("REF", "I12"):
        return [_request(ctx, message)]
    return [_update(ctx, message, kind)]


def _request(ctx: MappingContext, message: Hl7Message) -> ReferralRequest:
    registry = registry_of(ctx)
    rf1 = message.first("RF1")
    if rf1 is None:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_rf1"), "RF1")
    referring = provider(message, REFERRING_ROLES)
    referred_to = provider(message, REFERRED_TO_ROLES)
    _check_is_me(ctx, member_of(registry, referring), "PRD(RP)")
    to_member = member_of(registry, referred_to, required=True)
    if to_member is None:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_receiver"),
                       "PRD(RT)")
    if to_member == ctx.member_id:
        raise Rejected(RejectReason.INVALID_VALUE, text("connector.referral_to_self"),
                       referred_to.at(7) if referred_to else "PRD(RT)")
    named, ref = _referral_ref(registry, message)
    _check_is_me(ctx, named, "RF1-6")
    step = step_fields(message)
    patient = patient_from_pid(message.first("PID"), message.segments("NK1"))
    icd10, diagnosis_name, reason = _diagnosis(ctx, message)
    service, service_name = service_of(referred_to.segment if referred_to else None, rf1)
    requested_at = ctx.first_time(message, (rf1, 7))
    doctor = referring.segment if referring is not None else None
    return ReferralRequest(
        envelope=ReferralRequest.new_envelope(
            ctx.member_id, event_id=_event_id(ctx, message, "REQUEST"),
            occurred_at=requested_at),
        patient=patient, referral_ref=ref,
        direction=direction_of(registry, ctx.member_id, to_member, step.direction, rf1),
        to_member=to_member, to_service=service, to_service_name=service_name,
        priority=priority_of(rf1), kind=kind_of(rf1), reason=reason, icd10=icd10,
        diagnosis_name=diagnosis_name,
        requested_by=parse_date(get(rf1, 8), "RF1-8"),
        documents=documents(ctx, message), returns_referral=step.returns_referral or None,
        referring_doctor=(person_name(get(doctor, 2, 1), get(doctor, 2, 2))
                          if doctor is not None else None),
        referring_phone=((get(doctor, 5, 1) or get(doctor, 5, 12) or get(doctor, 5, 7))
                         if doctor is not None else "") or None,
        insurance=insurance(message), requested_at=requested_at,
    )


def _check_is_me(ctx: MappingContext, member: str | None, location: str) -> None:
    if member is not None and member != ctx.member_id:
        raise Rejected(RejectReason.INVALID_VALUE, text(
            "connector.referral_not_this_member", member=member, me=ctx.member_id), location)


def _diagnosis(ctx: MappingContext, message: Hl7Message) -> tuple[str, str | None, str]:
    """ICD-10 from DG1[1]-3 (or RF1-10 when coded in ICD-10), its name, and the reason:
    RF1-10.2, else the NTE, else the diagnosis name."""
    rf1 = message.first("RF1")
    dg1 = message.first("DG1")
    if dg1 is not None and get(dg1, 3, 1):
        mapped = ctx.codes.diagnosis(get(dg1, 3, 1), get(dg1, 3, 3), "DG1[1]-3")
        name = get(dg1, 3, 2) or get(dg1, 4) or mapped.name
    elif rf1 is not None and get(rf1, 10, 1) and get(rf1, 10, 3).upper() in ("I10", "ICD10"):
        mapped = ctx.codes.diagnosis(get(rf1, 10, 1), get(rf1, 10, 3), "RF1-10")
        name = mapped.name
    else:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_diagnosis"),
                       "DG1-3")
    reason = (get(rf1, 10, 2) if rf1 is not None else "") or notes(message, "REASON") or name or ""
    if not reason:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_reason"),
                       "RF1-10")
    return mapped.icd10, name or None, reason


def _update(ctx: MappingContext, message: Hl7Message, kind: tuple[str, str]) -> ReferralUpdate:
    registry = registry_of(ctx)
    referring = provider(message, REFERRING_ROLES)
    referred_to = provider(message, REFERRED_TO_ROLES)
    rp, rt = member_of(registry, referring), member_of(registry, referred_to)
    named, ref = _referral_ref(registry, message)
    message_type, trigger = kind
    from_receiver = message_type == "RRI" or rt == ctx.member_id
    referrer: str | None
    to_member: str | None
    if from_receiver:
        _check_is_me(ctx, rt, "PRD(RT)")
        rf1 = message.first("RF1")
        referrer = (named or rp or member_named(registry, message.header.receiving_facility)
                    or (member_named(registry, get(rf1, 6, 2)) if rf1 is not None else None)
                    or member_of(registry, referring, required=True))
        if referrer is None:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_referrer"),
                           "PRD(RP)")
        to_member = ctx.member_id
    else:
        _check_is_me(ctx, named, "RF1-6")
        _check_is_me(ctx, rp, "PRD(RP)")
        referrer = ctx.member_id
        to_member = rt or member_of(registry, referred_to, required=True)
        if to_member is None:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_receiver"),
                           "PRD(RT)")
    step = step_fields(message)
    action, reason_code = _action(message, trigger, from_receiver, step)
    onward = None
    if step.onward_member:
        onward = member_named(registry, step.onward_member)
        if onward is None:
            raise Rejected(RejectReason.UNMAPPED_CODE, text(
                "connector.referral_unknown_facility", values=step.onward_member), "ZRF-6")
    elif action is ReferralAction.REFERRED_ONWARD:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_onward"), "ZRF-6")
    pv1 = message.first("PV1")
    encounter = step.encounter or (get(pv1, 19) if pv1 is not None else "")
    if action is ReferralAction.ARRIVED and not encounter:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_encounter"),
                       "ZRF-5")
    booked = booking(ctx, step)
    if action in (ReferralAction.BOOKED, ReferralAction.REBOOKED) and booked is None:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_pool"), "ZRF-2")
    return ReferralUpdate(
        envelope=ReferralUpdate.new_envelope(
            ctx.member_id, event_id=_event_id(ctx, message, action.value),
            occurred_at=ctx.first_time(message)),
        referral_id=referral_id(referrer, ref), to_member=to_member, action=action,
        booking=booked, reason_code=step.reason_code or reason_code,
        note=step.note or notes(message) or None, onward_to=onward,
        encounter_ref=encounter or None, documents=documents(ctx, message),
        downward_plan=step.downward_plan or None,
    )


def _action(message: Hl7Message, trigger: str, from_receiver: bool,
            step: StepFields) -> tuple[ReferralAction, str | None]:
    """ZRF-1 first; else REF^I14 cancels; else RF1-1 (the receiver's answer); else the
    referrer's REF^I13 provides information and an RRI says the referral was received."""
    if message.header.message_type.upper() == "REF" and trigger == "I14":
        if from_receiver:
            raise Rejected(RejectReason.INVALID_VALUE,
                           text("connector.referral_cancel_by_receiver"), "MSH-9")
        return ReferralAction.CANCELLED, None
    if step.action:
        action = ReferralAction.__members__.get(step.action.upper())
        if action is None or action not in PARTY_ACTIONS:
            raise Rejected(RejectReason.UNMAPPED_CODE,
                           text("connector.referral_action", code=step.action), "ZRF-1")
        return action, None
    rf1 = message.first("RF1")
    status = get(rf1, 1, 1).upper() if rf1 is not None else ""
    if from_receiver and status:
        return status_action(status, from_receiver)
    if not from_receiver:
        if status == "E":
            return status_action(status, from_receiver)
        return ReferralAction.INFO_PROVIDED, None
    if message.header.message_type.upper() == "RRI":
        msa = message.first("MSA")
        acknowledged = get(msa, 1).upper() if msa is not None else ""
        if acknowledged not in ("", "AA", "CA"):  # its HIS could not take the referral
            raise Rejected(RejectReason.MISSING_FIELD, text(
                "connector.referral_rri_not_taken", code=acknowledged), "RF1-1")
        return ReferralAction.RECEIVED, None
    raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_status"), "RF1-1")

