"""Remote diagnosis in HL7 v2: ORM^O01 / OMI^O23 from the examining member's RIS and ORU^R01,
MDM^T02, ORM^O01 from the reading centre's RIS to ReadRequest / ReadUpdate /
CriticalValueUpdate (real RIS habits accepted, the rest refused with segment and field),
and the hub's ORM^O01 / ORU^R01 back to each member."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest

from connectors.member.deadletter import DeadLetterFile
from connectors.member.feedback_delivery import FeedbackDelivery, MllpTarget
from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.handler import Hl7Handler, map_message
from connectors.member.hl7.message import decode, read_header
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.hl7.remote_read_out import render_remote_read
from connectors.member.mapping import CodeMapper, MemorySink
from hub.brokers import BaseBroker
from schemas.models import Event, TestOrder
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
from schemas.topics import ingress_topic
from tests.conftest import Decoded
from tests.connectors.referral_messages import RESIDENT_ID
from tests.connectors.remote_read_messages import (
    ACCESSION,
    REQUEST_ID,
    STUDY_UID,
    alshifa_orm_o01,
    his_critical_ack,
    inspector_mdm_t02,
    mesa_omi_o23,
    orthanc_claim_orm,
    pacs_oru_r01,
)
from tests.connectors.test_feedback_delivery import with_fake_his
from tests.connectors.test_mllp_integration import event_ids, exchange, msa

ZONE = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 7, 2, 12, tzinfo=UTC)


def context(member: str) -> MappingContext:
    return MappingContext(member, CodeMapper.load(member), ZONE, PatientCache(None))


def events(member: str, message: str | bytes) -> list[Event]:
    raw = message.encode() if isinstance(message, str) else message
    return map_message(context(member), decode(raw))


def one(member: str, message: str | bytes) -> Event:
    [event] = events(member, message)
    return event


def answer(member: str, message: str | bytes, tmp_path: Path) -> tuple[list[str], list[Event]]:
    """MSA-1 and ERR-2 (if any) of the member's HL7 listener, and what it published."""
    raw = message.encode() if isinstance(message, str) else message
    sink = MemorySink()
    handler = Hl7Handler(context(member), sink, DeadLetterFile(tmp_path, member))
    reply = asyncio.run(handler(raw))
    ack = hl7.parse(reply.decode(read_header(reply).encoding))
    err = [str(ack.segment("ERR")[2])] if "\rERR|" in str(ack) else []
    return [str(ack.segment("MSA")[1]), *err], sink.events


# --- the examining member's RIS -------------------------------------------------------------

def test_a_township_ct_order_with_zds_is_a_read_request() -> None:
    request = one("thc-river", alshifa_orm_o01(obr_13="体温 38.2℃"))
    assert isinstance(request, ReadRequest)
    assert (request.envelope.member_id, request.accession) == ("thc-river", ACCESSION)
    assert (request.modality, request.item_code, request.local_code) == (
        ReadModality.CT, "CT-CHEST", "HKJ05")
    assert (request.priority, request.setting, request.body_site) == (
        OrderPriority.ROUTINE, PatientSetting.OUTPATIENT, "胸部")
    assert request.clinical_question == "咳嗽两周伴低热，排除肺炎\n体温 38.2℃"
    assert request.study_uid == STUDY_UID
    assert request.images_available_at is None  # ORC-5 SC: scheduled, the clock waits
    assert (request.patient.id_type, request.patient.id_number, request.patient.name) == (
        IdType.RESIDENT_ID, RESIDENT_ID, "李建国")
    assert request.ordering_doctor == "刘强"


def test_the_same_order_without_zrr_stays_an_order_for_recognition() -> None:
    order = one("thc-river", alshifa_orm_o01(zrr=""))
    assert isinstance(order, TestOrder) and order.item_code == "CT-CHEST"


def test_an_omi_with_ipc_is_an_emergency_request_with_its_images() -> None:
    request = one("thc-river", mesa_omi_o23())
    assert isinstance(request, ReadRequest)
    assert request.accession == "CT20261207-0042"  # IPC-1
    assert request.study_uid == "1.2.156.112605.14.20261207.91000.42"  # IPC-3
    assert (request.priority, request.setting) == (OrderPriority.EMERGENCY,
                                                   PatientSetting.EMERGENCY)
    assert request.item_code == "CT-HEAD"
    assert request.clinical_question == "突发头痛伴呕吐2小时"
    # ORC-5 CM and IPC-3: the clock starts, at the exam's time (TQ1-7, Beijing time)
    assert request.images_available_at == datetime(2026, 12, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(("message", "action"), [
    (alshifa_orm_o01(orc="CA", status="CA"), ReadAction.CANCELLED),
    (alshifa_orm_o01(orc="SC", status="CM"), ReadAction.IMAGES_AVAILABLE),
    (alshifa_orm_o01(orc="SC", zrr="ZRR|INFO_PROVIDED||||||补充病史：吸烟20年"),
     ReadAction.INFO_PROVIDED),
])
def test_steps_of_the_examining_member(message: str, action: ReadAction) -> None:
    update = one("thc-river", message)
    assert isinstance(update, ReadUpdate)
    assert (update.request_id, update.action) == (REQUEST_ID, action)


def test_timing_critical_tq1_priority_is_urgent() -> None:
    request = one("thc-river", mesa_omi_o23(tq1_priority="T"))
    assert isinstance(request, ReadRequest) and request.priority is OrderPriority.URGENT


# --- the reading centre's RIS ---------------------------------------------------------------

def test_a_final_report_names_writer_and_reviewer() -> None:
    update = one("lead", pacs_oru_r01())
    assert isinstance(update, ReadUpdate) and update.report is not None
    assert (update.request_id, update.action) == (REQUEST_ID, ReadAction.FINAL_REPORT)
    report = update.report
    assert report.report_ref == "LD0001297"
    assert report.findings == "双肺纹理增多。\n右肺下叶见斑片状高密度影，边界模糊。"
    assert report.impression == "右肺下叶炎症，建议抗炎治疗后复查。"
    assert report.reviewer is not None and report.writer is not None
    assert (report.reviewer.reader_id, report.reviewer.name) == ("1024", "张伟")  # OBR-32
    assert (report.writer.reader_id, report.writer.name) == ("2048", "陈静")  # OBR-33


@pytest.mark.parametrize(("kwargs", "action"), [
    ({"obr_25": "", "obx_status": "F"}, ReadAction.FINAL_REPORT),  # only OBX-11 says it
    ({"obr_25": "", "obr_26": "C", "obx_status": ""}, ReadAction.CORRECTED_REPORT),  # one off
    ({"obr_25": "P", "obx_status": "P"}, ReadAction.PRELIMINARY_REPORT),
])
def test_the_report_status_where_a_ris_puts_it(kwargs: dict[str, str],
                                               action: ReadAction) -> None:
    update = one("lead", pacs_oru_r01(**kwargs))
    assert isinstance(update, ReadUpdate) and update.action is action
    if action is ReadAction.PRELIMINARY_REPORT:
        assert update.report is not None and update.report.reviewer is None


def test_an_impression_sent_as_coded_element_and_segments_out_of_order() -> None:
    text = pacs_oru_r01(extra=("OBX|3|CE|19005-8^诊断意见^LN||J18.9^社区获得性肺炎^I10||||||F",))
    segments = text.rstrip("\r").split("\r")
    msh, pid, pv1, obr, *rest = segments
    shuffled = "\r".join([msh, *rest, obr, pv1, pid]) + "\r"  # ZDS and OBX before OBR
    update = one("lead", shuffled)
    assert isinstance(update, ReadUpdate) and update.report is not None
    assert update.report.impression == "右肺下叶炎症，建议抗炎治疗后复查。\n社区获得性肺炎"


def test_a_gbk_mdm_without_msh7_is_an_amendment(tmp_path: Path) -> None:
    (code, *_), published = answer("lead", inspector_mdm_t02(), tmp_path)
    assert code == "AA"
    [update] = published
    assert isinstance(update, ReadUpdate) and update.report is not None
    assert (update.request_id, update.action) == ("thc-river:ECG20261207-0007",
                                                  ReadAction.AMENDED_REPORT)
    report = update.report
    assert (report.report_ref, report.supersedes, report.amend_reason) == (
        "ECG-LD-778-2", "ECG-LD-778", "更正心率数值")
    assert report.writer == Reader(reader_id="3001", name="王芳", title="主治医师")
    assert report.reviewer == Reader(reader_id="3002", name="赵刚", title="主任医师")


@pytest.mark.parametrize(("status", "action"), [
    ("IP", ReadAction.CLAIMED), ("HD", ReadAction.INFO_REQUESTED)])
def test_a_claim_from_the_centres_ris(status: str, action: ReadAction) -> None:
    update = one("lead", orthanc_claim_orm(status))
    assert isinstance(update, ReadUpdate)
    assert (update.request_id, update.action) == (REQUEST_ID, action)
    assert update.reader == Reader(reader_id="1024", name="张伟", title="副主任医师")


def test_a_critical_flag_raises_a_critical_value_with_the_report() -> None:
    text = pacs_oru_r01(extra=("OBX|3|TX|CRIT^危急所见^L||右侧大量气胸|||AA|||F",))
    update, critical = events("lead", text)
    assert isinstance(update, ReadUpdate) and isinstance(critical, CriticalValueUpdate)
    assert (critical.request_id, critical.critical_id, critical.action) == (
        REQUEST_ID, "LD0001297-3", CriticalAction.RAISED)
    assert critical.finding == "右侧大量气胸"


def test_a_zcv_double_check_replaces_the_flags() -> None:
    text = pacs_oru_r01(extra=("OBX|3|TX|CRIT^危急所见^L||右侧大量气胸|||AA|||F",
                               "ZCV|CV-LD-0001|DOUBLE_CHECKED|右侧大量气胸||1024^张^伟"))
    [_, critical] = events("lead", text)
    assert isinstance(critical, CriticalValueUpdate)
    assert (critical.critical_id, critical.action) == ("CV-LD-0001",
                                                       CriticalAction.DOUBLE_CHECKED)


def test_the_ordering_side_acknowledges_with_the_read_back(tmp_path: Path) -> None:
    (code, *_), published = answer("thc-river", his_critical_ack(), tmp_path)
    assert code == "AA"
    [critical] = published
    assert isinstance(critical, CriticalValueUpdate)
    assert (critical.request_id, critical.action, critical.read_back) == (
        REQUEST_ID, CriticalAction.ACKNOWLEDGED, "右肺大面积气胸，已复述")
    assert critical.by == Reader(reader_id="N017", name="周丽", title="护士")


# --- precise refusals -----------------------------------------------------------------------

@pytest.mark.parametrize(("member", "message", "code", "where"), [
    ("thc-river", alshifa_orm_o01(section="XYZ"), "AE", "OBR^1^24"),
    ("thc-river", alshifa_orm_o01(priority="Q"), "AE", "ORC^1^7"),
    ("thc-river", alshifa_orm_o01(orc="XO", status="SC").replace(
        f"ZDS|{STUDY_UID}^HK-PACS^Application^DICOM\r", ""), "AR", "ORC^1^1"),
    ("thc-river", alshifa_orm_o01(orc="SC", zrr="ZRR|FINAL_REPORT"), "AE", "ZRR^1^1"),
    ("lead", pacs_oru_r01(obr_25="", obx_status=""), "AE", "OBR^1^25"),
    ("lead", pacs_oru_r01(obr_25="Z"), "AE", "OBR^1^25"),
    ("lead", pacs_oru_r01(obr_25="", extra=("OBX|3|TX|^备注^L||见附图||||||P",)), "AE",
     "OBX^1^11"),
    ("lead", pacs_oru_r01(zrr="ZRR||东山医院").replace(REQUEST_ID, ACCESSION), "AE",
     "ZRR^1^2"),
    ("lead", pacs_oru_r01(zrr="ZRR|").replace(REQUEST_ID, "CT-0031"), "AE", "OBR^1^2"),
    ("lead", pacs_oru_r01(extra=("ZCV|CV-1|ACKNOWLEDGED||已复述",)), "AE", "ZCV^1^2"),
    ("thc-river", his_critical_ack(read_back=""), "AE", "ZCV^1^4"),
])
def test_refused_with_segment_and_field(member: str, message: str, code: str, where: str,
                                        tmp_path: Path) -> None:
    answered, published = answer(member, message, tmp_path)
    assert answered == [code, where] and published == []


# --- the hub's messages back ----------------------------------------------------------------

PATIENT = Patient(id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID, name="李建国")


def read_request() -> ReadRequest:
    return ReadRequest(
        envelope=ReadRequest.new_envelope("thc-river", occurred_at=AT), patient=PATIENT,
        accession=ACCESSION, modality=ReadModality.CT, item_code="CT-CHEST",
        local_code="HKJ05", item_name="胸部CT平扫", priority=OrderPriority.URGENT,
        clinical_question="咳嗽两周|伴低热", study_uid=STUDY_UID,
        wado_url="https://pacs.thc-river.example/dicom-web", ordered_at=AT,
        images_available_at=AT)


def read_status(action: ReadAction = ReadAction.FINAL_REPORT) -> ReadStatus:
    report = ReadReport(report_ref="LD0001297", findings="双肺纹理增多。\n右肺下叶斑片影。",
                        impression="右肺下叶炎症。", writer=Reader(reader_id="2048", name="陈静"),
                        reviewer=Reader(reader_id="1024", name="张伟"))
    return ReadStatus(
        envelope=ReadStatus.new_envelope("lead", occurred_at=AT), status_id="rs-1",
        request_id=REQUEST_ID, examining_member="thc-river", reading_member="lead",
        modality=ReadModality.CT, priority=OrderPriority.URGENT, action=action,
        status=TaskStatus.COMPLETED, business_status="已审核", by_member="lead", at=AT,
        due_at=AT + timedelta(hours=4), escalation_level=1, patient=PATIENT,
        report=report if action is not ReadAction.CLAIMED else None)


def test_a_read_request_goes_to_the_centre_as_orm_and_its_report_comes_back() -> None:
    orm = hl7.parse(render_remote_read(read_request(), "lead").decode())
    assert str(orm.segment("MSH")[9]) == "ORM^O01^ORM_O01"
    orc, obr = orm.segment("ORC"), orm.segment("OBR")
    assert (str(orc[1]), str(orc[2]), str(orc[5])) == ("NW", REQUEST_ID, "CM")
    assert (str(obr[2]), str(obr[18]), str(obr[24]), str(obr[5])) == (
        REQUEST_ID, ACCESSION, "CT", "A")
    assert orm.unescape(str(obr[13])) == "咳嗽两周|伴低热"
    assert str(orm.segment("ZDS")[1][0][0]) == STUDY_UID
    # the centre's RIS echoes OBR-2 in its report: the lead's connector finds the request
    update = one("lead", pacs_oru_r01(control="LD-ECHO-1"))
    assert isinstance(update, ReadUpdate) and update.request_id == str(obr[2])


def test_a_final_report_goes_home_as_oru_with_lines_and_reviewer() -> None:
    oru = hl7.parse(render_remote_read(read_status(), "thc-river",
                                       charset_label="GBK").decode("gb18030"))
    assert str(oru.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    obr = oru.segment("OBR")
    assert (str(obr[2]), str(obr[3]), str(obr[25])) == (REQUEST_ID, "LD0001297", "F")
    assert str(obr[32]) == "1024&张伟" and str(obr[33]) == "2048&陈静"
    findings, impression = oru.segments("OBX")
    assert [str(r) for r in findings[5]] == ["双肺纹理增多。", "右肺下叶斑片影。"]
    assert str(impression[3][0][0]) == "19005-8" and str(impression[11]) == "F"
    nte = str(oru.segment("NTE")[3])
    assert "已审核" in nte and "2026-12-07 14:12 +08:00" in nte and "升级 1 级" in nte
    zrr = oru.segment("ZRR")
    assert (str(zrr[1]), str(zrr[14]), str(zrr[20]), str(zrr[21])) == (
        "FINAL_REPORT", "COMPLETED", REQUEST_ID, "lead")


@pytest.mark.parametrize(("action", "result"), [
    (ReadAction.AMENDED_REPORT, "C"), (ReadAction.PRELIMINARY_REPORT, "P"),
    (ReadAction.CLAIMED, "I")])
def test_other_steps_carry_their_result_status(action: ReadAction, result: str) -> None:
    oru = hl7.parse(render_remote_read(read_status(action), "thc-river").decode())
    assert str(oru.segment("OBR")[25]) == result
    assert str(oru.segment("ZRR")[1]) == action.value


def test_a_critical_value_and_its_delivery_over_mllp(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "connectors.member.feedback_delivery")
    status = CriticalValueStatus(
        envelope=CriticalValueStatus.new_envelope("lead", occurred_at=AT), status_id="cv-1",
        request_id=REQUEST_ID, critical_id="CV-LD-0001", examining_member="thc-river",
        reading_member="lead", action=CriticalAction.DELIVERED, state="待确认",
        finding="右侧大量气胸", by_member="hub", at=AT, due_at=AT + timedelta(minutes=15),
        escalation_level=0, patient=PATIENT)

    async def scenario(port: int, received: list[bytes]) -> None:
        delivery = FeedbackDelivery(MllpTarget("127.0.0.1", port, "thc-river",
                                               charset_label="UNICODE UTF-8", zone=ZONE))
        assert await delivery.deliver(status)
        assert await delivery.deliver(read_request())

    oru, orm = (hl7.parse(m.decode()) for m in with_fake_his(["AA"], scenario))
    zcv = oru.segment("ZCV")
    assert (str(zcv[1]), str(zcv[2]), str(zcv[3]), str(zcv[9])) == (
        "CV-LD-0001", "DELIVERED", "右侧大量气胸", "待确认")
    assert str(zcv[10]) == "20261207102700+0800"
    assert str(oru.segment("OBX")[8]) == "AA"
    assert str(orm.segment("MSH")[9]) == "ORM^O01^ORM_O01"
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("已送达")]
    assert said == [  # the operator's log names the step, never the patient
        f"已送达 HIS（mllp）：危急值 CV-LD-0001（阅片 {REQUEST_ID}）：待确认",
        f"已送达 HIS（mllp）：阅片申请 thc-river:{ACCESSION}（CT）"]


def test_the_guides_remote_read_examples_map_as_it_says() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "member-integration.md").read_text(
        "utf-8")
    section = guide.split("\n## 远程诊断 (HL7 v2)", 1)[1].split("\n## ", 1)[0]
    order, report = (block.strip().replace("\n", "\r") + "\r"
                     for block in re.findall(r"```\n(.*?)```", section, flags=re.DOTALL))
    request = one("thc-river", order)
    assert isinstance(request, ReadRequest)
    assert (request.accession, request.item_code, request.study_uid) == (
        ACCESSION, "CT-CHEST", STUDY_UID)
    update, critical = events("lead", report)
    assert isinstance(update, ReadUpdate) and update.request_id == REQUEST_ID
    assert update.action is ReadAction.FINAL_REPORT
    assert isinstance(critical, CriticalValueUpdate) and critical.finding == "右侧大量气胸"


@pytest.mark.integration
def test_a_township_order_and_the_centres_gbk_report_reach_kafka(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]]
) -> None:
    """The township's OMI^O23 and the lead's GBK MDM^T02 without MSH-7, through each
    member's MLLP listener and MemberPublisher to in.<member>."""
    [omi_ack] = exchange(broker.bootstrap, tmp_path, [mesa_omi_o23().encode()],
                         member="thc-river")
    [mdm_ack] = exchange(broker.bootstrap, tmp_path, [inspector_mdm_t02("LD-E2E-1")],
                         member="lead")
    assert msa(omi_ack)[0] == "AA" and msa(mdm_ack, "gb18030")[:2] == ["AA", "LD-E2E-1"]
    [request_id], [update_id] = event_ids(omi_ack), event_ids(mdm_ack, "gb18030")

    def published(member: str, event_id: str) -> list[Event]:
        got = read_topic(ingress_topic(member), timeout=30, until=lambda events: any(
            e.envelope.event_id == event_id for _, e in events))
        return [e for _, e in got if e.envelope.event_id == event_id]

    [request] = published("thc-river", request_id)
    [update] = published("lead", update_id)
    assert isinstance(request, ReadRequest) and request.accession == "CT20261207-0042"
    assert isinstance(update, ReadUpdate) and update.action is ReadAction.AMENDED_REPORT
