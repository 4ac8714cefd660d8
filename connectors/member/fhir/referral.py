"""A referral ServiceRequest (category SNOMED CT 3457005 "Patient referral") and its Task →
ReferralRequest.

The ServiceRequest carries the referral, alone or in a transaction Bundle with its Patient
and its Task (intent order, status requested, focus the ServiceRequest); where both say a
thing the Task wins for the parties, priority and due date, the ServiceRequest for the rest:
- referral_ref: identifier (placer first), else the Task's placer identifier, else the id;
- receiver: Task.owner, else ServiceRequest.performer: an Organization naming a member
  (referral_codes.member_of); the requester, if an Organization, must be the sender;
- department: performerType (else locationCode); kind: code in urn:consortium-hub:referral-kind
  or its text (门诊/住院/检查/康复), outpatient by default;
- priority routine/urgent/asap/stat; reasonCode ICD-10 (else reasonReference → Condition);
- requested_by: Task.restriction.period.end, else occurrencePeriod.end / occurrenceDateTime;
- documents: supportingInfo and Task.input references (DocumentReference, ImagingStudy by
  its study UID, MedicationRequest, DiagnosticReport, CarePlan);
- returns_referral: basedOn a previous referral ServiceRequest (a downward referral);
- direction: extension urn:consortium-hub:fhir:referral-direction, else down when basedOn is
  set, else from the registry levels of the two members;
- insurance: the Coverage of `insurance` (type, subscriberId) and the extension
  urn:consortium-hub:fhir:insurance-continuity (insured-region, first-admission,
  first-settlement, deductible-paid).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.patients import subject_patient
from connectors.member.fhir.records import PRIORITIES
from connectors.member.fhir.referral_codes import (
    DIRECTION_EXTENSION,
    INSURANCE_EXTENSION,
    KIND_SYSTEM,
    REFERRAL_CATEGORY_CODES,
    REFERRAL_ID_SYSTEM,
    consortium_registry,
    document_ref,
    member_of,
    reference_id,
)
from connectors.member.fhir.resources import (
    ICD10_SYSTEMS,
    References,
    Resource,
    codings,
    concept_text,
    to_date,
    to_datetime,
)
from connectors.member.mapping import Rejected, RejectReason, not_in_future
from schemas.models import Event, ReferralRequest, deterministic_id
from schemas.models.clinical import OrderPriority
from schemas.models.referral import (
    DocumentRef,
    InsuranceContinuity,
    ReferralDirection,
    ReferralKind,
    referral_id,
)
from schemas.reference.messages import text as msg

KIND_WORDS = (("住院", ReferralKind.ADMISSION), ("康复", ReferralKind.REHABILITATION),
              ("检查", ReferralKind.EXAMINATION), ("门诊", ReferralKind.OUTPATIENT))


def is_referral(resource: Resource) -> bool:
    """A ServiceRequest whose category says referral (SNOMED CT 3457005, 306206005, the
    code `referral` of any system, or a category text with 转诊)."""
    for concept in resource.category or []:
        if any(code in REFERRAL_CATEGORY_CODES for _, code, _ in codings(concept)):
            return True
        if "转诊" in (concept.text or ""):
            return True
    return False


def referral_task(service_request: Resource, refs: References) -> Resource | None:
    """The Task in the Bundle whose focus is this ServiceRequest."""
    for resource in refs.resources():
        if resource.get_resource_type() == "Task" and resource.focus is not None \
                and refs.resolve(resource.focus, resource) is service_request:
            return resource
    return None


def _referral_ref(sr: Resource, task: Resource | None) -> str:
    own = [i for i in sr.identifier or [] if i.value and i.system != REFERRAL_ID_SYSTEM]
    placer = [i for i in [*own, *(task.identifier or [] if task is not None else [])]
              if i.value and i.type is not None and "PLAC" in [c for _, c, _ in codings(i.type)]]
    ref = (placer or own or [None])[0]
    value = ref.value if ref is not None else sr.id
    if not value:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_number"),
                       "ServiceRequest.identifier")
    return str(value).strip()


def _receiver(ctx: FhirContext, sr: Resource, task: Resource | None, refs: References) -> str:
    for holder, reference, where in (
            (task, task.owner if task is not None else None, "Task.owner"),
            *((sr, p, f"ServiceRequest.performer[{i}]") for i, p in enumerate(sr.performer or []))):
        if reference is None:
            continue
        member = member_of(reference, refs, holder)
        if member is None:
            raise Rejected(RejectReason.UNMAPPED_CODE, msg(
                "connector.fhir_referral_unknown_member",
                reference=reference.reference or reference.display or "-"), where)
        return member
    raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_receiver"),
                   "ServiceRequest.performer")


def _check_requester(ctx: FhirContext, holder: Resource, refs: References) -> str | None:
    """The requesting doctor's name; an Organization requester must be the sender."""
    requester = holder.requester
    if requester is None:
        return None
    target = refs.resolve(requester, holder)
    kind = target.get_resource_type() if target is not None else (
        requester.type or (requester.reference or "").split("/")[0])
    if kind == "Organization":
        member = member_of(requester, refs, holder)
        if member is not None and member != ctx.member_id:
            raise Rejected(RejectReason.INVALID_VALUE, msg(
                "connector.fhir_referral_not_sender", member=member, sender=ctx.member_id),
                f"{holder.get_resource_type()}.requester")
        return None
    name = next((n.text for n in getattr(target, "name", None) or [] if n.text), None)
    name = name or requester.display
    return str(name) if name else None


def _diagnosis(ctx: FhirContext, sr: Resource, task: Resource | None,
               refs: References) -> tuple[str, str | None]:
    concepts = [*(sr.reasonCode or []), *([task.reasonCode] if task and task.reasonCode else [])]
    for reference in sr.reasonReference or []:
        target = refs.resolve(reference, sr)
        if target is not None and target.get_resource_type() == "Condition":
            concepts.append(target.code)
    for concept in concepts:
        for system, code, display in codings(concept):
            if system in ICD10_SYSTEMS:
                mapped = ctx.codes.diagnosis(code, "I10", "ServiceRequest.reasonCode")
                return mapped.icd10, concept.text or display or mapped.name
    for concept in concepts:  # a member's local diagnosis code
        for system, code, display in codings(concept):
            mapped = ctx.codes.diagnosis(code, system or "local", "ServiceRequest.reasonCode")
            return mapped.icd10, concept.text or display or mapped.name
    raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_referral_no_diagnosis"),
                   "ServiceRequest.reasonCode")


def _kind(sr: Resource) -> ReferralKind:
    for system, code, _ in codings(sr.code):
        if system == KIND_SYSTEM and code in ReferralKind.__members__:
            return ReferralKind[code]
    words = " ".join(filter(None, [concept_text(sr.code), *(concept_text(c)
                                                            for c in sr.category or [])]))
    return next((kind for word, kind in KIND_WORDS if word in words), ReferralKind.OUTPATIENT)


def _direction(ctx: FhirContext, sr: Resource, receiver: str,
               returns: str | None) -> ReferralDirection:
    for extension in sr.extension or []:
        if extension.url == DIRECTION_EXTENSION:
            value = str(extension.valueCode or extension.valueString or "").upper()
            if value not in ReferralDirection.__members__:
                raise Rejected(RejectReason.INVALID_VALUE, msg(
                    "connector.fhir_referral_direction", value=value), "ServiceRequest.extension")
            return ReferralDirection[value]
    if returns is not None:
        return ReferralDirection.DOWN
    sender, target = consortium_registry().get(ctx.member_id), consortium_registry().get(receiver)
    if sender is None or target is None or sender.level == target.level:
        return ReferralDirection.LATERAL
    return ReferralDirection.UP if sender.level < target.level else ReferralDirection.DOWN


def _returns(sr: Resource, receiver: str) -> str | None:
    """The upward referral a downward one returns: basedOn, by the hub's referral id, else
    by the receiver's own referral number (the receiver referred the patient up)."""
    for reference in sr.basedOn or []:
        if reference.identifier is not None and reference.identifier.system == REFERRAL_ID_SYSTEM:
            return str(reference.identifier.value)
        ref = reference_id(reference)
        if ref:
            return ref if ":" in ref else referral_id(receiver, ref)
    return None


def _requested_by(ctx: FhirContext, sr: Resource, task: Resource | None) -> date | None:
    restriction = task.restriction if task is not None else None
    for value, where in ((restriction.period.end if restriction and restriction.period else None,
                          "Task.restriction.period.end"),
                         (sr.occurrencePeriod.end if sr.occurrencePeriod else None,
                          "ServiceRequest.occurrencePeriod.end"),
                         (sr.occurrenceDateTime, "ServiceRequest.occurrenceDateTime")):
        if value is not None:
            return to_date(value, ctx.zone, where)
    return None


def _insurance(sr: Resource, refs: References) -> InsuranceContinuity | None:
    fields: dict[str, Any] = {}
    for reference in sr.insurance or []:
        coverage = refs.resolve(reference, sr)
        if coverage is not None and coverage.get_resource_type() == "Coverage":
            fields["insurance_type"] = next((c for _, c, _ in codings(coverage.type)), None)
            fields["insured_number"] = coverage.subscriberId or next(
                (i.value for i in coverage.identifier or [] if i.value), None)
    names = {"insured-region": "insured_region", "first-admission": "first_admission_ref",
             "first-settlement": "first_settlement_ref", "deductible-paid": "deductible_paid"}
    for extension in sr.extension or []:
        for part in extension.extension or [] if extension.url == INSURANCE_EXTENSION else []:
            value = (part.valueString or part.valueCode or part.valueDecimal
                     or (part.valueIdentifier.value if part.valueIdentifier else None)
                     or (part.valueMoney.value if part.valueMoney else None))
            if part.url in names and value is not None:
                fields[names[part.url]] = float(value) if part.url == "deductible-paid" \
                    else str(value)
    present = {k: v for k, v in fields.items() if v is not None}
    return InsuranceContinuity(**present) if present else None


def _documents(sr: Resource, task: Resource | None, refs: References) -> list[DocumentRef]:
    found = [document_ref(r, refs, sr) for r in sr.supportingInfo or []]
    if task is not None:
        found += [document_ref(i.valueReference, refs, task) for i in task.input or []
                  if i.valueReference is not None]
    unique: dict[str, DocumentRef] = {}
    for document in found:
        if document is not None:
            unique.setdefault(document.reference, document)
    return list(unique.values())


def referral_request(ctx: FhirContext, sr: Resource, refs: References) -> list[Event]:
    task = referral_task(sr, refs)
    ref = _referral_ref(sr, task)
    receiver = _receiver(ctx, sr, task, refs)
    doctor = _check_requester(ctx, sr, refs)
    if task is not None:
        doctor = _check_requester(ctx, task, refs) or doctor
    icd10, diagnosis_name = _diagnosis(ctx, sr, task, refs)
    wanted = (task.priority if task is not None else None) or sr.priority or "routine"
    priority = PRIORITIES.get(wanted)
    if priority is None:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.fhir_priority", priority=wanted), "ServiceRequest.priority")
    authored = sr.authoredOn or (task.authoredOn if task is not None else None)
    at = to_datetime(authored, ctx.zone, "ServiceRequest.authoredOn")
    if at is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_time", fields="authoredOn"),
                       "ServiceRequest.authoredOn")
    returns = _returns(sr, receiver)
    service = next(iter([*((sr.performerType and [sr.performerType]) or []),
                         *(sr.locationCode or [])]), None)
    reason = next((n.text for n in sr.note or [] if n.text), None) or sr.patientInstruction \
        or concept_text(next(iter(sr.reasonCode or []), None)) or diagnosis_name or icd10
    return [ReferralRequest(
        envelope=ReferralRequest.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "referral", ref),
            occurred_at=not_in_future(at, "ServiceRequest.authoredOn")),
        patient=ctx.patients.complete(subject_patient(sr, refs, ctx.zone)),
        referral_ref=ref, direction=_direction(ctx, sr, receiver, returns), to_member=receiver,
        to_service=next((c for _, c, _ in codings(service)), None),
        to_service_name=concept_text(service), priority=priority or OrderPriority.ROUTINE,
        kind=_kind(sr), reason=reason, icd10=icd10, diagnosis_name=diagnosis_name,
        requested_by=_requested_by(ctx, sr, task), documents=_documents(sr, task, refs),
        returns_referral=returns, referring_doctor=doctor, insurance=_insurance(sr, refs),
        requested_at=at,
    )]
