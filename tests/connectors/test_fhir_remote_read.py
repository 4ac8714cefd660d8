"""Remote diagnosis over FHIR R4: the examining member's ServiceRequest + Task + ImagingStudy
in, the reading centre's Task steps, DiagnosticReport and critical values in, the ordering
side's read-back Communication in, precise refusals, and the hub's remote-read events out
(validated with fhir.resources). The shapes are the real examples of
tests/connectors/fhir_remote_read_examples.py."""

from __future__ import annotations

import asyncio
import base64
import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.task import Task

from connectors.member.feedback_delivery import FeedbackDelivery, FhirTarget
from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.mapping import map_bundle, map_resource
from connectors.member.fhir.remote_read_out import read_exchange
from connectors.member.fhir.resources import parse_resource
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, MemorySink
from schemas.models import Event, ImagingReport, TestOrder
from schemas.models.clinical import OrderPriority
from schemas.models.common import IdType, Patient
from schemas.models.coordination import TaskStatus
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueStatus,
    CriticalValueUpdate,
    PatientSetting,
    ReadAction,
    Reader,
    ReadModality,
    ReadReport,
    ReadRequest,
    ReadStatus,
    ReadUpdate,
)
from tests.connectors.fhir_remote_read_examples import (
    ACCESSION,
    REQUEST_ID,
    RESIDENT_ID,
    STUDY_UID,
    WADO,
    centre_task,
    ct_report,
    imaging_study,
    read_back,
    request_bundle,
    service_request,
)
from tests.connectors.test_fhir_referral import exchange, refusal

ZONE = ZoneInfo("Asia/Shanghai")
PROVENANCE = {"resourceType": "Provenance", "id": "prov-1",
              "target": [{"reference": "DiagnosticReport/rpt-ct-88301"}],
              "recorded": "2025-03-01T15:02:00+08:00",
              "reason": [{"text": "补充：左侧额叶小片挫裂伤"}],
              "agent": [{"who": {"display": "王建华"}}],
              "entity": [{"role": "revision", "what": {"reference": "DiagnosticReport/old"}}]}


def mapped(member: str, body: dict[str, Any]) -> list[Event]:
    ctx = FhirContext(member, CodeMapper.load(member, None), ZONE, PatientCache(None))
    resource = parse_resource(body)
    entries = map_bundle(ctx, resource) if body["resourceType"] == "Bundle" \
        else [map_resource(ctx, resource)]
    return [event for entry in entries for event in entry.events]


def test_the_examining_members_bundle_gives_one_read_request() -> None:
    [request] = mapped("thc-river", request_bundle())  # the Task and the study: none of their own
    assert isinstance(request, ReadRequest)
    assert (request.accession, request.modality, request.item_code, request.local_code) == (
        ACCESSION, ReadModality.CT, "CT-HEAD", "HKJ04")
    assert (request.priority, request.setting) == (OrderPriority.EMERGENCY,
                                                   PatientSetting.EMERGENCY)
    assert (request.study_uid, request.wado_url) == (STUDY_UID, WADO)
    assert (request.clinical_question, request.ordering_doctor, request.ordering_department) == (
        "排除颅内出血", "李明", "急诊科")
    assert (request.patient.id_type, request.patient.id_number, request.patient.name) == (
        IdType.RESIDENT_ID, RESIDENT_ID, "赵建国")
    assert request.ordered_at == datetime(2025, 3, 1, 1, 5, tzinfo=UTC)
    assert request.images_available_at == datetime(2025, 3, 1, 1, 28, 40, tzinfo=UTC)
    assert mapped("thc-river", request_bundle())[0].envelope.event_id == \
        request.envelope.event_id  # a resend is the same event


def test_an_order_or_report_without_remote_read_keeps_its_recognition_path() -> None:
    order = service_request()
    order["category"] = order["category"][:1]  # Imaging only: an order, not a read request
    order["subject"] = {"identifier": {"value": RESIDENT_ID}}
    del order["encounter"], order["requester"]
    assert [type(e) for e in mapped("thc-river", order)] == [TestOrder]
    report = ct_report()
    del report["basedOn"], report["result"]
    report["code"]["coding"] = [{"system": "urn:lead:exam", "code": "CT004"}]
    assert [type(e) for e in mapped("lead", report)] == [ImagingReport]


def test_the_centres_task_steps_and_the_images_become_read_updates() -> None:
    claimed, = mapped("lead", centre_task("claimed"))
    assert isinstance(claimed, ReadUpdate)
    assert (claimed.request_id, claimed.action) == (REQUEST_ID, ReadAction.CLAIMED)
    assert claimed.reader == Reader(reader_id="R1024", name="陈静", title="主治医师")
    reassigned, = mapped("lead", centre_task("reassigned"))
    assert isinstance(reassigned, ReadUpdate) and reassigned.reader is None
    assert reassigned.reassigned_to is not None and reassigned.reassigned_to.reader_id == "R1024"
    on_hold = centre_task("claimed", status="on-hold")
    del on_hold["businessStatus"]  # the status alone says information is wanted
    on_hold["statusReason"] = {"text": "请补充既往头颅CT"}
    asked, = mapped("lead", on_hold)
    assert isinstance(asked, ReadUpdate)
    assert (asked.action, asked.note) == (ReadAction.INFO_REQUESTED, "请补充既往头颅CT")
    study = imaging_study()
    study["basedOn"] = [{"type": "ServiceRequest", "identifier": {
        "system": "urn:consortium-hub:read-request-id", "value": REQUEST_ID}}]
    images, = mapped("thc-river", study)
    assert isinstance(images, ReadUpdate) and images.action is ReadAction.IMAGES_AVAILABLE
    assert images.request_id == REQUEST_ID and STUDY_UID in (images.note or "")


def test_quirks_a_member_sends_are_read() -> None:
    released = centre_task("claimed")
    released["businessStatus"] = {"text": "已释放"}  # the Chinese label, no coding
    step, = mapped("lead", released)
    assert isinstance(step, ReadUpdate) and step.action is ReadAction.RELEASED
    claimed = centre_task("other")
    claimed["businessStatus"] = {"coding": [{"system": "urn:lead:ris", "code": "CLAIMED"}]}
    step, = mapped("lead", claimed)  # our code in the RIS's own system, upper case
    assert isinstance(step, ReadUpdate) and step.action is ReadAction.CLAIMED
    report = ct_report("appended")  # appended: an amendment, the old one named by Provenance
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "DiagnosticReport/rpt-ct-88301", "resource": report,
         "request": {"method": "PUT", "url": "DiagnosticReport/rpt-ct-88301"}},
        {"fullUrl": "DiagnosticReport/old", "request": {"method": "PUT",
                                                        "url": "DiagnosticReport/old"},
         "resource": {**ct_report(), "id": "old", "identifier": [{"value": "CT-88290"}]}},
        {"resource": PROVENANCE, "request": {"method": "POST", "url": "Provenance"}}]}
    amended = [e for e in mapped("lead", bundle) if isinstance(e, ReadUpdate)
               and e.action is ReadAction.AMENDED_REPORT]
    assert len(amended) == 1 and amended[0].report is not None
    assert (amended[0].report.supersedes, amended[0].report.amend_reason) == (
        "CT-88290", "补充：左侧额叶小片挫裂伤")
    plain = ct_report()
    del plain["text"], plain["resultsInterpreter"][1]
    plain["presentedForm"] = [{"contentType": "text/plain; charset=utf-8",
                               "data": base64.b64encode("双侧脑室对称".encode()).decode()}]
    plain["performer"].append({"reference": "#reviewer"})  # the reviewer as performer
    final, *_ = mapped("lead", plain)
    assert isinstance(final, ReadUpdate) and final.report is not None
    assert final.report.findings == "双侧脑室对称"
    assert final.report.reviewer is not None and final.report.reviewer.reader_id == "R0007"


def test_a_final_report_carries_its_critical_value_and_the_read_back_closes_the_loop() -> None:
    report, raised, checked = mapped("lead", ct_report())
    assert isinstance(report, ReadUpdate) and report.report is not None
    assert (report.action, report.report.report_ref) == (ReadAction.FINAL_REPORT, "CT-88301")
    assert report.report.impression == "右侧颞叶脑内血肿（急性期），伴中线移位"
    assert report.report.findings is not None and report.report.findings.startswith("右侧颞叶")
    assert report.report.writer is not None and report.report.writer.reader_id == "R1024"
    assert report.report.reviewer is not None and report.report.reviewer.reader_id == "R0007"
    assert isinstance(raised, CriticalValueUpdate) and isinstance(checked, CriticalValueUpdate)
    assert (raised.action, raised.critical_id, checked.action) == (
        CriticalAction.RAISED, "WJZ-2025-0311", CriticalAction.DOUBLE_CHECKED)
    assert raised.by is not None and raised.by.reader_id == "R1024"
    assert checked.by is not None and checked.by.reader_id == "R0007"
    ack, = mapped("thc-river", read_back())
    assert isinstance(ack, CriticalValueUpdate)
    assert (ack.request_id, ack.critical_id, ack.action) == (
        REQUEST_ID, "WJZ-2025-0311", CriticalAction.ACKNOWLEDGED)
    assert ack.read_back is not None and "32毫升" in ack.read_back
    assert ack.by is not None and ack.by.reader_id == "HK-0231"
    resolved, = mapped("thc-river", read_back("危急值已处置：已转上级医院神经外科"))
    assert isinstance(resolved, CriticalValueUpdate) and resolved.action is CriticalAction.RESOLVED


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    holder = changed
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return changed


def test_what_cannot_be_read_is_refused_naming_the_element(tmp_path: Path) -> None:
    no_accession = _without(request_bundle(), "entry", 4, "resource", "identifier")
    other_requester = request_bundle()
    other_requester["entry"][4]["resource"]["requester"] = {"reference": "Organization/o2"}
    other_requester["entry"].append({"resource": {
        "resourceType": "Organization", "id": "o2",
        "identifier": [{"system": "urn:consortium-hub:member", "value": "chc-east"}]},
        "request": {"method": "POST", "url": "Organization"}})
    no_modality = copy.deepcopy(request_bundle())
    sr = no_modality["entry"][4]["resource"]
    sr["code"] = {"coding": [{"system": "urn:thc-river:exam", "code": "X-999"}], "text": "检查"}
    no_modality["entry"][6]["resource"]["series"][0]["modality"]["code"] = "OT"
    unknown_step = centre_task("signed-off", status="draft-ish")
    unknown_step["status"] = "failed"
    no_reader = centre_task("claimed")
    no_reader["owner"] = {"type": "Organization", "display": "影像诊断中心"}
    no_reviewer = ct_report()
    del no_reviewer["resultsInterpreter"][1]
    amended_alone = ct_report("amended")
    no_read_back = _without(read_back(), "payload")
    half_named = ct_report()
    half_named["basedOn"][0]["identifier"]["value"] = ACCESSION  # the member id left out
    sink = MemorySink()
    lead = exchange(tmp_path, "lead", sink, [
        ("POST", "/fhir/Task", unknown_step), ("PUT", "/fhir/Task/hub-task", no_reader),
        ("POST", "/fhir/DiagnosticReport", no_reviewer),
        ("POST", "/fhir/DiagnosticReport", amended_alone),
        ("POST", "/fhir/DiagnosticReport", half_named)])
    river = exchange(tmp_path, "thc-river", sink, [
        ("POST", "/fhir", no_accession), ("POST", "/fhir", other_requester),
        ("POST", "/fhir", no_modality), ("POST", "/fhir/Communication", no_read_back)])
    answers = [refusal(reply) for reply in [*lead, *river]]
    assert [(status, where) for status, where, _ in answers] == [
        (422, "Task.businessStatus"), (422, "Task.owner"),
        (422, "DiagnosticReport.resultsInterpreter"), (422, "DiagnosticReport.extension"),
        (422, "DiagnosticReport.basedOn"),
        (422, "Bundle.entry[4].resource.identifier"),
        (422, "Bundle.entry[4].resource.requester"),
        (422, "Bundle.entry[4].resource.category"), (422, "Communication.payload")]
    assert "审核" in answers[2][2] and "复述" in answers[8][2]
    assert sink.events == []


def _status(action: ReadAction, report: ReadReport | None = None) -> ReadStatus:
    return ReadStatus(
        envelope=ReadStatus.new_envelope("thc-river"), status_id="st-1", request_id=REQUEST_ID,
        examining_member="thc-river", reading_member="lead", modality=ReadModality.CT,
        priority=OrderPriority.EMERGENCY, action=action,
        status=TaskStatus.COMPLETED if report else TaskStatus.IN_PROGRESS,
        business_status=action.value, by_member="lead",
        by_reader=Reader(reader_id="R0007", name="王建华", title="主任医师"),
        at=datetime(2025, 3, 1, 1, 52, tzinfo=UTC),
        due_at=datetime(2025, 3, 1, 2, 28, 40, tzinfo=UTC),
        patient=Patient(id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID, name="赵建国"),
        report=report)


def _request_event() -> ReadRequest:
    [request] = mapped("thc-river", request_bundle())
    assert isinstance(request, ReadRequest)
    return request


def test_outbound_events_are_valid_fhir_the_other_side_can_answer() -> None:
    method, path, bundle = read_exchange(_request_event(), ZONE)
    checked = Bundle.model_validate(bundle)
    assert (method, path) == ("POST", "")
    kinds = [e.resource.get_resource_type() for e in checked.entry]
    assert kinds == ["Patient", "ServiceRequest", "Task", "Endpoint", "ImagingStudy"]
    assert checked.entry[3].resource.address == WADO
    assert checked.entry[1].resource.identifier[1].value == ACCESSION
    task = bundle["entry"][2]["resource"]  # the centre's RIS claims the Task it was given
    task.update(status="in-progress", owner={"display": "陈静", "identifier": {"value": "R1024"}},
                businessStatus={"coding": [{"code": "claimed"}]})
    claimed, = mapped("lead", task)
    assert isinstance(claimed, ReadUpdate)
    assert (claimed.request_id, claimed.action) == (REQUEST_ID, ReadAction.CLAIMED)
    assert claimed.reader is not None and claimed.reader.reader_id == "R1024"

    final = ReadReport(report_ref="CT-88301", findings="右侧颞叶高密度影", impression="脑内血肿",
                       writer=Reader(reader_id="R1024", name="陈静"),
                       reviewer=Reader(reader_id="R0007", name="王建华"))
    method, path, sent = read_exchange(_status(ReadAction.FINAL_REPORT, final), ZONE)
    report = Bundle.model_validate(sent).entry[0].resource
    assert (method, report.status, report.conclusion) == ("POST", "final", "脑内血肿")
    assert [r.identifier.value for r in report.resultsInterpreter] == ["R1024", "R0007"]
    assert base64.b64decode(sent["entry"][0]["resource"]["presentedForm"][0]["data"]).decode() \
        == "右侧颞叶高密度影"
    amended = final.model_copy(update={"report_ref": "CT-88302", "supersedes": "CT-88301"})
    _, _, sent = read_exchange(_status(ReadAction.AMENDED_REPORT, amended), ZONE)
    assert sent["entry"][0]["resource"]["status"] == "amended"
    assert sent["entry"][0]["resource"]["extension"][0]["valueIdentifier"]["value"] == "CT-88301"
    method, path, task = read_exchange(_status(ReadAction.CLAIMED), ZONE)
    assert (method, path.split("/")[0]) == ("PUT", "Task")
    assert Task.model_validate(task).owner.identifier.value == "R0007"

    critical = CriticalValueStatus(
        envelope=CriticalValueStatus.new_envelope("thc-river"), status_id="cv-1",
        request_id=REQUEST_ID, critical_id="WJZ-2025-0311", examining_member="thc-river",
        reading_member="lead", action=CriticalAction.DELIVERED, state="DELIVERED",
        finding="颅内出血", by_member="lead", at=datetime(2025, 3, 1, 1, 53, tzinfo=UTC),
        patient=Patient(id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID))
    method, path, communication = read_exchange(critical, ZONE)
    assert (method, path.split("/")[0]) == ("PUT", "Communication")
    Communication.model_validate(communication)
    answer = {key: communication[key] for key in ("resourceType", "basedOn", "about", "subject")}
    answer.update(status="completed", sent="2025-03-01T09:55:00+08:00",
                  payload=[{"contentString": "复述：颅内出血"}])
    ack, = mapped("thc-river", answer)  # the township answers keeping about and basedOn
    assert isinstance(ack, CriticalValueUpdate)
    assert (ack.critical_id, ack.action, ack.read_back) == (
        "WJZ-2025-0311", CriticalAction.ACKNOWLEDGED, "复述：颅内出血")


def test_feedback_delivery_sends_the_report_home(tmp_path: Path) -> None:
    received: list[tuple[str, str, dict[str, Any]]] = []

    async def take(request: web.Request) -> web.Response:
        received.append((request.method, request.path, await request.json()))
        return web.json_response({}, status=200)

    async def run() -> None:
        app = web.Application()
        app.router.add_route("*", "/fhir{tail:.*}", take)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            target = FhirTarget(f"http://127.0.0.1:{runner.addresses[0][1]}/fhir/", zone=ZONE)
            delivery = FeedbackDelivery(target)
            final = ReadReport(report_ref="CT-88301", impression="脑内血肿",
                               writer=Reader(reader_id="R1024"),
                               reviewer=Reader(reader_id="R0007"))
            for event in (_status(ReadAction.FINAL_REPORT, final), _status(ReadAction.CLAIMED)):
                assert await delivery.deliver(event)
        finally:
            await runner.cleanup()

    asyncio.run(run())
    assert [(m, p.split("/")[2] if p.count("/") > 1 else "") for m, p, _ in received] == [
        ("POST", ""), ("PUT", "Task")]
    assert received[0][2]["entry"][0]["resource"]["resourceType"] == "DiagnosticReport"
