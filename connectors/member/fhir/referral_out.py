"""The hub's referral events as FHIR R4, for `deliver-feedback` to the member's FHIR server.

ReferralRequest (on the receiver's out topic) → a transaction Bundle POSTed to [base]: the
Patient with the identity in clear, the ServiceRequest (category SNOMED CT 3457005) and its
Task (status requested, owner the receiver), each PUT by an id derived from the referral id
so that a redelivery replaces rather than duplicates; a Coverage when the insurance
continuity names the patient's insurance.
ReferralStatus (to each party) → the Task PUT to [base]/Task/{id}: status, businessStatus
(urn:consortium-hub:referral-business-status, with its Chinese label), statusReason (the
hub's code and the reason in Chinese), restriction.period.end (when the state falls due),
output (the booking as a contained Appointment, the encounter, the documents, the member
referred onward to, the downward plan), the escalation level and the status event id as
extensions.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from connectors.member.fhir.referral_codes import (
    BUSINESS_LABELS,
    BUSINESS_STATUS_SYSTEM,
    DIRECTION_EXTENSION,
    ESCALATION_EXTENSION,
    INSURANCE_EXTENSION,
    KIND_SYSTEM,
    MEMBER_SYSTEM,
    ONWARD_EXTENSION,
    PATIENT_REFERRAL,
    POOL_EXTENSION,
    REASON_SYSTEM,
    REFERRAL_ID_SYSTEM,
    SNOMED,
    STATUS_EVENT_EXTENSION,
    business_code,
    consortium_registry,
)
from connectors.member.fhir.resources import parse_resource
from schemas.models import Event, ReferralRequest, ReferralStatus, deterministic_id
from schemas.models.common import IdType, Patient
from schemas.models.referral import DocumentKind, DocumentRef

ICD10 = "http://hl7.org/fhir/sid/icd-10"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ID_TYPE_CODES = {IdType.RESIDENT_ID: "NNCHN", IdType.PASSPORT: "PPN",
                 IdType.HK_MACAO_PERMIT: "HKM", IdType.TAIWAN_PERMIT: "TWM",
                 IdType.FOREIGN_PERMANENT_RESIDENT: "FPR", IdType.MEDICAL_RECORD_NUMBER: "MR"}
PRIORITIES = {"ROUTINE": "routine", "URGENT": "urgent", "EMERGENCY": "stat"}
GENDERS = {"MALE": "male", "FEMALE": "female", "UNKNOWN": "unknown"}
DOCUMENT_TYPES = {DocumentKind.DICOM_STUDY: "ImagingStudy",
                  DocumentKind.PRESCRIPTION: "MedicationRequest",
                  DocumentKind.REHABILITATION_PLAN: "CarePlan"}
REFERRAL_EVENTS = (ReferralRequest, ReferralStatus)


def fhir_id(referral_id: str) -> str:
    """The id of a referral's ServiceRequest and Task ('<referrer>:<ref>' is no FHIR id)."""
    return deterministic_id("fhir-referral", referral_id)


def organization(member_id: str) -> dict[str, Any]:
    member = consortium_registry().get(member_id)
    reference: dict[str, Any] = {"type": "Organization",
                                 "identifier": {"system": MEMBER_SYSTEM, "value": member_id}}
    if member is not None:
        reference["display"] = member.name
    return reference


def _patient_identifier(patient: Patient) -> dict[str, Any]:
    identifier: dict[str, Any] = {"value": patient.id_number or patient.key or "unknown"}
    code = ID_TYPE_CODES.get(patient.id_type) if patient.id_type is not None else None
    if code is not None:
        identifier["type"] = {"coding": [{"system": V2_0203, "code": code}]}
    return identifier


def patient_resource(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient",
                                "identifier": [_patient_identifier(patient)]}
    if patient.name:
        resource["name"] = [{"text": patient.name}]
    if patient.sex is not None:
        resource["gender"] = GENDERS[patient.sex.value]
    if patient.birth_date is not None:
        resource["birthDate"] = patient.birth_date.isoformat()
    if patient.phone:
        resource["telecom"] = [{"system": "phone", "value": patient.phone}]
    if patient.address is not None:
        address = patient.address
        lines = [x for x in (address.township, address.village, address.house_number) if x]
        resource["address"] = [{k: v for k, v in {
            "line": lines or None, "district": address.county, "city": address.city,
            "state": address.province, "country": address.country}.items() if v}]
    return resource


def _document(document: DocumentRef) -> dict[str, Any]:
    return {"type": DOCUMENT_TYPES.get(document.kind, "DocumentReference"),
            "identifier": {"value": document.reference},
            "display": document.title or document.kind.value}


def _referral_reference(referral_id: str) -> dict[str, Any]:
    return {"reference": f"ServiceRequest/{fhir_id(referral_id)}", "type": "ServiceRequest",
            "identifier": {"system": REFERRAL_ID_SYSTEM, "value": referral_id}}


def service_request(event: ReferralRequest, rid: str, zone: ZoneInfo,
                    patient_ref: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": fhir_id(rid),
        "extension": [{"url": DIRECTION_EXTENSION, "valueCode": event.direction.value.lower()}],
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": rid},
                       {"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
                        "value": event.referral_ref}],
        "status": "active", "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": PATIENT_REFERRAL,
                                  "display": "Patient referral"}], "text": "转诊"}],
        "priority": PRIORITIES[event.priority.value],
        "code": {"coding": [{"system": KIND_SYSTEM, "code": event.kind.value}]},
        "subject": patient_ref,
        "authoredOn": event.requested_at.astimezone(zone).isoformat(),
        "requester": organization(event.envelope.member_id),
        "performer": [organization(event.to_member)],
        "reasonCode": [{"coding": [{"system": ICD10, "code": event.icd10}],
                        "text": event.diagnosis_name or event.icd10}],
        "note": [{"text": event.reason}],
    }
    if event.to_service or event.to_service_name:
        resource["performerType"] = {
            "coding": [{"code": event.to_service}] if event.to_service else [],
            "text": event.to_service_name or event.to_service}
    if event.requested_by is not None:
        resource["occurrencePeriod"] = {"end": event.requested_by.isoformat()}
    if event.documents:
        resource["supportingInfo"] = [_document(d) for d in event.documents]
    if event.returns_referral:
        resource["basedOn"] = [{"type": "ServiceRequest", "identifier": {
            "system": REFERRAL_ID_SYSTEM, "value": event.returns_referral}}]
    if event.referring_doctor:
        requester = resource["requester"]
        requester["display"] = f"{requester.get('display', '')} {event.referring_doctor}".strip()
    insurance = event.insurance
    if insurance is not None:
        parts = [("insured-region", insurance.insured_region),
                 ("first-admission", insurance.first_admission_ref),
                 ("first-settlement", insurance.first_settlement_ref)]
        sub: list[dict[str, Any]] = [{"url": url, "valueString": v} for url, v in parts if v]
        if insurance.deductible_paid is not None:
            sub.append({"url": "deductible-paid", "valueDecimal": insurance.deductible_paid})
        if sub:
            resource["extension"].append({"url": INSURANCE_EXTENSION, "extension": sub})
    return resource


def referral_bundle(event: ReferralRequest, zone: ZoneInfo) -> dict[str, Any]:
    rid = f"{event.envelope.member_id}:{event.referral_ref}"
    patient_url = f"urn:uuid:{deterministic_id('fhir-referral-patient', rid)}"
    patient_ref = {"reference": patient_url}
    request = service_request(event, rid, zone, patient_ref)
    task = {
        "resourceType": "Task", "id": fhir_id(rid),
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": rid}],
        "status": "requested", "intent": "order", "priority": request["priority"],
        "businessStatus": _business("requested"),
        "focus": _referral_reference(rid), "for": patient_ref,
        "authoredOn": request["authoredOn"], "lastModified": request["authoredOn"],
        "requester": organization(event.envelope.member_id),
        "owner": organization(event.to_member),
    }
    if event.requested_by is not None:
        task["restriction"] = {"period": {"end": event.requested_by.isoformat()}}
    entries = [(patient_url, patient_resource(event.patient), "POST", "Patient"),
               (None, request, "PUT", f"ServiceRequest/{request['id']}"),
               (None, task, "PUT", f"Task/{task['id']}")]
    insurance = event.insurance
    if insurance is not None and (insurance.insurance_type or insurance.insured_number):
        coverage: dict[str, Any] = {
            "resourceType": "Coverage", "status": "active", "beneficiary": patient_ref,
            "payor": [{"display": insurance.insured_region or "医保"}]}
        if insurance.insurance_type:
            coverage["type"] = {"coding": [{"code": insurance.insurance_type}]}
        if insurance.insured_number:
            coverage["subscriberId"] = insurance.insured_number
        coverage_url = f"urn:uuid:{deterministic_id('fhir-referral-coverage', rid)}"
        request["insurance"] = [{"reference": coverage_url}]
        entries.append((coverage_url, coverage, "POST", "Coverage"))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {**({"fullUrl": url} if url else {}), "resource": resource,
         "request": {"method": method, "url": target}}
        for url, resource, method, target in entries]}
    identifier = _patient_identifier(event.patient)["value"]  # a redelivery adds no Patient
    bundle["entry"][0]["request"]["ifNoneExist"] = f"identifier={identifier}"
    return bundle


def _business(code: str) -> dict[str, Any]:
    code = business_code(code)
    return {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code,
                        "display": BUSINESS_LABELS.get(code, code)}],
            "text": BUSINESS_LABELS.get(code, code)}


def _outputs(status: ReferralStatus, zone: ZoneInfo,
             patient: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(Task.output, Task.contained)."""
    outputs: list[dict[str, Any]] = []
    contained: list[dict[str, Any]] = []
    booking = status.booking
    if booking is not None:
        appointment: dict[str, Any] = {
            "resourceType": "Appointment", "id": "booking", "status": "booked",
            "extension": [{"url": POOL_EXTENSION, "valueString": booking.pool_id}],
            "participant": [{"actor": patient, "status": "accepted"}]}
        if booking.slot_id:
            appointment["slot"] = [{"reference": f"Slot/{booking.slot_id}"}]
        if booking.starts_at is not None:
            appointment["start"] = booking.starts_at.astimezone(zone).isoformat()
        if booking.location:
            appointment["participant"].append({"actor": {"type": "Location",
                                                         "display": booking.location},
                                               "status": "accepted"})
        contained.append(appointment)
        outputs.append(_output("预约", {"reference": "#booking"}))
    if status.encounter_ref:
        outputs.append(_output("就诊", {"type": "Encounter",
                                      "identifier": {"value": status.encounter_ref}}))
    if status.onward_to:
        outputs.append(_output("转往", organization(status.onward_to)))
    for document in status.documents:
        outputs.append(_output("随转资料", _document(document)))
    if status.downward_plan:
        outputs.append({"type": {"text": "康复计划"}, "valueString": status.downward_plan})
    return outputs, contained


def _output(label: str, reference: dict[str, Any]) -> dict[str, Any]:
    return {"type": {"text": label}, "valueReference": reference}


def task_update(status: ReferralStatus, zone: ZoneInfo) -> dict[str, Any]:
    rid = status.referral_id
    patient = {"type": "Patient", "identifier": _patient_identifier(status.patient)}
    if status.patient.name:
        patient["display"] = status.patient.name
    task: dict[str, Any] = {
        "resourceType": "Task", "id": fhir_id(rid),
        "extension": [{"url": ESCALATION_EXTENSION, "valueInteger": status.escalation_level},
                      {"url": STATUS_EVENT_EXTENSION, "valueString": status.status_id}],
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": rid}],
        "status": status.status.value.lower().replace("_", "-"), "intent": "order",
        "priority": PRIORITIES[status.priority.value],
        "businessStatus": _business(status.business_status),
        "focus": _referral_reference(rid), "for": patient,
        "lastModified": status.at.astimezone(zone).isoformat(),
        "requester": organization(status.referrer_id), "owner": organization(status.receiver_id),
    }
    if status.reason_code or status.reason:
        task["statusReason"] = {"text": status.reason or status.reason_code}
        if status.reason_code:
            task["statusReason"]["coding"] = [{"system": REASON_SYSTEM,
                                               "code": status.reason_code}]
    if status.due_at is not None:
        task["restriction"] = {"period": {"end": status.due_at.astimezone(zone).isoformat()}}
    if status.note:
        task["note"] = [{"text": status.note}]
    if status.onward_to:
        task["extension"].append({"url": ONWARD_EXTENSION,
                                  "valueReference": organization(status.onward_to)})
    outputs, contained = _outputs(status, zone, patient)
    if contained:
        task["contained"] = contained
    if outputs:
        task["output"] = outputs
    return task


def referral_exchange(event: Event, zone: ZoneInfo) -> tuple[str, str, dict[str, Any]]:
    """(HTTP method, path under [base], resource) for one referral event, checked with
    fhir.resources."""
    if isinstance(event, ReferralRequest):
        method, path, resource = "POST", "", referral_bundle(event, zone)
    elif isinstance(event, ReferralStatus):
        resource = task_update(event, zone)
        method, path = "PUT", f"Task/{resource['id']}"
    else:
        raise TypeError(f"no FHIR referral rendering for {type(event).__name__}")
    parse_resource(resource)
    return method, path, resource
