"""Two-way referral in HL7 v2: REF^I12/I13/I14 and RRI^I12 from members' HIS to
ReferralRequest / ReferralUpdate (the real HIS habits accepted, the rest refused with the
segment and field), and the hub's REF^I12 / RRI^I12 back to each party's HIS."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest

from connectors.member.deadletter import DeadLetterFile
from connectors.member.feedback_delivery import FeedbackDelivery, MllpTarget
from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.handler import Hl7Handler, map_message
from connectors.member.hl7.message import decode
from connectors.member.hl7.patient import patient_from_pid
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.hl7.referral_out import render_referral
from connectors.member.mapping import CodeMapper, MemorySink, Rejected, RejectReason
from hub.brokers import BaseBroker
from schemas.models import Event
from schemas.models.clinical import OrderPriority
from schemas.models.common import IdType, Patient, Sex
from schemas.models.coordination import TaskStatus
from schemas.models.referral import (
    Booking,
    DocumentKind,
    DocumentRef,
    ReferralAction,
    ReferralDirection,
    ReferralKind,
    ReferralRequest,
    ReferralStatus,
    ReferralUpdate,
)
from schemas.topics import ingress_topic
from tests.conftest import Decoded
from tests.connectors.referral_messages import (
    REFERRAL_REF,
    RESIDENT_ID,
    chc_ref_i12,
    hapi_village_ref_i12,
    update,
    zato_lead_rri_i12,
)
from tests.connectors.test_feedback_delivery import with_fake_his
from tests.connectors.test_hl7_messages import seg
from tests.connectors.test_mllp_integration import event_ids, exchange, msa

ZONE = ZoneInfo("Asia/Shanghai")
REFERRAL_ID = f"chc-east:{REFERRAL_REF}"


def context(member: str) -> MappingContext:
    return MappingContext(member, CodeMapper.load(member), ZONE, PatientCache(None))


def mapped(member: str, message: str | bytes) -> Event:
    raw = message.encode() if isinstance(message, str) else message
    [event] = map_message(context(member), decode(raw, control_id_required=False))
    return event


def refused(member: str, message: str) -> Rejected:
    with pytest.raises(Rejected) as caught:
        mapped(member, message)
    return caught.value


def answer(member: str, raw: bytes, tmp_path: Path) -> tuple[list[str], list[Event]]:
    """The ACK's MSA (and ERR-2 if any) from the member's HL7 listener, and what it published."""
    sink = MemorySink()
    handler = Hl7Handler(context(member), sink, DeadLetterFile(tmp_path, member))
    ack = hl7.parse(asyncio.run(handler(raw)).decode())
    err = [str(ack.segment("ERR")[2])] if "\rERR|" in str(ack) else []
    return [str(ack.segment("MSA")[n]) for n in (1, 2)] + err, sink.events


def test_hapis_referral_without_msh10_or_rf1_status_is_taken(tmp_path: Path) -> None:
    raw = hapi_village_ref_i12().encode()
    (code, control), events = answer("vp-hexi", raw, tmp_path)
    assert (code, control) == ("AA", "")
    [request] = events
    assert isinstance(request, ReferralRequest)
    assert (request.referral_ref, request.to_member, request.direction) == (
        REFERRAL_REF, "lead", ReferralDirection.UP)
    assert (request.priority, request.kind, request.icd10) == (
        OrderPriority.ROUTINE, ReferralKind.OUTPATIENT, "I10")
    assert request.reason == "头晕三月余，血压控制不佳，请上级医院调整降压方案"
    assert (request.patient.id_type, request.patient.id_number, request.patient.name) == (
        IdType.RESIDENT_ID, RESIDENT_ID, "李建华")
    assert request.referring_doctor == "王建国"
    assert request.requested_at == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    # no MSH-10: the id comes from the text, the same for a resend, new for a change
    _, again = answer("vp-hexi", raw, tmp_path)
    _, changed = answer("vp-hexi", raw.replace(b"20261207080000", b"20261207081500"), tmp_path)
    assert again[0].envelope.event_id == request.envelope.event_id
    assert changed[0].envelope.event_id != request.envelope.event_id


def test_a_full_referral_read_out_of_order_with_z_segments() -> None:
    request = mapped("chc-east", chc_ref_i12())
    assert isinstance(request, ReferralRequest)
    assert (request.to_member, request.to_service, request.to_service_name) == (
        "lead", "XNK", "心血管内科")
    assert (request.priority, request.direction, request.requested_by) == (
        OrderPriority.EMERGENCY, ReferralDirection.UP, date(2026, 12, 10))
    assert (request.icd10, request.diagnosis_name) == ("I20.0", "不稳定型心绞痛")
    assert request.reason == "胸痛待查，心电图ST段改变"
    assert [(d.kind, d.reference) for d in request.documents] == [
        (DocumentKind.SUMMARY, "DOC-EAST-778"),
        (DocumentKind.DICOM_STUDY, "1.2.156.112605.1.20261207.9")]
    assert request.insurance is not None
    assert (request.insurance.insurance_type, request.insurance.insured_number) == (
        "310", "YB5107001234")
    assert request.referring_phone == "13900001111"


@pytest.mark.parametrize(("rf1", "kind"), [
    ({5: "I^住院^HL70284"}, ReferralKind.ADMISSION),
    ({3: "RAD^放射^HL70281"}, ReferralKind.EXAMINATION),
    ({3: "HOM^居家^HL70281"}, ReferralKind.REHABILITATION),
    ({3: "^康复^L", 5: "I"}, ReferralKind.REHABILITATION),  # the hub's word wins
])
def test_kind_from_rf1_type_and_category(rf1: dict[int, str], kind: ReferralKind) -> None:
    request = mapped("chc-east", chc_ref_i12(rf1=rf1))
    assert isinstance(request, ReferralRequest) and request.kind is kind


def test_a_specialty_in_rf1_3_is_the_department_when_prd_names_none() -> None:
    text = chc_ref_i12(rf1={3: "GI^消化内科^L"}).replace("XNK^^^LEAD^^^^^心血管内科", "^^^LEAD")
    request = mapped("chc-east", text)
    assert isinstance(request, ReferralRequest)
    assert (request.to_service, request.to_service_name, request.kind) == (
        "GI", "消化内科", ReferralKind.OUTPATIENT)


def test_direction_levels_win_and_a_stated_one_fills_same_levels() -> None:
    back = mapped("lead", chc_ref_i12(zrf=seg("ZRF", {11: "下转", 12: "lead:UP-77"}),
                                      rt_facility="CHCEAST", facility="LEAD"))
    assert isinstance(back, ReferralRequest)
    assert (back.to_member, back.direction, back.returns_referral) == (
        "chc-east", ReferralDirection.DOWN, "lead:UP-77")
    lateral = mapped("chc-east", chc_ref_i12(rt_facility="城西社区卫生服务中心"))
    assert isinstance(lateral, ReferralRequest)
    assert (lateral.to_member, lateral.direction) == ("chc-west", ReferralDirection.LATERAL)
    stated = mapped("chc-east", chc_ref_i12(rt_facility="mch", zrf=seg("ZRF", {11: "UP"})))
    assert isinstance(stated, ReferralRequest) and stated.direction is ReferralDirection.UP


@pytest.mark.parametrize(("status", "action", "reason_code"), [
    ("A", ReferralAction.ACCEPTED, None), ("R", ReferralAction.REJECTED, None),
    ("P", ReferralAction.RECEIVED, None), ("E", ReferralAction.REJECTED, "EXPIRED"),
    ("", ReferralAction.RECEIVED, None),
])
def test_the_receivers_rri_in_gbk(status: str, action: ReferralAction,
                                  reason_code: str | None) -> None:
    step = mapped("lead", zato_lead_rri_i12(status=status))
    assert isinstance(step, ReferralUpdate)
    assert (step.referral_id, step.to_member, step.action, step.reason_code) == (
        f"vp-hexi:{REFERRAL_REF}", "lead", action, reason_code)
    assert step.envelope.member_id == "lead"


def test_finer_steps_in_zrf() -> None:
    booked = mapped("lead", zato_lead_rri_i12(zrf=seg("ZRF", {
        1: "BOOKED", 2: "LEAD-XNK-2026W50", 3: "S-1209-0830", 4: "20261209083000",
        10: "门诊楼3楼心内科"})))
    assert isinstance(booked, ReferralUpdate) and booked.action is ReferralAction.BOOKED
    assert booked.booking == Booking(
        pool_id="LEAD-XNK-2026W50", slot_id="S-1209-0830",
        starts_at=datetime(2026, 12, 9, 0, 30, tzinfo=UTC), location="门诊楼3楼心内科")
    arrived = mapped("lead", update("RRI^I13", "L-2", facility="LEAD", zrf="ZRF|ARRIVED",
                                    extra=(seg("PV1", {1: "1", 2: "O", 19: "MZ2026120900417"}),)))
    assert isinstance(arrived, ReferralUpdate)
    assert (arrived.referral_id, arrived.action, arrived.encounter_ref) == (
        REFERRAL_ID, ReferralAction.ARRIVED, "MZ2026120900417")
    done = mapped("lead", update("REF^I13", "L-3", facility="LEAD", zrf=seg("ZRF", {
        1: "COMPLETED", 9: "回社区康复：每周随访血压，4周后复查心电图"}),
        extra=(seg("ZRD", {1: "1", 2: "DISCHARGE_SUMMARY", 3: "DS-88"}),)))
    assert isinstance(done, ReferralUpdate) and done.action is ReferralAction.COMPLETED
    assert done.downward_plan == "回社区康复：每周随访血压，4周后复查心电图"
    assert [d.kind for d in done.documents] == [DocumentKind.DISCHARGE_SUMMARY]
    onward = mapped("lead", update("RRI^I13", "L-4", facility="LEAD",
                                   zrf="ZRF|REFERRED_ONWARD|||||市中医医院|NO_BED|本院无床位"))
    assert isinstance(onward, ReferralUpdate)
    assert (onward.action, onward.onward_to, onward.reason_code, onward.note) == (
        ReferralAction.REFERRED_ONWARD, "city-tcm", "NO_BED", "本院无床位")


def test_the_referrer_provides_information_and_cancels() -> None:
    provided = mapped("chc-east", update(
        "REF^I13", "E-2", facility="CHCEAST", status="P",
        extra=(seg("ZRD", {1: "1", 2: "LAB_REPORT", 3: "LIS-EAST-5512", 4: "心肌酶谱"}),)))
    assert isinstance(provided, ReferralUpdate)
    assert (provided.referral_id, provided.to_member, provided.action) == (
        REFERRAL_ID, "lead", ReferralAction.INFO_PROVIDED)
    assert [d.reference for d in provided.documents] == ["LIS-EAST-5512"]
    cancelled = mapped("chc-east", update("REF^I14", "E-3", facility="CHCEAST"))
    assert isinstance(cancelled, ReferralUpdate) and cancelled.action is ReferralAction.CANCELLED


def test_rf1_6_may_carry_the_hubs_name_of_the_referral() -> None:
    by_hub_name = update("RRI^I12", "L-12", facility="LEAD", status="A", rp="").replace(
        f"{REFERRAL_REF}^CHCEAST", REFERRAL_ID)
    step = mapped("lead", by_hub_name)
    assert isinstance(step, ReferralUpdate) and step.referral_id == REFERRAL_ID
    colon = mapped("chc-east", chc_ref_i12(rf1={6: "2026:0042^CHCEAST"}))
    assert isinstance(colon, ReferralRequest) and colon.referral_ref == "2026:0042"


@pytest.mark.parametrize(("member", "text", "code", "location"), [
    ("lead", update("REF^I14", "L-9", facility="LEAD", rp="", rt="LEAD"),
     RejectReason.INVALID_VALUE, "MSH-9"),
    ("chc-west", update("RRI^I12", "W-1", facility="CHCWEST", status="A"),
     RejectReason.INVALID_VALUE, "PRD(RT)"),
    ("chc-west", update("REF^I13", "W-2", facility="CHCWEST"),
     RejectReason.INVALID_VALUE, "PRD(RP)"),
    ("chc-east", chc_ref_i12(rt_facility="XYZ-HOSP"), RejectReason.UNMAPPED_CODE, "PRD[2]-4"),
    ("chc-east", chc_ref_i12(rt_facility="CHCEAST"), RejectReason.INVALID_VALUE, "PRD[2]-7"),
    ("chc-east", chc_ref_i12(rf1={2: "Q^?"}), RejectReason.UNMAPPED_CODE, "RF1-2"),
    ("chc-east", chc_ref_i12(rf1={6: ""}), RejectReason.MISSING_FIELD, "RF1-6"),
    ("chc-east", chc_ref_i12(rf1={8: "2026-12-10"}), RejectReason.INVALID_VALUE, "RF1-8"),
    ("chc-east", chc_ref_i12(zrf=seg("ZRF", {11: "DOWN"})), RejectReason.INVALID_VALUE,
     "ZRF-11"),
    ("chc-east", chc_ref_i12().replace("DG1|1||I20.0^不稳定型心绞痛^I10", "DG1|1"),
     RejectReason.MISSING_FIELD, "DG1-3"),
    ("lead", update("RRI^I12", "L-5", facility="LEAD", status="X"),
     RejectReason.UNMAPPED_CODE, "RF1-1"),
    ("lead", update("RRI^I12", "L-6", facility="LEAD", zrf="ZRF|EXPIRED"),
     RejectReason.UNMAPPED_CODE, "ZRF-1"),
    ("lead", update("RRI^I12", "L-7", facility="LEAD", zrf="ZRF|BOOKED|||20261209083000"),
     RejectReason.MISSING_FIELD, "ZRF-2"),
    ("lead", update("RRI^I12", "L-8", facility="LEAD", zrf="ZRF|ARRIVED"),
     RejectReason.MISSING_FIELD, "ZRF-5"),
    ("lead", update("REF^I13", "L-10", facility="LEAD"), RejectReason.MISSING_FIELD, "RF1-1"),
    ("lead", update("RRI^I12", "L-13", facility="LEAD", extra=("MSA|AE|HEXI-1|无法解析",)),
     RejectReason.MISSING_FIELD, "RF1-1"),
    ("lead", update("RRI^I12", "L-11", facility="LEAD", rp="", zrf="ZRF|REFERRED_ONWARD"),
     RejectReason.MISSING_FIELD, "ZRF-6"),
])
def test_refusals_name_the_segment_and_field(member: str, text: str, code: RejectReason,
                                            location: str) -> None:
    rejection = refused(member, text)
    assert (rejection.code, rejection.location) == (code, location), rejection.message


def test_the_ack_refuses_precisely_and_keeps_msh10_required_elsewhere(tmp_path: Path) -> None:
    (code, control, where), events = answer(
        "chc-east", chc_ref_i12(rt_facility="XYZ-HOSP").encode(), tmp_path)
    assert (code, control, where, events) == ("AE", "EAST20261207-7", "PRD^2^4", [])
    lab_without_control = (
        "MSH|^~\\&|LIS|EAST|HUB|ANXIAN|20261207093000+0800||ORU^R01|||2.5\rPID|1||X^^^^MR\r")
    (code, _, where), _ = answer("chc-east", lab_without_control.encode(), tmp_path)
    assert (code, where) == ("AE", "MSH^1^10")


GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "member-integration.md").read_text(
    "utf-8")


def guide_examples() -> list[list[str]]:
    """The HL7 code blocks of the guide's referral section, each as its messages (a
    blank line separates messages; lines are segments)."""
    section = GUIDE.split("\n## 双向转诊 (HL7 v2)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)
    return [[m.strip() for m in block.split("\n\n") if m.strip()] for block in blocks]


def test_the_guides_referral_examples_map_as_it_says() -> None:
    [[village], [answer_, *steps], [provided, cancelled]] = guide_examples()
    request = mapped("vp-hexi", village.replace("\n", "\r") + "\r")
    assert isinstance(request, ReferralRequest)
    assert (request.referral_ref, request.to_member, request.direction, request.kind) == (
        REFERRAL_REF, "lead", ReferralDirection.UP, ReferralKind.OUTPATIENT)
    assert request.reason.startswith("头晕三月余")
    rri = answer_.replace("\n", "\r") + "\r"
    accepted = mapped("lead", rri.encode("gb18030"))
    assert isinstance(accepted, ReferralUpdate) and accepted.action is ReferralAction.ACCEPTED
    actions = []
    for zrf in steps[0].split("\n"):
        step = mapped("lead", (rri + zrf + "\r").encode("gb18030"))
        assert isinstance(step, ReferralUpdate)
        actions.append(step.action)
    assert actions == [ReferralAction.BOOKED, ReferralAction.ARRIVED, ReferralAction.COMPLETED,
                       ReferralAction.REFERRED_ONWARD]
    for example, action in ((provided, ReferralAction.INFO_PROVIDED),
                            (cancelled, ReferralAction.CANCELLED)):
        step = mapped("chc-east", example.replace("\n", "\r") + "\r")
        assert isinstance(step, ReferralUpdate)
        assert (step.referral_id, step.action) == (REFERRAL_ID, action)


def test_a_document_of_unknown_kind_is_kept_and_the_ack_warns(tmp_path: Path) -> None:
    text = chc_ref_i12().replace("ZRD|1|SUMMARY|", "ZRD|1|转诊单扫描件|")
    (code, _, where), events = answer("chc-east", text.encode(), tmp_path)
    assert (code, where) == ("AA", "ZRD^1^2")
    [request] = events
    assert isinstance(request, ReferralRequest)
    assert request.documents[0].kind is DocumentKind.OTHER
    ack = asyncio.run(Hl7Handler(context("chc-east"), MemorySink(),
                                 DeadLetterFile(tmp_path, "chc-east"))(text.encode())).decode()
    assert "|W|" in ack and "转诊单扫描件" in ack


PATIENT = Patient(id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID, name="李建华",
                  sex=Sex.MALE, birth_date=date(1990, 3, 7), phone="13800001111")
AT = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def referral_request() -> ReferralRequest:
    return ReferralRequest(
        envelope=ReferralRequest.new_envelope("chc-east", occurred_at=AT),
        patient=PATIENT, referral_ref=REFERRAL_REF, direction=ReferralDirection.UP,
        to_member="lead", to_service="XNK", to_service_name="心血管内科",
        priority=OrderPriority.URGENT, kind=ReferralKind.OUTPATIENT,
        reason="胸痛待查|心电图ST段改变", icd10="I20.0", diagnosis_name="不稳定型心绞痛",
        requested_by=date(2026, 12, 10), referring_doctor="赵敏",
        documents=[DocumentRef(kind=DocumentKind.SUMMARY, reference="DOC-EAST-778")],
        requested_at=AT,
    )


def referral_status(status: TaskStatus = TaskStatus.ACCEPTED) -> ReferralStatus:
    return ReferralStatus(
        envelope=ReferralStatus.new_envelope("chc-east", occurred_at=AT),
        status_id="s-1", referral_id=REFERRAL_ID, referrer_id="chc-east", receiver_id="lead",
        direction=ReferralDirection.UP, kind=ReferralKind.OUTPATIENT,
        priority=OrderPriority.URGENT, action=ReferralAction.BOOKED, status=status,
        business_status="booked", by_member="lead", at=AT, due_at=AT + timedelta(days=2),
        escalation_level=1, patient=PATIENT,
        booking=Booking(pool_id="LEAD-XNK-2026W50", slot_id="S-1209-0830",
                        starts_at=datetime(2026, 12, 9, 0, 30, tzinfo=UTC)),
        reason="已预约 12月9日 08:30 心内科专家号", note="请携带医保卡",
    )


def test_a_referral_request_goes_to_the_receivers_his_as_ref_i12() -> None:
    message = hl7.parse(render_referral(referral_request(), "lead").decode())
    assert str(message.segment("MSH")[9]) == "REF^I12^REF_I12"
    assert str(message["MSH.F6"]) == "lead"
    rf1 = message.segment("RF1")
    assert (str(rf1[2]), str(rf1[6]), str(rf1[8])) == ("A", f"{REFERRAL_REF}^chc-east",
                                                       "20261210")
    assert str(rf1[11]) == f"{REFERRAL_ID}^HUB"
    assert str(message.unescape(str(rf1[10][0][1]))) == "胸痛待查|心电图ST段改变"
    rp, rt = message.segments("PRD")
    assert str(rp[4][0][3]) == "chc-east" and str(rp[4][0][8]) == "城东社区卫生服务中心"
    assert (str(rt[4][0][0]), str(rt[4][0][3]), str(rt[4][0][8])) == (
        "XNK", "lead", "心血管内科")
    read_back = patient_from_pid(message.segment("PID"))
    assert (read_back.id_number, read_back.name, read_back.birth_date, read_back.sex) == (
        RESIDENT_ID, "李建华", date(1990, 3, 7), Sex.MALE)
    assert str(message.segment("DG1")[3]) == "I20.0^不稳定型心绞痛^I10"
    assert str(message["ZRD.F3"]) == "DOC-EAST-778" and str(message["ZRF.F11"]) == "UP"


@pytest.mark.parametrize(("status", "code"), [
    (TaskStatus.ACCEPTED, "A"), (TaskStatus.IN_PROGRESS, "A"), (TaskStatus.RECEIVED, "P"),
    (TaskStatus.REJECTED, "R"), (TaskStatus.CANCELLED, "E"), (TaskStatus.FAILED, "E"),
])
def test_each_status_goes_to_a_party_as_rri_i12(status: TaskStatus, code: str) -> None:
    raw = render_referral(referral_status(status), "chc-east", charset_label="GBK")
    message = hl7.parse(raw.decode("gb18030"))
    assert str(message.segment("MSH")[9]) == "RRI^I12^RRI_I12" and str(message["RF1.F1"]) == code
    zrf = message.segment("ZRF")
    assert [str(zrf[n]) for n in (1, 2, 3, 4, 13, 14, 15, 16, 18, 19)] == [
        "BOOKED", "LEAD-XNK-2026W50", "S-1209-0830", "20261209083000+0800", status.value,
        "booked", "20261209093000+0800", "1", "lead", REFERRAL_ID]
    assert str(zrf[17]) == "已预约 12月9日 08:30 心内科专家号"
    assert "请携带医保卡" in str(message["NTE.F3"])


def test_feedback_delivery_sends_both_referral_messages_to_the_his() -> None:
    async def scenario(port: int, _: list[bytes]) -> None:
        delivery = FeedbackDelivery(MllpTarget("127.0.0.1", port, "lead",
                                               charset_label="UNICODE UTF-8", zone=ZONE))
        assert await delivery.deliver(referral_request())
        assert await delivery.deliver(referral_status())

    ref, rri = (hl7.parse(m.decode()) for m in with_fake_his(["AA"], scenario))
    assert str(ref.segment("MSH")[9]) == "REF^I12^REF_I12"
    assert str(rri.segment("MSH")[9]) == "RRI^I12^RRI_I12"




@pytest.mark.integration
def test_a_referral_and_its_answer_over_mllp_reach_kafka(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]]
) -> None:
    """HAPI's REF^I12 without MSH-10 from 河西村卫生室's HIS and the lead's GBK RRI^I12,
    through each member's MLLP listener and MemberPublisher to in.<member>."""
    [ref_ack] = exchange(broker.bootstrap, tmp_path, [hapi_village_ref_i12().encode()],
                         member="vp-hexi")
    [rri_ack] = exchange(broker.bootstrap, tmp_path, [zato_lead_rri_i12("LEAD-E2E-1")],
                         member="lead")
    assert msa(ref_ack)[0] == "AA" and msa(rri_ack, "gb18030")[:2] == ["AA", "LEAD-E2E-1"]
    [request_id], [step_id] = event_ids(ref_ack), event_ids(rri_ack, "gb18030")

    def published(member: str, event_id: str) -> list[Event]:
        got = read_topic(ingress_topic(member), timeout=30, until=lambda events: any(
            e.envelope.event_id == event_id for _, e in events))
        return [e for _, e in got if e.envelope.event_id == event_id]

    [request] = published("vp-hexi", request_id)
    [step] = published("lead", step_id)
    assert isinstance(request, ReferralRequest) and request.to_member == "lead"
    assert isinstance(step, ReferralUpdate)
    assert (step.referral_id, step.action) == (f"vp-hexi:{REFERRAL_REF}",
                                               ReferralAction.ACCEPTED)


def test_the_receivers_his_answers_the_hubs_ref_i12_with_its_rri() -> None:
    """The lead's HIS gets the hub's REF^I12 and answers with what it received (RF1, PRD,
    PID) as an RRI^I12 with RF1-1 A: the answer names the same referral."""
    sent = render_referral(referral_request(), "lead").decode().rstrip("\r").split("\r")
    rf1 = next(s for s in sent if s.startswith("RF1|")).replace("RF1|P|", "RF1|A|", 1)
    kept = [s for s in sent if s[:3] in ("PRD", "PID")]
    answer_ = "\r".join([
        "MSH|^~\\&|HIS|LEAD|HUB|CONSORTIUM|20261207100000+0800||RRI^I12^RRI_I12|L-RT-1|P|2.5",
        rf1, *kept]) + "\r"
    step = mapped("lead", answer_)
    assert isinstance(step, ReferralUpdate)
    assert (step.referral_id, step.to_member, step.action) == (
        REFERRAL_ID, "lead", ReferralAction.ACCEPTED)
