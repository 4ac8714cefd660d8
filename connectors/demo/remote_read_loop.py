"""The demo's remote diagnosis (基层检查、上级诊断, issue 27), told step by step.

The river township health centre (thc-river) scans Zhou Guiying's head and asks the lead
hospital's imaging centre to read it; the images are there, a reader claims the study and
writes the preliminary report, he raises a critical value (a haemorrhage) that a second
reader double-checks; the township reads it back and acknowledges it, the second reader
signs the final report, which goes home, and the township resolves the critical value. A
second, emergency request was sent 70 minutes ago and nobody read it: the hub's watchdog
escalates it while the demo runs.

Steps wait as the referral's do (`Step.after`): a read request's key is its request id, a
critical value's is `"<request id>|<critical id>"`, with the state both members were told.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.demo.script import Step, person
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient, Sex
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueUpdate,
    PatientSetting,
    ReadAction,
    Reader,
    ReadModality,
    ReadReport,
    ReadRequest,
    ReadUpdate,
    read_request_id,
)
from schemas.reference.messages import text

BEIJING = ZoneInfo("Asia/Shanghai")
TOWNSHIP, LEAD = "thc-river", "lead"
CRITICAL_ID = "WJZ-01"
ZHOU = person("510726196203150026", "周桂英", Sex.FEMALE, date(1962, 3, 15), "山下村")
HUANG = person("510726195511200031", "黄德明", Sex.MALE, date(1955, 11, 20), "河西村")
LI_YX = Reader(reader_id="R017", name="李影像", title="主治医师")
ZHAO = Reader(reader_id="R003", name="赵主任", title="主任医师")
FINDING = "左侧颞顶叶急性硬膜下血肿，厚约12mm，中线右移约6mm"
READ_BACK = "左侧颞顶叶急性硬膜下血肿，厚约12毫米，中线右移6毫米，已报告值班医生"
STUDY = "1.2.156.112605.14038010222.{stamp}.1"


def accessions(now: datetime) -> tuple[str, str]:
    """The township's accession numbers of this run's two requests."""
    stamp = f"{now.astimezone(BEIJING):%Y%m%d%H%M%S}"
    return f"CT{stamp}", f"CTJZ{stamp}"


def request_ids(now: datetime) -> tuple[str, str]:
    """This run's read request ids: the one read in full, the late one."""
    read, late = accessions(now)
    return read_request_id(TOWNSHIP, read), read_request_id(TOWNSHIP, late)


def critical_key(now: datetime) -> str:
    return f"{request_ids(now)[0]}|{CRITICAL_ID}"


def head_ct(accession: str, patient_at: datetime, *, priority: OrderPriority,
            images_at: datetime | None, question: str, who: Patient) -> ReadRequest:
    stamp = accession.removeprefix("CT")
    study = STUDY.format(stamp=stamp)
    return ReadRequest.model_validate({
        "envelope": ReadRequest.new_envelope(TOWNSHIP, occurred_at=patient_at),
        "patient": who, "accession": accession, "modality": ReadModality.CT,
        "item_code": "CT-HEAD", "local_code": "HK-CT01", "item_name": "头颅CT平扫",
        "body_site": "头颅", "priority": priority,
        "setting": PatientSetting.EMERGENCY if priority is OrderPriority.EMERGENCY
        else PatientSetting.OUTPATIENT,
        "clinical_question": question, "study_uid": study,
        "wado_url": f"https://pacs.thc-river.example/dicom-web/studies/{study}",
        "ordering_doctor": "孙医生", "ordering_department": "全科",
        "ordered_at": patient_at, "images_available_at": images_at})


def _update(member: str, rid: str, action: ReadAction, at: datetime,
            **fields: object) -> ReadUpdate:
    return ReadUpdate.model_validate({
        "envelope": ReadUpdate.new_envelope(member, occurred_at=at), "request_id": rid,
        "action": action, **fields})


def _critical(member: str, rid: str, action: CriticalAction, at: datetime,
              **fields: object) -> CriticalValueUpdate:
    return CriticalValueUpdate.model_validate({
        "envelope": CriticalValueUpdate.new_envelope(member, occurred_at=at),
        "request_id": rid, "critical_id": CRITICAL_ID, "action": action, **fields})


def report(ref: str, *, reviewer: Reader | None = None) -> ReadReport:
    return ReadReport(
        report_ref=ref, writer=LI_YX, reviewer=reviewer,
        findings="左侧颞顶部颅骨内板下见新月形高密度影，最厚处约12mm，左侧脑室受压，"
                 "中线结构右移约6mm；余脑实质未见明显异常密度影。",
        impression="左侧颞顶部急性硬膜下血肿，伴中线移位，建议立即神经外科处理。")


def remote_read_loop(now: datetime) -> Iterator[Step]:
    """The story, within the 80 minutes before `now`."""
    def at(minutes_ago: float) -> datetime:
        return now - timedelta(minutes=minutes_ago)

    read_acc, late_acc = accessions(now)
    rid = request_ids(now)[0]
    critical = critical_key(now)
    ref = f"LD-CT-{read_acc.removeprefix('CT')}"
    yield Step(TOWNSHIP, text("demo.read_late"), head_ct(
        late_acc, at(75), priority=OrderPriority.EMERGENCY, images_at=at(70), who=HUANG,
        question="突发右侧肢体无力2小时，排除脑出血"))
    yield Step(TOWNSHIP, text("demo.read_request"), head_ct(
        read_acc, at(40), priority=OrderPriority.ROUTINE, images_at=None, who=ZHOU,
        question="跌倒后头痛伴呕吐1天，排除颅内出血"))
    yield Step(TOWNSHIP, text("demo.read_images"), _update(
        TOWNSHIP, rid, ReadAction.IMAGES_AVAILABLE, at(38)), after=(rid, "waiting-for-images"))
    yield Step(LEAD, text("demo.read_claim", reader=LI_YX.name), _update(
        LEAD, rid, ReadAction.CLAIMED, at(30), reader=LI_YX), after=(rid, "images-available"))
    yield Step(LEAD, text("demo.read_preliminary", reader=LI_YX.name), _update(
        LEAD, rid, ReadAction.PRELIMINARY_REPORT, at(20), reader=LI_YX,
        report=report(ref)), after=(rid, "claimed"))
    yield Step(LEAD, text("demo.critical_raised", finding=FINDING), _critical(
        LEAD, rid, CriticalAction.RAISED, at(19), finding=FINDING, by=LI_YX),
        after=(rid, "preliminary"))
    yield Step(LEAD, text("demo.critical_checked", reader=ZHAO.name), _critical(
        LEAD, rid, CriticalAction.DOUBLE_CHECKED, at(18), by=ZHAO), after=(critical, "raised"))
    yield Step(TOWNSHIP, text("demo.critical_acknowledged"), _critical(
        TOWNSHIP, rid, CriticalAction.ACKNOWLEDGED, at(17), read_back=READ_BACK),
        after=(critical, "delivered"))
    yield Step(LEAD, text("demo.read_final", reader=ZHAO.name), _update(
        LEAD, rid, ReadAction.FINAL_REPORT, at(15), reader=ZHAO,
        report=report(ref, reviewer=ZHAO)), after=(critical, "acknowledged"))
    yield Step(TOWNSHIP, text("demo.critical_resolved"), _critical(
        TOWNSHIP, rid, CriticalAction.RESOLVED, at(10), note="已转上级医院神经外科急诊手术"),
        after=(rid, "final"))
