"""Condition → Diagnosis, ServiceRequest → TestOrder, MedicationDispense → StockEvent.

Condition: ICD-10 codings (system http://hl7.org/fhir/sid/icd-10 or icd-10-cn) are taken
as sent; another system is the member's local diagnosis code, mapped through the local
diagnosis code map. verificationStatus unconfirmed/provisional/differential is a SUSPECTED
case, confirmed a CONFIRMED one; refuted and entered-in-error take back the member's
earlier diagnosis of the same code for the same patient (Diagnosis.verification). The
card's onset date is onsetDateTime, else onsetPeriod.start, else an onsetString that
begins with a date (2025-02-24...); onsetAge and onsetRange are no date, so the card then
asks for the onset.

MedicationDispense: the drug is the first coding of medicationCodeableConcept (or of the
referenced Medication) that is a local drug code of the member or a national insurance
code in the formulary. The packs' traceability codes (20 digits) are identifiers with the
system `urn:consortium-hub:drug-trace-code`; the Medication's batch gives lot and expiry.
"""

from __future__ import annotations

import re

from connectors.member.fhir.context import FhirContext, status_of
from connectors.member.fhir.patients import subject_patient
from connectors.member.fhir.resources import (
    ICD10_SYSTEMS,
    References,
    Resource,
    codings,
    concept_text,
    local_and_loinc,
    to_date,
    to_datetime,
)
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import Diagnosis, Event, StockEvent, TestOrder
from schemas.models.clinical import CaseClassification, DiagnosisVerification, OrderPriority
from schemas.models.pharmacy import StockEventKind
from schemas.reference.messages import text as msg

TRACE_CODE_SYSTEM = "urn:consortium-hub:drug-trace-code"
TRACE_CODE = re.compile(r"^\d{20}$")
ONSET_TEXT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
VERIFICATION: dict[str, CaseClassification | None] = {
    "unconfirmed": CaseClassification.SUSPECTED, "provisional": CaseClassification.SUSPECTED,
    "differential": CaseClassification.SUSPECTED, "confirmed": CaseClassification.CONFIRMED,
    "": None,
}
RETRACTING: dict[str, DiagnosisVerification] = {
    "refuted": DiagnosisVerification.REFUTED,
    "entered-in-error": DiagnosisVerification.ENTERED_IN_ERROR,
}
ORDER_STATUSES: dict[str, str] = {"active": "active"}
ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order",
                           "instance-order"})
PRIORITIES: dict[str, OrderPriority] = {
    "routine": OrderPriority.ROUTINE, "urgent": OrderPriority.URGENT,
    "asap": OrderPriority.URGENT, "stat": OrderPriority.EMERGENCY,
}
DISPENSE_STATUSES: dict[str, str] = {"completed": "completed"}


def condition(ctx: FhirContext, resource: Resource, refs: References) -> list[Event]:
    verification = next((c for _, c, _ in codings(resource.verificationStatus)), "")
    taken_back = RETRACTING.get(verification)
    if verification not in VERIFICATION and taken_back is None:
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.verification", status=verification),
                       "Condition.verificationStatus")
    coded = codings(resource.code)
    if not coded:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_coded_diagnosis"),
                       "Condition.code")
    system, code, display = next((c for c in coded if c[0] in ICD10_SYSTEMS), coded[0])
    mapped = ctx.codes.diagnosis(code, "I10" if system in ICD10_SYSTEMS else system or "local",
                                 "Condition.code")
    name = resource.code.text or display or mapped.name
    if not name:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_no_diagnosis_name"),
                       "Condition.code")
    diagnosed_at = ctx.first_time(resource, "recordedDate", "onsetDateTime", "onsetPeriod")
    if taken_back and resource.meta is not None and resource.meta.lastUpdated is not None:
        # when it was ruled out: the revision card's new diagnosis date
        diagnosed_at = to_datetime(resource.meta.lastUpdated, ctx.zone,
                                   "Condition.meta.lastUpdated") or diagnosed_at
    onset = resource.onsetDateTime or (resource.onsetPeriod.start if resource.onsetPeriod else None)
    if onset is None and ONSET_TEXT_DATE.match(resource.onsetString or ""):
        onset = resource.onsetString[:10]
    encounter = resource.encounter
    doctor = next((p.display for p in (resource.asserter, resource.recorder)
                   if p is not None and p.display), None)
    # a refuted Condition keeps its identifier: its event is a new one
    suffix = (taken_back.value,) if taken_back else ()
    return [Diagnosis(
        envelope=Diagnosis.new_envelope(ctx.member_id,
                                        event_id=ctx.event_id(resource, *suffix),
                                        occurred_at=diagnosed_at),
        patient=ctx.patients.complete(subject_patient(resource, refs, ctx.zone)),
        icd10=mapped.icd10, diagnosis_name=name,
        encounter_ref=(encounter.identifier.value if encounter.identifier is not None
                       else encounter.reference) if encounter is not None else None,
        case_classification=VERIFICATION.get(verification),
        verification=taken_back or DiagnosisVerification.ASSERTED,
        onset_date=to_date(onset, ctx.zone, "Condition.onsetDateTime"),
        diagnosed_at=diagnosed_at, doctor=doctor,
        remarks=next((n.text for n in resource.note or [] if n.text), None),
    )]


def service_request(ctx: FhirContext, resource: Resource, refs: References) -> list[Event]:
    status_of(resource, ORDER_STATUSES)
    if resource.intent not in ORDER_INTENTS:
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.intent", intent=resource.intent), "ServiceRequest.intent")
    placer = [i for i in resource.identifier or []
              if i.value and i.type is not None and "PLAC" in [c for _, c, _ in codings(i.type)]]
    identifiers = placer or [i for i in resource.identifier or [] if i.value]
    order_id = identifiers[0].value if identifiers else resource.id
    if not order_id:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_order_number"),
                       "ServiceRequest.identifier")
    local, loinc = local_and_loinc(resource.code)
    item = ctx.codes.item(local, loinc, "ServiceRequest.code")
    ordered_at = ctx.first_time(resource, "authoredOn", "occurrenceDateTime")
    priority = PRIORITIES.get(resource.priority or "routine")
    if priority is None:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.fhir_priority", priority=resource.priority),
                       "ServiceRequest.priority")
    requester = resource.requester
    return [TestOrder(
        envelope=TestOrder.new_envelope(ctx.member_id, event_id=ctx.event_id(resource),
                                        occurred_at=ordered_at),
        patient=subject_patient(resource, refs, ctx.zone), order_id=order_id,
        item_code=item.code, local_code=local or loinc or item.code, ordered_at=ordered_at,
        priority=priority, ordering_doctor=requester.display if requester is not None else None,
        department=concept_text(next(iter(resource.locationCode or []), None)),
    )]


def _medication(resource: Resource, refs: References) -> tuple[object, Resource | None]:
    if resource.medicationCodeableConcept is not None:
        return resource.medicationCodeableConcept, None
    medication = refs.resolve(resource.medicationReference, resource)
    if medication is None or medication.get_resource_type() != "Medication":
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.medication_missing"),
                       "MedicationDispense.medication[x]")
    return medication.code, medication


def medication_dispense(ctx: FhirContext, resource: Resource, refs: References) -> list[Event]:
    status_of(resource, DISPENSE_STATUSES)
    concept, medication = _medication(resource, refs)
    coded = codings(concept)
    if not coded:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_drug_code"),
                       "MedicationDispense.medication[x]")
    drug = local_code = None
    for _, code, _ in coded:
        try:
            drug = ctx.codes.drug(code, "MedicationDispense.medication[x]")
        except Rejected:
            continue
        local_code = code if code != drug.code else None
        break
    if drug is None:
        shown = ", ".join(code for _, code, _ in coded)
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.drug_not_in_formulary", code=shown, member=ctx.member_id),
                       "MedicationDispense.medication[x]")
    quantity = resource.quantity.value if resource.quantity is not None else None
    if quantity is None or quantity <= 0:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_quantity"),
                       "MedicationDispense.quantity")
    traces = [str(i.value).strip() for i in resource.identifier or []
              if i.system == TRACE_CODE_SYSTEM and i.value]
    for index, trace in enumerate(traces):
        if not TRACE_CODE.match(trace):
            raise Rejected(RejectReason.INVALID_VALUE, msg("connector.trace_digits", code=trace),
                           f"MedicationDispense.identifier[{index}]")
    at = ctx.first_time(resource, "whenHandedOver", "whenPrepared")
    batch = medication.batch if medication is not None else None
    return [StockEvent(
        envelope=StockEvent.new_envelope(ctx.member_id, event_id=ctx.event_id(resource),
                                         occurred_at=at),
        kind=StockEventKind.DISPENSE, drug_code=drug.code, local_drug_code=local_code,
        quantity=float(quantity), trace_codes=traces, at=at,
        batch_no=batch.lotNumber if batch is not None else None,
        expiry_date=to_date(batch.expirationDate, ctx.zone, "Medication.batch.expirationDate")
        if batch is not None else None,
    )]
