"""The FHIR R4 endpoint over real HTTP on 127.0.0.1 with an in-memory sink. The resources
follow the shape of the FHIR specification's own examples (Observation f001, the lipid
DiagnosticReport with contained results, the ultrasound report, ImagingStudy, Condition,
ServiceRequest, MedicationDispense), coded with the lead hospital's codes."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from connectors.member.fhir.server import build_app
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import MemorySink
from connectors.member.sdk import PublishError
from connectors.settings import ConnectorSettings
from schemas.models import (
    Diagnosis,
    ImagingReport,
    LabResult,
    StockEvent,
    TestOrder,
)
from schemas.models.clinical import (
    CaseClassification,
    DiagnosisVerification,
    Modality,
    OrderPriority,
    ResultStatus,
)
from schemas.models.common import Address, IdType, Occupation
from tests.connectors.test_fhir_resources import (
    COVID_ID,
    LOCAL_LAB,
    bundle,
    condition,
    covid_bundle,
    imaging_study,
    lipid_report,
    medication_dispense,
    observation,
    patient,
    service_request,
    ultrasound_report,
)
from tests.connectors.test_hl7_messages import PATIENT_ID

Reply = tuple[int, dict[str, str], dict[str, Any]]


def exchange(tmp_path: Path, sink: MemorySink, calls: list[tuple[str, Any]],
             patients: PatientCache | None = None) -> list[Reply]:
    """POST each (path, body) in turn (a str body is sent as is) and collect the replies."""
    settings = ConnectorSettings(member_id="lead", dead_letter_dir=tmp_path / "dead-letter",
                                 patient_cache_file=tmp_path / "patients.sqlite3")

    async def run() -> list[Reply]:
        app = build_app(settings, sink, patients=patients or PatientCache(None))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        replies: list[Reply] = []
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for path, body in calls:
                    data = body if isinstance(body, str) else None
                    async with session.post(f"http://127.0.0.1:{port}{path}", data=data,
                                            json=None if data is not None else body) as reply:
                        replies.append((reply.status, dict(reply.headers), await reply.json(
                            content_type=None)))
        finally:
            await runner.cleanup()
        return replies

    return asyncio.run(run())


def issues(body: dict[str, Any]) -> list[tuple[str, str]]:
    outcome = OperationOutcome.model_validate(body)
    return [(issue.expression[0], issue.diagnostics) for issue in outcome.issue]


def test_observation_is_created_as_a_lab_result(tmp_path: Path) -> None:
    sink = MemorySink()
    [(status, headers, body)] = exchange(tmp_path, sink, [("/fhir/Observation", observation())])
    assert status == 201
    [result] = sink.events
    assert isinstance(result, LabResult)
    assert headers["Location"].endswith(f"/fhir/Observation/{result.envelope.event_id}")
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert OperationOutcome.model_validate(body).issue[0].severity == "information"
    assert (result.item_code, result.local_code, result.loinc) == ("K", LOCAL_LAB, "2823-3")
    assert (result.value_numeric, result.unit, result.reference_range) == (6.3, "mmol/L",
                                                                           "3.5-5.3")
    assert result.abnormal_flag is not None and result.abnormal_flag.value == "HIGH"
    assert (result.patient.id_type, result.patient.id_number) == (IdType.RESIDENT_ID,
                                                                  PATIENT_ID)


def test_the_same_resource_twice_gives_the_same_id(tmp_path: Path) -> None:
    sink = MemorySink()
    first, again = exchange(tmp_path, sink, [("/fhir/Observation", observation())] * 2)
    assert first[1]["Location"] == again[1]["Location"]
    assert sink.events[0].envelope.event_id == sink.events[1].envelope.event_id


def test_lab_report_gives_one_lab_result_per_contained_observation(tmp_path: Path) -> None:
    sink = MemorySink()
    [(status, _, _)] = exchange(tmp_path, sink, [("/fhir/DiagnosticReport", lipid_report())])
    assert status == 201
    assert [e.item_code for e in sink.events if isinstance(e, LabResult)] == [
        "TC", "TG", "HDL-C", "LDL-C"]
    assert all(isinstance(e, LabResult) and e.order_ref == "LIPID-5234342"
               for e in sink.events)


def test_imaging_report_and_imaging_study(tmp_path: Path) -> None:
    sink = MemorySink()
    replies = exchange(tmp_path, sink, [("/fhir/DiagnosticReport", ultrasound_report()),
                                        ("/fhir/ImagingStudy", imaging_study())])
    assert [status for status, _, _ in replies] == [201, 201]
    report, study = sink.events
    assert isinstance(report, ImagingReport) and isinstance(study, ImagingReport)
    assert (report.item_code, report.modality) == ("US-ABD", Modality.ULTRASOUND)
    assert report.conclusion == "腹部超声未见明显异常。"
    assert (study.item_code, study.modality) == ("CXR", Modality.XRAY)
    assert study.report_ref == "2.16.124.113543.6003.1154777499.30246.19789.3503430045"


def test_condition_service_request_and_dispense(tmp_path: Path) -> None:
    sink = MemorySink()
    replies = exchange(tmp_path, sink, [("/fhir/Condition", condition()),
                                        ("/fhir/ServiceRequest", service_request()),
                                        ("/fhir/MedicationDispense", medication_dispense())])
    assert [status for status, _, _ in replies] == [201, 201, 201]
    diagnosis, order, dispense = sink.events
    assert isinstance(diagnosis, Diagnosis) and isinstance(order, TestOrder)
    assert (diagnosis.icd10, diagnosis.diagnosis_name) == ("A15.000", "肺结核")
    assert diagnosis.case_classification is CaseClassification.CONFIRMED
    assert (order.order_id, order.item_code, order.priority) == ("ORD-88120", "GLU",
                                                                 OrderPriority.URGENT)
    assert isinstance(dispense, StockEvent) and dispense.kind.value == "DISPENSE"
    assert (dispense.drug_code, dispense.local_drug_code, dispense.quantity) == (
        "XJ01CAA040E001010101445", "YP000123", 2.0)
    assert dispense.trace_codes == ["81234560000000000011", "81234560000000000012"]


def test_condition_is_completed_from_the_patient_cache(tmp_path: Path) -> None:
    sink = MemorySink()
    by_record_only = condition(subject={"identifier": {"value": "MR0012345"}})
    exchange(tmp_path, sink, [("/fhir/Patient", patient()), ("/fhir/Condition", by_record_only)])
    [diagnosis] = sink.events
    assert isinstance(diagnosis, Diagnosis)
    assert (diagnosis.patient.id_type, diagnosis.patient.id_number) == (IdType.RESIDENT_ID,
                                                                        PATIENT_ID)
    assert diagnosis.patient.name == "张三" and diagnosis.patient.phone == "13800000000"


def test_transaction_bundle_is_all_published(tmp_path: Path) -> None:
    sink = MemorySink()
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir", bundle())])
    assert status == 200
    response = Bundle.model_validate(body)
    assert response.type == "transaction-response"
    assert [e.response.status for e in response.entry] == [
        "200 OK", "201 Created", "201 Created", "201 Created"]
    kinds = [type(e).__name__ for e in sink.events]
    assert kinds == ["LabResult", "Diagnosis", "TestOrder"]
    assert all(e.patient.name == "张三" for e in sink.events)  # type: ignore[attr-defined]


def test_one_bad_entry_refuses_the_whole_bundle(tmp_path: Path) -> None:
    sink = MemorySink()
    bad = bundle()
    bad["entry"][2]["resource"]["code"]["coding"][0]["code"] = "ZD-UNKNOWN"
    bad["entry"][2]["resource"]["code"]["coding"][0]["system"] = "urn:lead:his:diagnosis"
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir", bad)])
    assert status == 422 and sink.events == []
    [(where, what)] = issues(body)
    assert where == "Bundle.entry[2].resource.code" and "'ZD-UNKNOWN'" in what
    assert OperationOutcome.model_validate(body).issue[0].code == "code-invalid"


def test_invalid_resources_get_400_with_the_element(tmp_path: Path) -> None:
    sink = MemorySink()
    wrong_value = observation()
    wrong_value["valueQuantity"]["value"] = "six point three"
    unknown_element = {**observation(), "colour": "red"}
    replies = exchange(tmp_path, sink, [
        ("/fhir/Observation", wrong_value), ("/fhir/Observation", unknown_element),
        ("/fhir/Observation", "{not json"), ("/fhir/Condition", observation()),
        ("/fhir/Observation", {"resourceType": "Obsrvation", "status": "final"}),
    ])
    assert [status for status, _, _ in replies] == [400] * 5 and sink.events == []
    assert issues(replies[0][2])[0][0] == "Observation.valueQuantity.value"
    assert issues(replies[1][2])[0][0] == "Observation.colour"
    assert "不是 JSON" in issues(replies[2][2])[0][1]
    assert "posted to /fhir/Condition" in issues(replies[3][2])[0][1]
    assert "not a FHIR R4 resource type" in issues(replies[4][2])[0][1]
    dead = (tmp_path / "dead-letter").glob("*.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in dead) == 5


@pytest.mark.parametrize(("path", "change", "where", "status"), [
    ("/fhir/Observation", {"status": "registered"}, "Observation.status", 422),
    ("/fhir/Observation", {"subject": {"reference": "Patient/404"}}, "Observation.subject", 422),
    ("/fhir/Encounter", {"resourceType": "Encounter", "status": "finished",
                         "class": {"code": "AMB"}}, "Encounter", 422),
])
def test_unprocessable_resources_get_422(tmp_path: Path, path: str, change: dict[str, Any],
                                         where: str, status: int) -> None:
    sink = MemorySink()
    body = {**observation(), **change} if "resourceType" not in change else change
    [(got, _, outcome)] = exchange(tmp_path, sink, [(path, body)])
    assert got == status and issues(outcome)[0][0] == where and sink.events == []


def test_batch_bundles_are_refused(tmp_path: Path) -> None:
    batch = {**bundle(), "type": "batch"}
    [(status, _, body)] = exchange(tmp_path, MemorySink(), [("/fhir", batch)])
    assert status == 422 and issues(body)[0][0] == "Bundle.type"


def test_a_body_over_the_limit_gets_413_with_an_operation_outcome(tmp_path: Path) -> None:
    sink = MemorySink()
    big = observation()
    big["note"] = [{"text": "x" * (ConnectorSettings().fhir_max_body_bytes + 1)}]
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir/Observation", big)])
    assert status == 413 and sink.events == []
    assert "请求体超过本接口的上限" in issues(body)[0][1]
    dead = [line for p in (tmp_path / "dead-letter").glob("*.jsonl")
            for line in p.read_text().splitlines()]
    assert len(dead) == 1 and "TOO_LARGE" in dead[0]


def test_kafka_not_taking_it_is_503(tmp_path: Path) -> None:
    sink = MemorySink(fail_with=PublishError("no broker"))
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir/Observation", observation())])
    assert status == 503 and "请稍后重发" in issues(body)[0][1]


def test_metrics_and_capability_statement(tmp_path: Path) -> None:
    settings = ConnectorSettings(member_id="lead", dead_letter_dir=tmp_path)

    async def run() -> tuple[str, dict[str, Any]]:
        app = build_app(settings, MemorySink(), patients=PatientCache(None))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{base}/fhir/Observation", json=observation()):
                    pass
                async with session.get(f"{base}/metrics") as reply:
                    text = await reply.text()
                async with session.get(f"{base}/fhir/metadata") as reply:
                    capability = await reply.json(content_type=None)
        finally:
            await runner.cleanup()
        return text, capability

    text, capability = asyncio.run(run())
    assert 'connector_fhir_requests_total{resource="Observation",status="201"}' in text
    assert 'connector_events_published_total{channel="fhir",event="LabResult"}' in text
    types = {r["type"] for r in capability["rest"][0]["resource"]}
    assert {"Observation", "MedicationDispense", "Condition"} <= types
    assert copy.deepcopy(capability)["fhirVersion"].startswith("4.")


def test_an_observation_entered_in_error_retracts_the_one_sent_before(tmp_path: Path) -> None:
    """The specification's Observation f001 sent final, then again with status
    entered-in-error (same identifier, no value): the second is a retraction naming the
    first by its identifier, under a new event id (not dropped as a resend)."""
    sink = MemorySink()
    withdrawn = observation(status="entered-in-error")
    del withdrawn["valueQuantity"], withdrawn["interpretation"]
    replies = exchange(tmp_path, sink, [("/fhir/Observation", observation()),
                                        ("/fhir/Observation", withdrawn)])
    assert [status for status, _, _ in replies] == [201, 201]
    original, retraction = sink.events
    assert isinstance(original, LabResult) and isinstance(retraction, LabResult)
    assert retraction.status is ResultStatus.RETRACTED and original.status is ResultStatus.FINAL
    assert retraction.order_ref == original.order_ref == "6323"
    assert retraction.item_code == original.item_code == "K"
    assert retraction.envelope.event_id != original.envelope.event_id
    assert retraction.value_numeric is None


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_a_lab_report_withdrawn_retracts_each_of_its_results(tmp_path: Path,
                                                             status: str) -> None:
    sink = MemorySink()
    report = {**lipid_report(), "status": status}
    replies = exchange(tmp_path, sink, [("/fhir/DiagnosticReport", lipid_report()),
                                        ("/fhir/DiagnosticReport", report)])
    assert [got for got, _, _ in replies] == [201, 201]
    originals, retractions = sink.events[:4], sink.events[4:]
    assert all(isinstance(e, LabResult) and e.status is ResultStatus.RETRACTED
               and e.order_ref == "LIPID-5234342" for e in retractions)
    assert {e.envelope.event_id for e in originals}.isdisjoint(
        e.envelope.event_id for e in retractions)


@pytest.mark.parametrize(("code", "verification"), [
    ("refuted", DiagnosisVerification.REFUTED),
    ("entered-in-error", DiagnosisVerification.ENTERED_IN_ERROR),
])
def test_a_refuted_condition_takes_back_the_diagnosis(
    tmp_path: Path, code: str, verification: DiagnosisVerification
) -> None:
    """A suspected measles Condition (provisional), then the same Condition (same
    identifier) with verificationStatus refuted after a negative IgM, as the
    specification's condition-ver-status codes have it."""
    sink = MemorySink()
    measles = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B05.900",
                           "display": "麻疹"}]}

    def status(value: str) -> dict[str, Any]:
        return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                      "condition-ver-status", "code": value}]}

    suspected = condition(code=measles, verificationStatus=status("provisional"))
    ruled_out = condition(code=measles, verificationStatus=status(code),
                          meta={"lastUpdated": "2025-03-02T15:00:00+08:00"})
    replies = exchange(tmp_path, sink, [("/fhir/Condition", suspected),
                                        ("/fhir/Condition", ruled_out)])
    assert [got for got, _, _ in replies] == [201, 201]
    first, taken_back = sink.events
    assert isinstance(first, Diagnosis) and isinstance(taken_back, Diagnosis)
    assert first.verification is DiagnosisVerification.ASSERTED
    assert first.case_classification is CaseClassification.SUSPECTED
    assert taken_back.verification is verification
    assert taken_back.icd10 == first.icd10 == "B05.900"
    assert taken_back.envelope.event_id != first.envelope.event_id
    assert taken_back.diagnosed_at.isoformat() == "2025-03-02T07:00:00+00:00"
def test_covid_bundle_carries_onset_occupation_and_address(tmp_path: Path) -> None:
    sink = MemorySink()
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir", covid_bundle())])
    assert status == 200
    response = Bundle.model_validate(body)
    assert [e.response.status for e in response.entry] == ["201 Created", "200 OK", "200 OK"]
    [covid] = sink.events
    assert isinstance(covid, Diagnosis)
    assert (covid.icd10, covid.onset_date) == ("U07.1", date(2026, 2, 27))
    assert covid.patient.occupation is Occupation.FARMER
    assert (covid.patient.id_number, covid.patient.name) == (COVID_ID, "钱秀英")
    assert covid.patient.address == Address(province="四川", city="绵阳", county="安县",
                                            township="河口镇", village="山下村",
                                            house_number="5组18号")


@pytest.mark.parametrize("occupation", [
    {"text": "散居儿童"},
    {"coding": [{"system": "urn:consortium-hub:occupation-group", "code": "STUDENT"}]},
])
def test_occupation_by_group_name_or_text(tmp_path: Path, occupation: dict[str, Any]) -> None:
    sink = MemorySink()
    exchange(tmp_path, sink, [("/fhir", covid_bundle(occupation))])
    [covid] = sink.events
    expected = Occupation.SCATTERED_CHILD if "text" in occupation else Occupation.STUDENT
    assert isinstance(covid, Diagnosis) and covid.patient.occupation is expected


def test_an_unknown_occupation_is_a_warning_and_no_group(tmp_path: Path) -> None:
    sink = MemorySink()
    unknown = {"coding": [{"system": "urn:oid:2.16.840.1.114222.4.5.327", "code": "0050",
                           "display": "Marketing managers"}]}
    [(status, _, body)] = exchange(tmp_path, sink, [("/fhir", covid_bundle(unknown))])
    assert status == 200
    [covid] = sink.events
    assert isinstance(covid, Diagnosis) and covid.patient.occupation is None
    outcome = Bundle.model_validate(body).entry[2].response.outcome
    assert outcome is not None
    [issue] = outcome.issue
    assert (issue.severity, issue.expression) == ("warning", ["Bundle.entry[2].resource.value[x]"])
    assert "0050" in issue.diagnostics and "Marketing managers" in issue.diagnostics


def test_the_patient_extension_and_the_address_country(tmp_path: Path) -> None:
    sink = MemorySink()
    teacher = {**patient(), "extension": [{
        "url": "urn:consortium-hub:fhir:occupation-group",
        "valueCodeableConcept": {"text": "教师"}}]}
    teacher["address"] = [{**teacher["address"][0], "country": "HKG"}]
    exchange(tmp_path, sink, [("/fhir/Patient", teacher), ("/fhir/Condition", condition())])
    [diagnosis] = sink.events
    assert isinstance(diagnosis, Diagnosis)
    assert diagnosis.patient.occupation is Occupation.TEACHER
    assert diagnosis.patient.address is not None and diagnosis.patient.address.country == "HKG"


@pytest.mark.parametrize(("onset", "expected"), [
    ({"onsetPeriod": {"start": "2025-02-25T20:00:00+08:00"}}, date(2025, 2, 25)),
    ({"onsetString": "2025-02-24 夜间"}, date(2025, 2, 24)),
    ({"onsetAge": {"value": 36, "unit": "a", "system": "http://unitsofmeasure.org",
                   "code": "a"}}, None),
])
def test_condition_onset_forms(tmp_path: Path, onset: dict[str, Any],
                               expected: date | None) -> None:
    sink = MemorySink()
    resource = {k: v for k, v in condition().items() if k != "onsetDateTime"}
    exchange(tmp_path, sink, [("/fhir/Condition", {**resource, **onset})])
    [diagnosis] = sink.events
    assert isinstance(diagnosis, Diagnosis) and diagnosis.onset_date == expected
