"""Real FHIR R4 referral shapes, adapted only as a member would: its Organizations as member
ids, a resident ID, Chinese names, ICD-10 codes, dates. Each function names its source.

- NHS England e-Referral / BaRS ServiceRequest (NHSDigital IOPS FHIR examples): identifier
  UBRN, intent plan, category SNOMED CT 3457005 "Patient referral".
- CH eTOC "ServiceRequest Medical Referral" (hl7ch.github.io, ig/ch-etoc,
  ServiceRequest-ServiceRequestEtoc): priority, reasonCode, insurance Coverage,
  supportingInfo (DocumentReference), note.
- HL7 BSeR `task-bser-referraltask` (HL7/bser, input/fsh/instances): placer (PLAC) and
  filler (FILL) identifiers, status, businessStatus, intent order, focus, for, requester,
  owner, output.
- HL7 SDOH Clinical Care `SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample`
  (HL7/fhir-sdoh-clinicalcare): an accepted Task with meta.versionId, code fulfill and an
  Organization owner.
"""

from __future__ import annotations

import copy
from typing import Any

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MEMBER = "urn:consortium-hub:member"
RESIDENT_ID = "110101199003074514"
STUDY_UID = "2.16.124.113543.6003.1154777499.30246.19789.3503430045"  # the spec's ImagingStudy
REFERRAL_NO = "ZZ20250301-0007"


def organization(member: str, name: str, rid: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": rid,
            "identifier": [{"system": MEMBER, "value": member}], "name": name}


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "pat-wang",
            "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "NNCHN"}]},
                            "value": RESIDENT_ID}],
            "name": [{"family": "王", "given": ["秀英"]}], "gender": "female",
            "birthDate": "1990-03-07", "telecom": [{"system": "phone", "value": "13900000001"}]}


def service_request() -> dict[str, Any]:
    """After the e-RS ServiceRequest (UBRN, intent plan, category 3457005) and the CH eTOC
    referral (reasonCode, insurance, supportingInfo, note): 城东社区 refers 王秀英 up."""
    return {
        "resourceType": "ServiceRequest", "id": "sr-zz-0007",
        "contained": [
            {"resourceType": "DocumentReference", "id": "summary", "status": "current",
             "identifier": [{"system": "urn:chc-east:emr:docs", "value": "DOC-88121"}],
             "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
             "description": "门诊病历摘要", "content": [{"attachment": {
                 "contentType": "application/pdf", "url": "https://emr.chc-east.example/d/88121"}}]},
            {"resourceType": "ImagingStudy", "id": "ecg-study", "status": "available",
             "identifier": [{"system": "urn:dicom:uid",
                             "value": f"urn:oid:{STUDY_UID}"}],
             "subject": {"reference": "Patient/pat-wang"}},
            {"resourceType": "MedicationRequest", "id": "rx", "status": "active",
             "intent": "order", "identifier": [{"value": "RX-55012"}],
             "medicationCodeableConcept": {"text": "阿司匹林肠溶片 100mg"},
             "subject": {"reference": "Patient/pat-wang"}},
        ],
        "identifier": [{"system": "urn:chc-east:his:referral", "value": REFERRAL_NO}],
        "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                  "display": "Patient referral"}]}],
        "code": {"text": "心内科专家门诊"},
        "priority": "urgent",
        "subject": {"reference": "Patient/pat-wang"},
        "authoredOn": "2025-03-01T09:12:00+08:00",
        "requester": {"reference": "Practitioner/dr-li", "display": "李医生"},
        "performer": [{"reference": "Organization/org-lead"}],
        "performerType": {"coding": [{"system": "urn:lead:his:dept", "code": "0302"}],
                          "text": "心血管内科"},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                    "code": "I20.0", "display": "不稳定型心绞痛"}]}],
        "insurance": [{"reference": "Coverage/cov-wang"}],
        "supportingInfo": [{"reference": "#summary"}, {"reference": "#ecg-study"},
                           {"reference": "#rx"}],
        "note": [{"text": "反复胸痛3天，含服硝酸甘油可缓解，请上级医院进一步诊治"}],
    }


def coverage() -> dict[str, Any]:
    """After the CH eTOC Coverage (identifier, status, type): 职工医保 (code 310)."""
    return {"resourceType": "Coverage", "id": "cov-wang", "status": "active",
            "type": {"coding": [{"system": "urn:nhsa:insurance-type", "code": "310"}]},
            "subscriberId": "51070000123456", "beneficiary": {"reference": "Patient/pat-wang"},
            "payor": [{"display": "绵阳市医疗保障局"}]}


def task(**changes: Any) -> dict[str, Any]:
    """After BSeR task-bser-referraltask: placer and filler identifiers, requested."""
    resource: dict[str, Any] = {
        "resourceType": "Task", "id": "task-zz-0007",
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
                        "value": REFERRAL_NO}],
        "status": "requested", "intent": "order", "priority": "urgent",
        "focus": {"reference": "ServiceRequest/sr-zz-0007"},
        "for": {"reference": "Patient/pat-wang"},
        "authoredOn": "2025-03-01T09:12:00+08:00",
        "requester": {"reference": "Organization/org-east"},
        "owner": {"reference": "Organization/org-lead"},
        "restriction": {"period": {"end": "2025-03-03"}},
    }
    resource.update(changes)
    return resource


def referral_bundle() -> dict[str, Any]:
    entries = [patient(), organization("chc-east", "城东社区卫生服务中心", "org-east"),
               organization("lead", "安县人民医院", "org-lead"), coverage(),
               service_request(), task()]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{r['resourceType'].lower()}-{r['id']}", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}} for r in entries]}


def answer_task(status: str, business: str | None = None, **changes: Any) -> dict[str, Any]:
    """After SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample: the lead
    hospital's Task on the referral (meta.versionId, code fulfill, Organization owner)."""
    resource: dict[str, Any] = {
        "resourceType": "Task", "id": "task-zz-0007",
        "meta": {"versionId": "6", "lastUpdated": "2025-03-01T10:37:03+08:00"},
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
                        "value": REFERRAL_NO}],
        "status": status, "intent": "order",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code",
                             "code": "fulfill"}]},
        "focus": {"reference": "ServiceRequest/sr-zz-0007"},
        "for": {"reference": "Patient/pat-wang", "display": "王秀英"},
        "authoredOn": "2025-03-01T09:12:00+08:00",
        "lastModified": "2025-03-01T10:37:03+08:00",
        "requester": {"type": "Organization",
                      "identifier": {"system": MEMBER, "value": "chc-east"}},
        "owner": {"type": "Organization", "identifier": {"system": MEMBER, "value": "lead"},
                  "display": "安县人民医院"},
    }
    if business is not None:
        resource["businessStatus"] = {"coding": [{
            "system": "urn:consortium-hub:referral-business-status", "code": business}]}
    resource.update(changes)
    return copy.deepcopy(resource)


def booked_task() -> dict[str, Any]:
    """Booked in a reserved slot: the Appointment and its Slot contained, the pool the
    Slot's Schedule."""
    return answer_task("accepted", "booked", contained=[
        {"resourceType": "Slot", "id": "slot", "identifier": [{"value": "CARD-0305-0900"}],
         "schedule": {"identifier": {"value": "lead-card-2025w10"}}, "status": "busy",
         "start": "2025-03-05T09:00:00+08:00", "end": "2025-03-05T09:15:00+08:00"},
        {"resourceType": "Appointment", "id": "appt", "status": "booked",
         "start": "2025-03-05T09:00:00+08:00", "slot": [{"reference": "#slot"}],
         "participant": [{"actor": {"reference": "Patient/pat-wang"}, "status": "accepted"},
                         {"actor": {"type": "Location", "display": "门诊楼3楼心内科"},
                          "status": "accepted"}]},
    ], output=[{"type": {"text": "预约"}, "valueReference": {"reference": "#appt"}}])
