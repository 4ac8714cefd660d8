"""Real FHIR R4 remote-diagnosis shapes, adapted only as a member would: its Organizations as
member ids, a resident ID, Chinese names and report text, its exam codes, dates. Each
function names its source.

- HL7 Imaging ServiceRequest IG `ImagingServiceRequest-Example` (HL7/imaging-service-request-ig)
  and IHE RAD IMR `ex-ServiceRequest` (IHE/RAD.IMR): identifier of type ACSN and PLAC,
  category SNOMED CT 363679005 "Imaging", intent order; FHIR R4 `servicerequest-example-di`:
  code, occurrence, reasonCode.
- FHIR R4 `task-example1`: status, businessStatus as text, intent order, focus, for,
  authoredOn, lastModified, requester, owner.
- FHIR R4 `imagingstudy-example` (DICOM UID 2.16.124.113543.6003.1154777499.30246.19789.
  3503430045, one CT series) and `endpoint-example-wadors` (connectionType dicom-wado-rs).
- FHIR R4 `diagnosticreport-example-f201-brainct` (category SNOMED 394914008 + v2-0074 RAD,
  code SNOMED 429858000 CT of head and neck, conclusion, conclusionCode) and
  `diagnosticreport-example-ultrasound` (resultsInterpreter, presentedForm-free text).
- FHIR R4 `communication-example` ("Patient 1 has a very high serum potassium value":
  category alert, payload contentString, sender, recipient, sent) for the critical value
  and its read-back; FHIR R4 `provenance-example` (entity role revision) for an amendment.
"""

from __future__ import annotations

from typing import Any

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MEMBER = "urn:consortium-hub:member"
READ_ID = "urn:consortium-hub:read-request-id"
RESIDENT_ID = "110101199003074514"
STUDY_UID = "2.16.124.113543.6003.1154777499.30246.19789.3503430045"
ACCESSION = "HKCT20250301-0012"
REQUEST_ID = f"thc-river:{ACCESSION}"
WADO = "https://pacs.thc-river.example/dicom-web"


def _organization(member: str, name: str, rid: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": rid,
            "identifier": [{"system": MEMBER, "value": member}], "name": name}


def _patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "pat-zhao",
            "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "NNCHN"}]},
                            "value": RESIDENT_ID}],
            "name": [{"family": "赵", "given": ["建国"]}], "gender": "male",
            "birthDate": "1990-03-07"}


def service_request() -> dict[str, Any]:
    """After ImagingServiceRequest-Example / IMR ex-ServiceRequest (ACSN, PLAC, category
    Imaging) and servicerequest-example-di: 河口镇卫生院 asks the lead hospital to read a
    head CT."""
    return {
        "resourceType": "ServiceRequest", "id": "sr-ct-0012",
        "identifier": [
            {"type": {"coding": [{"system": V2_0203, "code": "ACSN",
                                  "display": "Accession ID"}]},
             "system": "urn:thc-river:ris:accession", "value": ACCESSION},
            {"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
             "system": "urn:thc-river:his:order", "value": "YZ-778812"}],
        "status": "active", "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "363679005",
                                  "display": "Imaging"}]},
                     {"coding": [{"system": "urn:consortium-hub:service-kind",
                                  "code": "remote-read"}], "text": "远程诊断"}],
        "priority": "stat",
        "code": {"coding": [{"system": "urn:thc-river:exam", "code": "HKJ04",
                             "display": "头颅CT平扫"}], "text": "头颅CT平扫"},
        "subject": {"reference": "Patient/pat-zhao"},
        "encounter": {"reference": "Encounter/enc-er"},
        "occurrenceDateTime": "2025-03-01T09:20:00+08:00",
        "authoredOn": "2025-03-01T09:05:00+08:00",
        "requester": {"reference": "Practitioner/dr-li"},
        "locationCode": [{"text": "急诊科"}],
        "reasonCode": [{"text": "摔伤后头痛、呕吐2小时"}],
        "note": [{"text": "排除颅内出血"}],
        "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": "69536005"}],
                      "text": "头部"}],
    }


def read_task(status: str = "requested") -> dict[str, Any]:
    """After task-example1 (focus, for, requester, owner, businessStatus as text)."""
    return {
        "resourceType": "Task", "id": "task-ct-0012", "status": status, "intent": "order",
        "code": {"coding": [{"system": "urn:consortium-hub:service-kind",
                             "code": "remote-read"}]},
        "priority": "stat", "focus": {"reference": "ServiceRequest/sr-ct-0012"},
        "for": {"reference": "Patient/pat-zhao"},
        "authoredOn": "2025-03-01T09:05:00+08:00",
        "lastModified": "2025-03-01T09:31:00+08:00",
        "requester": {"reference": "Organization/org-river"},
    }


def imaging_study() -> dict[str, Any]:
    """imagingstudy-example (its DICOM UID, one CT series) with endpoint-example-wadors."""
    return {
        "resourceType": "ImagingStudy", "id": "study-ct-0012",
        "contained": [{"resourceType": "Endpoint", "id": "wado", "status": "active",
                       "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/"
                                          "endpoint-connection-type", "code": "dicom-wado-rs"},
                       "payloadType": [{"text": "DICOM WADO-RS"}],
                       "payloadMimeType": ["application/dicom"], "address": WADO}],
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{STUDY_UID}"},
                       {"type": {"coding": [{"system": V2_0203, "code": "ACSN"}]},
                        "value": ACCESSION}],
        "status": "available", "subject": {"reference": "Patient/pat-zhao"},
        "basedOn": [{"reference": "ServiceRequest/sr-ct-0012"}],
        "started": "2025-03-01T09:28:40+08:00", "endpoint": [{"reference": "#wado"}],
        "numberOfSeries": 1, "numberOfInstances": 1,
        "series": [{"uid": "2.16.124.113543.6003.2588828330.45298.17418.2723805630",
                    "number": 3, "modality": {"system": "http://dicom.nema.org/resources/"
                                              "ontology/DCM", "code": "CT"},
                    "description": "头颅平扫 5mm", "numberOfInstances": 1,
                    "instance": [{"uid": "2.16.124.113543.6003.189642796.63084.16748.2599092903",
                                  "sopClass": {"system": "urn:ietf:rfc:3986",
                                               "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2"},
                                  "number": 1}]}],
    }


def request_bundle() -> dict[str, Any]:
    """The examining member's transaction: Patient, the requesting doctor, its Organization,
    the Encounter, ServiceRequest, Task and ImagingStudy."""
    resources = [
        _patient(), _organization("thc-river", "河口镇卫生院", "org-river"),
        {"resourceType": "Practitioner", "id": "dr-li",
         "identifier": [{"value": "HK-0231"}], "name": [{"text": "李明"}]},
        {"resourceType": "Encounter", "id": "enc-er", "status": "in-progress",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                   "code": "EMER"}, "subject": {"reference": "Patient/pat-zhao"}},
        service_request(), read_task(), imaging_study()]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{r['resourceType'].lower()}-{r['id']}", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]}


def centre_task(business: str, status: str = "in-progress") -> dict[str, Any]:
    """The reading centre's Task step, as its RIS PUTs it back: the hub's identifiers kept."""
    return {
        "resourceType": "Task", "id": "hub-task", "meta": {"versionId": "3"},
        "identifier": [{"system": READ_ID, "value": REQUEST_ID}],
        "status": status, "intent": "order",
        "businessStatus": {"coding": [{"system": "urn:consortium-hub:remote-read-business-status",
                                       "code": business}]},
        "focus": {"type": "ServiceRequest",
                  "identifier": {"system": READ_ID, "value": REQUEST_ID}},
        "for": {"identifier": {"value": RESIDENT_ID}},
        "lastModified": "2025-03-01T09:36:00+08:00",
        "owner": {"reference": "#reader"},
        "contained": [{"resourceType": "Practitioner", "id": "reader",
                       "identifier": [{"system": "urn:lead:staff", "value": "R1024"}],
                       "name": [{"family": "陈", "given": ["静"]}],
                       "qualification": [{"code": {"text": "主治医师"}}]}],
    }


def ct_report(status: str = "final") -> dict[str, Any]:
    """After diagnosticreport-example-f201-brainct (category Radiology/RAD, code SNOMED CT
    429858000, conclusion, conclusionCode) with diagnosticreport-example-ultrasound's
    resultsInterpreter: the lead hospital's 影像诊断中心 reports the head CT."""
    return {
        "resourceType": "DiagnosticReport", "id": "rpt-ct-88301",
        "contained": [
            {"resourceType": "Practitioner", "id": "writer",
             "identifier": [{"system": "urn:lead:staff", "value": "R1024"}],
             "name": [{"text": "陈静"}]},
            {"resourceType": "Practitioner", "id": "reviewer",
             "identifier": [{"system": "urn:lead:staff", "value": "R0007"}],
             "name": [{"text": "王建华"}], "qualification": [{"code": {"text": "主任医师"}}]},
            {"resourceType": "Observation", "id": "crit", "status": "final",
             "identifier": [{"system": "urn:lead:critical", "value": "WJZ-2025-0311"}],
             "code": {"text": "颅内出血"},
             "valueString": "右侧颞叶脑内血肿约 32 ml，中线左移 6 mm",
             "interpretation": [{"coding": [{
                 "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                 "code": "AA"}]}],
             "issued": "2025-03-01T09:48:00+08:00",
             "performer": [{"reference": "#writer"}, {"reference": "#reviewer"}]}],
        "identifier": [{"system": "urn:lead:ris:report", "value": "CT-88301"}],
        "basedOn": [{"type": "ServiceRequest",
                     "identifier": {"system": READ_ID, "value": REQUEST_ID}}],
        "status": status,
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "394914008",
                                  "display": "Radiology"},
                                 {"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                  "code": "RAD"}]}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "429858000",
                             "display": "Computed tomography (CT) of head and neck"}],
                 "text": "头颅CT平扫"},
        "subject": {"identifier": {"type": {"coding": [{"code": "NNCHN"}]},
                                   "value": RESIDENT_ID}},
        "effectiveDateTime": "2025-03-01T09:28:40+08:00",
        "issued": "2025-03-01T09:52:00+08:00",
        "performer": [{"type": "Organization",
                       "identifier": {"system": MEMBER, "value": "lead"}}],
        "resultsInterpreter": [{"reference": "#writer"}, {"reference": "#reviewer"}],
        "result": [{"reference": "#crit"}],
        "text": {"status": "generated", "div": (
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>右侧颞叶见团片状高密度影，"
            "CT值约65HU，周围见低密度水肿带。</p><p>中线结构左移约6mm。</p></div>")},
        "conclusion": "右侧颞叶脑内血肿（急性期），伴中线移位",
        "conclusionCode": [{"coding": [{"system": "http://snomed.info/sct",
                                        "code": "274100004"}], "text": "脑出血"}],
    }


def read_back(step_text: str | None = None) -> dict[str, Any]:
    """After communication-example (alert, payload contentString, sender, sent): the
    township doctor reads the critical value back, keeping about and basedOn."""
    resource: dict[str, Any] = {
        "resourceType": "Communication", "id": "ack-0311",
        "basedOn": [{"type": "ServiceRequest",
                     "identifier": {"system": READ_ID, "value": REQUEST_ID}}],
        "inResponseTo": [{"reference": "Communication/hub-critical"}],
        "status": "completed",
        "category": [{"coding": [{"system": "http://acme.org/messagetypes", "code": "Alert"}],
                      "text": step_text or "危急值接收"}],
        "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                "v3-ParticipationMode", "code": "WRITTEN"}]}],
        "subject": {"identifier": {"value": RESIDENT_ID}},
        "about": [{"type": "Observation", "identifier": {
            "system": "urn:consortium-hub:critical-value-id", "value": "WJZ-2025-0311"}}],
        "sent": "2025-03-01T09:55:00+08:00",
        "sender": {"reference": "#dr-li"},
        "contained": [{"resourceType": "Practitioner", "id": "dr-li",
                       "identifier": [{"value": "HK-0231"}], "name": [{"text": "李明"}]}],
        "payload": [{"contentString":
                     "复述：右侧颞叶脑内血肿约32毫升，中线左移6毫米，已通知值班医生"}],
    }
    return resource
