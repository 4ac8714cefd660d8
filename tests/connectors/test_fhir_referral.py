"""Two-way referral over FHIR R4: a referral ServiceRequest and its Task in, a party's Task
steps in (POST, PUT, PATCH), precise refusals, and the hub's referral events out as a
transaction Bundle and Task updates (validated with fhir.resources). The shapes are the
real examples of tests/connectors/fhir_referral_examples.py."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task

from connectors.member.feedback_delivery import FeedbackDelivery, FhirTarget
from connectors.member.fhir.referral_codes import BUSINESS_STATUS_SYSTEM
from connectors.member.fhir.referral_out import fhir_id, referral_exchange
from connectors.member.fhir.server import build_app
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import MemorySink
from connectors.settings import ConnectorSettings
from schemas.models import ReferralRequest, ReferralStatus, ReferralUpdate
from schemas.models.clinical import OrderPriority
from schemas.models.common import IdType, Patient
from schemas.models.coordination import TaskStatus
from schemas.models.referral import (
    Booking,
    DocumentKind,
    ReferralAction,
    ReferralDirection,
    ReferralKind,
)
from tests.connectors.fhir_referral_examples import (
    REFERRAL_NO,
    RESIDENT_ID,
    STUDY_UID,
    answer_task,
    booked_task,
    referral_bundle,
    service_request,
)

ZONE = ZoneInfo("Asia/Shanghai")
RID = f"chc-east:{REFERRAL_NO}"
Reply = tuple[int, dict[str, Any]]


def exchange(tmp_path: Path, member: str, sink: MemorySink,
             calls: list[tuple[str, str, Any]], content_type: str | None = None) -> list[Reply]:
    """Send each (method, path, body) to the member's endpoint and collect the replies."""
    settings = ConnectorSettings(member_id=member, dead_letter_dir=tmp_path / "dead-letter")

    async def run() -> list[Reply]:
        runner = web.AppRunner(build_app(settings, sink, patients=PatientCache(None)))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        replies: list[Reply] = []
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
                for method, path, body in calls:
                    headers = {"Content-Type": content_type} if content_type else None
                    async with s.request(method, base + path, json=body,
                                         headers=headers) as reply:
                        replies.append((reply.status, await reply.json(content_type=None)))
        finally:
            await runner.cleanup()
        return replies

    return asyncio.run(run())


def refusal(reply: Reply) -> tuple[int, str, str]:
    status, body = reply
    issue = OperationOutcome.model_validate(body).issue[0]
    return status, issue.expression[0], issue.diagnostics


def test_a_transaction_bundle_gives_one_referral_request(tmp_path: Path) -> None:
    sink = MemorySink()
    [(status, body)] = exchange(tmp_path, "chc-east", sink, [("POST", "/fhir", referral_bundle())])
    assert status == 200, body
    assert [e["response"]["status"] for e in body["entry"]] == [
        "200 OK", "200 OK", "200 OK", "200 OK", "201 Created", "201 Created"]
    [request] = sink.events
    assert isinstance(request, ReferralRequest)
    assert (request.referral_ref, request.to_member, request.direction) == (
        REFERRAL_NO, "lead", ReferralDirection.UP)
    assert (request.patient.id_type, request.patient.id_number, request.patient.name) == (
        IdType.RESIDENT_ID, RESIDENT_ID, "王秀英")
    assert (request.priority, request.kind, request.icd10) == (
        OrderPriority.URGENT, ReferralKind.OUTPATIENT, "I20.0")
    assert (request.to_service, request.to_service_name) == ("0302", "心血管内科")
    assert request.diagnosis_name == "不稳定型心绞痛" and request.reason.startswith("反复胸痛")
    assert request.requested_by == date(2025, 3, 3)  # Task.restriction.period.end
    assert request.referring_doctor == "李医生"
    assert [(d.kind, d.reference) for d in request.documents] == [
        (DocumentKind.SUMMARY, "DOC-88121"),
        (DocumentKind.DICOM_STUDY, STUDY_UID),
        (DocumentKind.PRESCRIPTION, "RX-55012")]
    assert request.insurance is not None
    assert (request.insurance.insurance_type, request.insurance.insured_number) == (
        "310", "51070000123456")
    assert request.requested_at == datetime(2025, 3, 1, 1, 12, tzinfo=UTC)


def test_a_resent_referral_keeps_its_event_id_and_a_lone_service_request_is_read(
        tmp_path: Path) -> None:
    sink = MemorySink()
    alone = service_request()
    alone["performer"] = [{"reference": "#cardiology"}]  # BSeR: a PractitionerRole
    alone["contained"].append({"resourceType": "PractitionerRole", "id": "cardiology",
                               "organization": {"display": "安县人民医院"}})  # by name only
    alone["subject"] = {"identifier": {"type": {"coding": [{"code": "NNCHN"}]},
                                       "value": RESIDENT_ID}}
    del alone["insurance"]
    replies = exchange(tmp_path, "chc-east", sink, [
        ("POST", "/fhir", referral_bundle()), ("POST", "/fhir/ServiceRequest", alone)])
    assert [status for status, _ in replies] == [200, 201]
    first, second = sink.events
    assert isinstance(second, ReferralRequest) and second.to_member == "lead"
    assert first.envelope.event_id == second.envelope.event_id


def test_a_downward_referral_returns_the_upward_one(tmp_path: Path) -> None:
    sink = MemorySink()
    down = service_request()
    down["performer"] = [{"type": "Organization",
                          "identifier": {"system": "urn:consortium-hub:member",
                                         "value": "chc-east"}}]
    down["basedOn"] = [{"reference": "ServiceRequest/x", "identifier": {"value": REFERRAL_NO}}]
    down["code"] = {"text": "下转康复"}
    del down["insurance"]
    down["subject"] = {"identifier": {"type": {"coding": [{"code": "NNCHN"}]},
                                      "value": RESIDENT_ID}}
    [(status, _)] = exchange(tmp_path, "lead", sink, [("POST", "/fhir/ServiceRequest", down)])
    assert status == 201
    [request] = sink.events
    assert isinstance(request, ReferralRequest)
    assert (request.direction, request.returns_referral, request.kind) == (
        ReferralDirection.DOWN, RID, ReferralKind.REHABILITATION)


def test_the_receivers_task_steps_become_referral_updates(tmp_path: Path) -> None:
    sink = MemorySink()
    rejected = answer_task("rejected", statusReason={
        "coding": [{"system": "urn:lead:reasons", "code": "NO-CAPACITY"}],
        "text": "本周心内科专家号已满"})
    arrived = answer_task("in-progress", output=[{
        "type": {"text": "就诊"}, "valueReference": {
            "type": "Encounter", "identifier": {"value": "MZ20250305-0042"}}}])
    completed = answer_task("completed", contained=[
        {"resourceType": "CarePlan", "id": "plan", "status": "active", "intent": "plan",
         "subject": {"reference": "Patient/pat-wang"},
         "description": "冠心病二级预防，社区每2周随访血压心率"},
        {"resourceType": "DocumentReference", "id": "discharge", "status": "current",
         "identifier": [{"value": "CY-2025-0311"}],
         "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
         "content": [{"attachment": {"url": "https://emr.lead.example/cy/0311"}}]}],
        output=[{"type": {"text": "康复计划"}, "valueReference": {"reference": "#plan"}},
                {"type": {"text": "出院小结"}, "valueReference": {"reference": "#discharge"}}])
    onward = answer_task("rejected", "referred-onward", output=[{
        "type": {"text": "转往"}, "valueReference": {
            "type": "Organization", "identifier": {"system": "urn:consortium-hub:member",
                                                   "value": "mch"}}}])
    replies = exchange(tmp_path, "lead", sink, [
        ("PUT", "/fhir/Task/task-zz-0007", answer_task("accepted")),
        ("PUT", "/fhir/Task/task-zz-0007", booked_task()),
        ("POST", "/fhir/Task", rejected), ("POST", "/fhir/Task", arrived),
        ("PATCH", "/fhir/Task/task-zz-0007", completed), ("POST", "/fhir/Task", onward)])
    assert [status for status, _ in replies] == [201] * 6, replies
    updates = [e for e in sink.events if isinstance(e, ReferralUpdate)]
    assert [u.action for u in updates] == [
        ReferralAction.ACCEPTED, ReferralAction.BOOKED, ReferralAction.REJECTED,
        ReferralAction.ARRIVED, ReferralAction.COMPLETED, ReferralAction.REFERRED_ONWARD]
    assert {(u.referral_id, u.to_member, u.envelope.member_id) for u in updates} == {
        (RID, "lead", "lead")}
    assert updates[1].booking == Booking(
        pool_id="lead-card-2025w10", slot_id="CARD-0305-0900", location="门诊楼3楼心内科",
        starts_at=datetime(2025, 3, 5, 1, 0, tzinfo=UTC))
    assert (updates[2].reason_code, updates[2].note) == ("NO-CAPACITY", "本周心内科专家号已满")
    assert updates[3].encounter_ref == "MZ20250305-0042"
    assert updates[4].downward_plan == "冠心病二级预防，社区每2周随访血压心率"
    assert [(d.kind, d.reference) for d in updates[4].documents] == [
        (DocumentKind.REHABILITATION_PLAN, "CarePlan/plan"),
        (DocumentKind.DISCHARGE_SUMMARY, "CY-2025-0311")]
    assert updates[5].onward_to == "mch"
    assert len({u.envelope.event_id for u in updates}) == 6


def test_quirks_a_member_sends_are_read(tmp_path: Path) -> None:
    """businessStatus as text only, an unknown extension, the referrer cancelling with no
    owner's identifier but its name, meta changing between resends of one version, a
    business status left behind by the status."""
    sink = MemorySink()
    booked_as_text = booked_task()
    booked_as_text["businessStatus"] = {"text": "Booked"}
    booked_as_text["extension"] = [{"url": "http://his.example/ext/queue", "valueString": "A3"}]
    resend = copy.deepcopy(booked_as_text)
    resend["meta"] = {"versionId": "7", "lastUpdated": "2025-03-01T10:40:00+08:00"}
    stale = booked_task()  # the HIS moved the status on and left the business status
    stale.update(status="in-progress", lastModified="2025-03-05T09:05:00+08:00")
    cancel = answer_task("cancelled", owner={"display": "安县人民医院"})
    del cancel["requester"]  # the sender is the referrer
    [east] = exchange(tmp_path, "chc-east", sink, [("POST", "/fhir/Task", cancel)])
    replies = exchange(tmp_path, "lead", sink, [("POST", "/fhir/Task", booked_as_text),
                                                ("POST", "/fhir/Task", resend),
                                                ("PUT", "/fhir/Task/task-zz-0007", stale)])
    assert [east[0], *(s for s, _ in replies)] == [201, 201, 201, 201]
    cancelled, booked, again, arrived = sink.events
    assert isinstance(arrived, ReferralUpdate) and arrived.action is ReferralAction.ARRIVED
    assert isinstance(cancelled, ReferralUpdate) and isinstance(booked, ReferralUpdate)
    assert (cancelled.action, cancelled.referral_id, cancelled.to_member) == (
        ReferralAction.CANCELLED, RID, "lead")
    assert booked.action is ReferralAction.BOOKED
    assert booked.envelope.event_id == again.envelope.event_id


def test_what_cannot_be_read_is_refused_naming_the_element(tmp_path: Path) -> None:
    sink = MemorySink()
    stranger = answer_task("accepted", owner={"reference": "Organization/x", "display": "外院"})
    alone = copy.deepcopy(referral_bundle())
    alone["entry"] = [e for e in alone["entry"]
                      if e["resource"]["resourceType"] != "ServiceRequest"]
    no_pool = booked_task()
    no_pool["contained"][0]["schedule"] = {"display": "心内科"}
    no_diagnosis = copy.deepcopy(referral_bundle())
    no_diagnosis["entry"][4]["resource"].pop("reasonCode")
    as_another = service_request()
    as_another["performer"] = [{"display": "安县人民医院"}]
    as_another["requester"] = {"type": "Organization", "identifier": {
        "system": "urn:consortium-hub:member", "value": "chc-west"}}
    replies = exchange(tmp_path, "chc-east", sink, [
        ("POST", "/fhir/Task", stranger), ("POST", "/fhir", alone),
        ("POST", "/fhir/Task", no_pool), ("POST", "/fhir/Task", answer_task("failed")),
        ("POST", "/fhir", no_diagnosis), ("POST", "/fhir/ServiceRequest", as_another)])
    found = [refusal(r) for r in replies]
    assert [(status, where) for status, where, _ in found] == [
        (422, "Task.owner"), (422, "Bundle.entry[4].resource.focus"), (422, "Task.output"),
        (422, "Task.status"), (422, "Bundle.entry[4].resource.reasonCode"),
        (422, "ServiceRequest.requester")]
    assert "urn:consortium-hub:member" in found[0][2]
    assert "requested" in found[1][2] and "referral-pool" in found[2][2]
    assert "info-requested" in found[3][2] and "chc-west" in found[5][2]
    assert sink.events == []


def test_only_a_whole_task_is_put_or_patched(tmp_path: Path) -> None:
    patch = [{"op": "replace", "path": "/status", "value": "accepted"}]
    [json_patch] = exchange(tmp_path, "lead", MemorySink(), [
        ("PATCH", "/fhir/Task/task-zz-0007", patch)], content_type="application/json-patch+json")
    [not_a_task] = exchange(tmp_path, "lead", MemorySink(), [
        ("PUT", "/fhir/ServiceRequest/sr-zz-0007", service_request())])
    assert refusal(json_patch)[:2] == (415, "Task")
    assert refusal(not_a_task)[:2] == (405, "ServiceRequest")


def referral_status(party: str, **changes: Any) -> ReferralStatus:
    fields: dict[str, Any] = {
        "envelope": ReferralStatus.new_envelope(
            party, occurred_at=datetime(2025, 3, 1, 3, tzinfo=UTC)),
        "status_id": "s-1", "referral_id": RID, "referrer_id": "chc-east", "receiver_id": "lead",
        "direction": ReferralDirection.UP, "kind": ReferralKind.OUTPATIENT,
        "priority": OrderPriority.URGENT, "action": ReferralAction.BOOKED,
        "status": TaskStatus.ACCEPTED, "business_status": "BOOKED", "by_member": "lead",
        "at": datetime(2025, 3, 1, 3, tzinfo=UTC), "due_at": datetime(2025, 3, 5, 1, tzinfo=UTC),
        "patient": Patient(id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID, name="王秀英"),
        "booking": Booking(pool_id="lead-card-2025w10", slot_id="CARD-0305-0900",
                           starts_at=datetime(2025, 3, 5, 1, tzinfo=UTC), location="心内科"),
        "reason": "已预约预留号源", "reason_code": "BOOKED_IN_RESERVE",
    }
    fields.update(changes)
    return ReferralStatus.model_validate(fields)


def the_request(tmp_path: Path) -> ReferralRequest:
    sink = MemorySink()
    exchange(tmp_path, "chc-east", sink, [("POST", "/fhir", referral_bundle())])
    request = sink.events[0]
    assert isinstance(request, ReferralRequest)
    return request


def test_outbound_request_and_status_are_valid_fhir_the_receiver_can_answer(
        tmp_path: Path) -> None:
    request = the_request(tmp_path)
    method, path, bundle = referral_exchange(request, ZONE)
    assert (method, path) == ("POST", "")
    checked = Bundle.model_validate(bundle)
    kinds = [e.resource.get_resource_type() for e in checked.entry]
    assert kinds == ["Patient", "ServiceRequest", "Task", "Coverage"]
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"][0]["value"] == RESIDENT_ID
    assert patient["name"][0]["text"] == "王秀英"
    sr, sent_task = bundle["entry"][1]["resource"], bundle["entry"][2]["resource"]
    assert sr["category"][0]["coding"][0]["code"] == "3457005"
    assert (sent_task["status"], sent_task["owner"]["identifier"]["value"]) == ("requested", "lead")
    assert bundle["entry"][2]["request"] == {"method": "PUT", "url": f"Task/{fhir_id(RID)}"}

    method, path, updated = referral_exchange(referral_status("chc-east"), ZONE)
    assert (method, path) == ("PUT", f"Task/{fhir_id(RID)}")
    checked_task = Task.model_validate(updated)
    assert checked_task.status == "accepted"
    assert checked_task.businessStatus.coding[0].system == BUSINESS_STATUS_SYSTEM
    assert (checked_task.businessStatus.coding[0].code, checked_task.businessStatus.text) == (
        "booked", "已预约")
    assert checked_task.statusReason.text == "已预约预留号源"
    assert updated["restriction"]["period"]["end"] == "2025-03-05T09:00:00+08:00"
    assert checked_task.contained[0].get_resource_type() == "Appointment"

    # the receiver's HIS answers on the Task it was given: the same referral
    answered = copy.deepcopy(sent_task)
    answered.update(status="accepted", lastModified="2025-03-01T10:00:00+08:00")
    answered["for"] = {"identifier": patient["identifier"][0]}
    sink = MemorySink()
    [(status, _)] = exchange(tmp_path, "lead", sink, [("PUT", f"/fhir/Task/{answered['id']}",
                                                       answered)])
    assert status == 201
    [update] = sink.events
    assert isinstance(update, ReferralUpdate)
    assert (update.referral_id, update.to_member, update.action) == (
        RID, "lead", ReferralAction.ACCEPTED)


def test_feedback_delivery_posts_the_bundle_and_puts_the_task(tmp_path: Path) -> None:
    request = the_request(tmp_path)
    received: list[tuple[str, str]] = []

    async def receive(http: web.Request) -> web.Response:
        received.append((http.method, http.path))
        return web.json_response({}, status=200)

    async def run() -> list[bool]:
        app = web.Application()
        app.router.add_route("*", "/fhir{tail:.*}", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        target = FhirTarget(f"http://127.0.0.1:{runner.addresses[0][1]}/fhir/", zone=ZONE)
        delivery = FeedbackDelivery(target)
        try:
            return [await delivery.deliver(request), await delivery.deliver(
                referral_status("lead", escalation_level=1))]
        finally:
            await runner.cleanup()

    assert asyncio.run(run()) == [True, True]
    assert received == [("POST", "/fhir"), ("PUT", f"/fhir/Task/{fhir_id(RID)}")]
