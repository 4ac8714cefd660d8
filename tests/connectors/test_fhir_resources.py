"""FHIR R4 example resources shaped like the specification's examples (with the lead
hospital's codes), shared by the FHIR tests, and the readers of `connectors.member.fhir.resources`:
validation, reference resolution, content keys and times."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.member.fhir.resources import (
    InvalidResource,
    References,
    content_key,
    parse_resource,
    to_datetime,
)
from tests.connectors.test_hl7_messages import PATIENT_ID

LOCAL_LAB = "L0001"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
SUBJECT = {"identifier": {"type": {"coding": [{"system": V2_0203, "code": "NI"}]},
                          "value": PATIENT_ID}, "display": "张三"}


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": "pat-12345",
        "identifier": [
            {"type": {"coding": [{"system": V2_0203, "code": "NI"}]}, "value": PATIENT_ID},
            {"type": {"coding": [{"system": V2_0203, "code": "MR"}]},
             "system": "urn:lead:his:mrn", "value": "MR0012345"},
        ],
        "name": [{"family": "张", "given": ["三"]}], "gender": "male",
        "birthDate": "1985-06-12", "telecom": [{"system": "phone", "value": "13800000000"}],
        "address": [{"line": ["河口镇", "河西村", "人民路12号"], "district": "安县",
                     "city": "绵阳市", "state": "四川省"}],
    }


def observation(**changes: Any) -> dict[str, Any]:
    """Like the specification's Observation f001 (a serum level with a high flag)."""
    resource = {
        "resourceType": "Observation", "id": "f001",
        "identifier": [{"use": "official", "system": "urn:lead:lis:observations",
                        "value": "6323"}],
        "status": "final",
        "code": {"coding": [
            {"system": "http://loinc.org", "code": "2823-3",
             "display": "Potassium [Moles/volume] in Serum or Plasma"},
            {"system": "urn:lead:lis", "code": LOCAL_LAB, "display": "钾"},
        ]},
        "subject": SUBJECT,
        "effectivePeriod": {"start": "2025-03-01T08:30:00+08:00"},
        "issued": "2025-03-01T09:30:00.345+08:00",
        "performer": [{"display": "检验科"}],
        "valueQuantity": {"value": 6.3, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
        "interpretation": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": "H", "display": "High"}]}],
        "referenceRange": [{"low": {"value": 3.5, "unit": "mmol/L"},
                            "high": {"value": 5.3, "unit": "mmol/L"}}],
    }
    resource.update(changes)
    return resource


def _lipid(ident: str, loinc: str, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": ident, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "valueQuantity": {"value": value, "unit": "mmol/L"}}


def lipid_report() -> dict[str, Any]:
    """Like the specification's DiagnosticReport "lipids", results contained."""
    return {
        "resourceType": "DiagnosticReport", "id": "lipids",
        "contained": [_lipid("cholesterol", "14647-2", 6.3), _lipid("triglyceride", "14927-8", 1.3),
                      _lipid("hdlcholesterol", "14646-4", 1.3),
                      _lipid("ldlcholesterol", "22748-8", 4.6)],
        "identifier": [{"system": "urn:lead:lis:reports", "value": "LIPID-5234342"}],
        "status": "final",
        "category": [{"coding": [{"system": V2_0074, "code": "HM"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "57698-3",
                             "display": "Lipid panel with direct LDL"}]},
        "subject": SUBJECT, "effectiveDateTime": "2025-03-01T08:00:00+08:00",
        "issued": "2025-03-01T10:30:00+08:00",
        "result": [{"reference": f"#{i}"} for i in
                   ("cholesterol", "triglyceride", "hdlcholesterol", "ldlcholesterol")],
        "conclusion": "总胆固醇及低密度脂蛋白偏高。",
    }


def ultrasound_report() -> dict[str, Any]:
    """Like the specification's DiagnosticReport "ultrasound"."""
    return {
        "resourceType": "DiagnosticReport", "id": "ultrasound",
        "identifier": [{"system": "urn:lead:ris:reports", "value": "US20250301-0007"}],
        "status": "final",
        "category": [{"coding": [{"system": V2_0074, "code": "RAD"}]}],
        "code": {"coding": [{"system": "urn:lead:ris", "code": "US011", "display": "腹部彩超"},
                            {"system": "http://snomed.info/sct", "code": "45036003"}]},
        "subject": SUBJECT, "effectiveDateTime": "2025-03-01T09:50:00+08:00",
        "issued": "2025-03-01T10:00:00+08:00", "conclusion": "腹部超声未见明显异常。",
    }


def imaging_study() -> dict[str, Any]:
    """Like the specification's ImagingStudy example (one DX series)."""
    return {
        "resourceType": "ImagingStudy", "id": "example",
        "identifier": [{"system": "urn:dicom:uid",
                        "value": "urn:oid:2.16.124.113543.6003.1154777499.30246.19789.3503430045"}],
        "status": "available",
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "DX"}],
        "subject": SUBJECT, "started": "2025-03-01T11:01:20+08:00",
        "procedureCode": [{"coding": [{"system": "urn:lead:ris", "code": "DR001"}],
                           "text": "胸部正位片"}],
        "numberOfSeries": 1, "numberOfInstances": 1,
        "series": [{"uid": "2.16.124.113543.6003.2588828330.45298.17418.2723805630",
                    "number": 3, "modality": {"system":
                    "http://dicom.nema.org/resources/ontology/DCM", "code": "DX"},
                    "numberOfInstances": 1}],
    }


def condition(**changes: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition", "id": "example",
        "identifier": [{"system": "urn:lead:his:diagnosis", "value": "DX-20250301-77"}],
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "confirmed"}]},
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
            "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "A15.000",
                             "display": "肺结核"}]},
        "subject": SUBJECT, "onsetDateTime": "2025-02-26",
        "recordedDate": "2025-03-01T10:00:00+08:00", "asserter": {"display": "李医生"},
    }
    resource.update(changes)
    return resource


def service_request() -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest", "id": "lipid",
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
                        "system": "urn:lead:his:orders", "value": "ORD-88120"}],
        "status": "active", "intent": "original-order", "priority": "urgent",
        "code": {"coding": [{"system": "urn:lead:his", "code": "L0013", "display": "葡萄糖"}]},
        "subject": SUBJECT, "authoredOn": "2025-03-01T10:15:00+08:00",
        "requester": {"display": "李医生"},
    }


def medication_dispense() -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense", "id": "meddisp0301",
        "identifier": [{"system": "urn:consortium-hub:drug-trace-code",
                        "value": "81234560000000000011"},
                       {"system": "urn:consortium-hub:drug-trace-code",
                        "value": "81234560000000000012"}],
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": "urn:lead:his:drug",
                                                  "code": "YP000123", "display": "阿莫西林胶囊"}]},
        "subject": SUBJECT, "quantity": {"value": 2, "unit": "盒"},
        "whenHandedOver": "2025-03-01T11:00:00+08:00",
    }


def bundle() -> dict[str, Any]:
    """A transaction: the patient once, three resources referring to it by fullUrl."""
    patient_url = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    subject = {"reference": patient_url}

    def entry(resource: dict[str, Any], url: str) -> dict[str, Any]:
        return {"fullUrl": url, "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]}}

    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        entry(patient(), patient_url),
        entry(observation(subject=subject), "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"),
        entry(condition(subject=subject), "urn:uuid:4a0f4c0c-6b42-4f43-9a89-1d9f1ad9b1a2"),
        entry({**service_request(), "subject": subject},
              "urn:uuid:2b7a8e1e-2b9a-4f49-a8a4-6b3f7b6d5c11"),
    ]}


COVID_ID = "510725198804126023"


def covid_bundle(occupation: dict[str, Any] | None = None,
                 country: str | None = None) -> dict[str, Any]:
    """A COVID-19 case as a transaction: the specification's Patient "example" (identifier
    with a v2-0203 type, name, gender, birthDate, address with line/city/district/state)
    as a resident of a village of the consortium's own county, its Condition "example"
    (clinicalStatus, verificationStatus, category encounter-diagnosis, onsetDateTime)
    coded U07.1, and her occupation as the Occupational Data for Health IG's
    odh-PastOrPresentJob Observation (category social-history, code LOINC 11341-5,
    effectivePeriod, valueCodeableConcept), coded with GB/T 2261.4. The Condition comes
    before the Observation: the order of entries must not matter."""
    patient_url = "urn:uuid:7d5f3c9a-1d2b-4c8e-9f10-2a6b3c4d5e6f"
    subject = {"reference": patient_url}
    person = {
        "resourceType": "Patient", "id": "example",
        "identifier": [{"use": "official", "type": {"coding": [{"system": V2_0203,
                                                                 "code": "NNCHN"}]},
                        "value": COVID_ID}],
        "name": [{"use": "official", "family": "钱", "given": ["秀英"]}],
        "gender": "female", "birthDate": "1988-04-12",
        "telecom": [{"system": "phone", "value": "13990002323", "use": "mobile"}],
        "address": [{"use": "home", "type": "physical",
                     "line": ["河口镇", "山下村", "5组18号"], "city": "绵阳", "district": "安县",
                     "state": "四川", **({"country": country} if country else {})}],
    }
    covid = condition(
        id="covid-1",
        identifier=[{"system": "urn:lead:his:diagnosis", "value": "DX-20260301-91"}],
        code={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "U07.1",
                          "display": "新型冠状病毒感染"}]},
        subject=subject, onsetDateTime="2026-02-27",
        recordedDate="2026-03-01T09:40:00+08:00", asserter={"display": "周医生"},
    )
    job = {
        "resourceType": "Observation", "id": "odh-job-1",
        "meta": {"profile": [
            "http://hl7.org/fhir/us/odh/StructureDefinition/odh-PastOrPresentJob"]},
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "social-history"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "11341-5",
                             "display": "History of Occupation"}]},
        "subject": subject, "effectivePeriod": {"start": "2010-03-01"},
        "valueCodeableConcept": occupation or {
            "coding": [{"system": "urn:consortium-hub:gbt-2261.4", "code": "27",
                        "display": "农民"}], "text": "农民"},
    }

    def entry(resource: dict[str, Any], url: str) -> dict[str, Any]:
        return {"fullUrl": url, "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]}}

    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        entry(covid, "urn:uuid:0c3b1f6e-8a4d-4e2b-b7c1-5d9e8f7a6b51"),
        entry(person, patient_url),
        entry(job, "urn:uuid:e4a7c2d9-3b5f-4a1e-8c6d-9f2b1a3c5e7d"),
    ]}


EXAMPLES = {"patient": patient, "observation": observation, "lipid_report": lipid_report,
            "ultrasound_report": ultrasound_report, "imaging_study": imaging_study,
            "condition": condition, "service_request": service_request,
            "medication_dispense": medication_dispense, "bundle": bundle,
            "covid_bundle": covid_bundle}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_are_valid_fhir_r4(name: str) -> None:
    resource = EXAMPLES[name]()
    assert parse_resource(resource).get_resource_type() == resource["resourceType"]


def test_invalid_bundle_entry_names_its_path() -> None:
    broken = bundle()
    del broken["entry"][1]["resource"]["code"]
    with pytest.raises(InvalidResource) as caught:
        parse_resource(broken)
    assert caught.value.issues[0][0] == "Bundle.entry[1].resource.code"


def test_references_resolve_full_urls_type_ids_and_contained() -> None:
    parsed = parse_resource(bundle())
    refs = References((e.fullUrl, e.resource) for e in parsed.entry)
    obs = parsed.entry[1].resource
    assert refs.resolve(obs.subject, obs).id == "pat-12345"
    ref = parse_resource({**observation(), "subject": {"reference": "Patient/pat-12345"}})
    assert refs.resolve(ref.subject, ref).id == "pat-12345"
    report = parse_resource(lipid_report())
    assert References().resolve(report.result[1], report).id == "triglyceride"


def test_content_key_prefers_identifier_then_id_then_content() -> None:
    assert content_key(parse_resource(observation())) == "urn:lead:lis:observations|6323"
    assert content_key(parse_resource(observation(identifier=None))) == "id|f001"
    anonymous = observation(identifier=None, id=None)
    key = content_key(parse_resource(anonymous))
    assert key.startswith("sha256|")
    assert key == content_key(parse_resource(copy.deepcopy(anonymous)))


def test_times_without_offset_are_local() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    assert to_datetime("2025-03-01", zone, "x") == datetime(2025, 2, 28, 16, tzinfo=UTC)
    assert to_datetime("2025-03", zone, "x") == datetime(2025, 2, 28, 16, tzinfo=UTC)
