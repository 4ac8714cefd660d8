"""The HL7 listener publishing with the real MemberPublisher to the embedded broker: what
the ACKs say, what lands on in.<member>, and (with a hub worker) that a resent message is
dropped by the hub as a duplicate because its event ids are the same."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest

from connectors.member.deadletter import DeadLetterFile
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mllp.client import MllpClient, send_message
from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker, free_port
from hub.ops.tokens import member_token
from schemas.models import (
    DiseaseReportCard,
    Feedback,
    ImagingReport,
    LabResult,
    RecognitionAdvice,
)
from schemas.models.clinical import CaseClassification
from schemas.models.common import Belonging, Occupation, Sex
from schemas.models.outputs import FeedbackStatus, Verdict
from schemas.topics import CDC_REPORTS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.connectors.test_hl7_messages import (
    PATIENT_ID,
    TYPHOID_ID,
    imaging_oru,
    lab_oru,
    message,
    seg,
    typhoid_adt,
)

pytestmark = pytest.mark.integration
MEMBER = "lead"
ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def exchange(bootstrap: str, tmp_path: Path, messages: list[bytes],
             member: str = MEMBER) -> list[bytes]:
    """Send the messages over one MLLP connection to a listener publishing to Kafka."""
    dead_letters = DeadLetterFile(tmp_path / "dead-letter", member)

    async def run() -> list[bytes]:
        with MemberPublisher(bootstrap, member) as publisher:
            server = await start_hl7_listener(publisher, member, dead_letters=dead_letters)
            try:
                async with MllpClient("127.0.0.1", server.port, timeout=30) as client:
                    return [await client.send(m) for m in messages]
            finally:
                await server.close()

    return asyncio.run(asyncio.wait_for(run(), 90))


def msa(reply: bytes, charset: str = "utf-8") -> list[str]:
    segment = hl7.parse(reply.decode(charset)).segment("MSA")
    return [str(segment[n]) for n in range(1, len(segment))]


def event_ids(reply: bytes, charset: str = "utf-8") -> set[str]:
    """The event ids an AA names in MSA-3 ("published LabResult <id>, ...")."""
    return set(UUID.findall(msa(reply, charset)[2]))


def test_acks_and_events_on_the_ingress_topic(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]]
) -> None:
    chinese = lab_oru(control="LAB-GB-1", charset="GB 18030-2000").replace("张^三", "欧阳^娜娜")
    broken = imaging_oru(control="RIS-BROKEN").replace("结节影。", "结节影。\r纵隔未见异常。")
    replies = exchange(broker.bootstrap, tmp_path, [
        lab_oru(control="LAB-INT-1").encode(), imaging_oru(control="RIS-INT-1").encode(),
        chinese.encode("gb18030"), broken.encode(),
        lab_oru(control="LAB-UNKNOWN", potassium_code="L-NOT-MAPPED").encode(),
    ])
    lab, imaging, gb, refused_broken, refused_unknown = replies
    assert msa(lab)[:2] == ["AA", "LAB-INT-1"]
    assert msa(imaging)[:2] == ["AA", "RIS-INT-1"]
    assert msa(gb, "gb18030")[:2] == ["AA", "LAB-GB-1"]
    assert msa(refused_broken)[0] == "AE" and "segment 6" in msa(refused_broken)[2]
    assert msa(refused_unknown)[0] == "AE" and "'L-NOT-MAPPED'" in msa(refused_unknown)[2]

    acked_ids = event_ids(lab) | event_ids(imaging) | event_ids(gb, "gb18030")
    events = [e for _, e in read_topic(ingress_topic(MEMBER),
                                       until=lambda got: len(got) >= 7, timeout=30)]
    assert len(events) == 7  # 3 + 1 + 3, nothing from the refused messages
    assert {e.envelope.event_id for e in events} <= acked_ids
    assert sum(isinstance(e, ImagingReport) for e in events) == 1
    names = {e.patient.name for e in events if isinstance(e, LabResult)}
    assert names == {"张三", "欧阳娜娜"}
    records = DeadLetterFile(tmp_path / "dead-letter", MEMBER).read_all()
    assert [r["reason_code"] for r in records] == ["MALFORMED", "UNMAPPED_CODE"]


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One worker for the module's tests that need the hub (a new one per test would only
    replay the same topics); the record-number test's API secret is its."""
    started = WorkerProcess(broker.bootstrap, tmp_path_factory.mktemp("mllp-hub"), {
        **broker.worker_env(), "HUB_APP_ID": "hub-test-mllp", "HUB_SESSION_TIMEOUT": "6",
        "HUB_LOG_LEVEL": "info", "HUB_API_SECRET": API_SECRET})
    yield started.start()
    started.kill()


def test_a_resent_message_is_dropped_by_the_hub(
    broker: BaseBroker, tmp_path: Path, worker: WorkerProcess,
    read_topic: Callable[..., list[Decoded]],
) -> None:
    message = lab_oru(control="LAB-RESEND-1", potassium_code="L0001").encode()
    first, resent = exchange(broker.bootstrap, tmp_path, [message, message])
    assert msa(first)[0] == msa(resent)[0] == "AA"
    ids = event_ids(first)
    assert len(ids) == 3 and event_ids(resent) == ids

    def duplicates(got: list[Decoded]) -> int:
        return sum(isinstance(e, Feedback) and e.status is FeedbackStatus.REJECTED
                   and e.reason_code == "DUPLICATE_EVENT" and e.in_reply_to in ids
                   for _, e in got)

    feedback = read_topic(feedback_topic(MEMBER), until=lambda got: duplicates(got) >= 3,
                          timeout=60)
    assert duplicates(feedback) == 3
    accepted = [e.in_reply_to for _, e in feedback if isinstance(e, Feedback)
                and e.status is FeedbackStatus.ACCEPTED and e.in_reply_to in ids]
    assert sorted(accepted) == sorted(ids)  # admitted once each


# The HL7 v2 standard's example patient (v2.5 ch. 2/3 and countless samples): PID-3 with no
# identifier type, i.e. the hospital's medical record number 555-44-4444.
PID_EVE = ("PID|||555-44-4444||EVERYWOMAN^EVE^E^^^^L|JONES|19620320|F|||"
           "153 FERNWOOD DR.^^STATESVILLE^OH^35292||(206)3345232|(206)752-121||||AC555444444")
# Another woman, whom chc-east's HIS happens to have given the same record number.
PID_LI = seg("PID", {1: "1", 3: "555-44-4444", 5: "李^秀英", 7: "19750802", 8: "F",
                     11: "幸福街8号^河东村^绵阳市^四川省^^^H^河口镇^安县"})
# A resident ID (national: matches across members) with chc-east's own record number.
PID_ZHANG_EAST = seg("PID", {1: "1", 3: f"{PATIENT_ID}^^^CHCEAST^ID~E0455^^^CHCEAST^MR",
                             5: "张^三", 7: "19850612", 8: "M"})
API_SECRET = "mllp-identity-secret"


def hl7_time(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d%H%M%S%z")


def glucose_oru(pid: str, control: str, at: datetime) -> str:
    """The lead's LIS reports a fasting glucose (its local code L0013)."""
    when = hl7_time(at)
    return message(
        pid,
        seg("PV1", {1: "1", 2: "O", 3: "内科门诊^^^LEAD", 7: "D001^李^医生"}),
        seg("ORC", {1: "RE", 2: f"ORD-{control}", 3: f"ACC-{control}"}),
        seg("OBR", {1: "1", 2: f"ORD-{control}", 3: f"ACC-{control}", 4: "L0013^葡萄糖^L",
                    7: when, 22: when, 24: "CH", 25: "F"}),
        seg("OBX", {1: "1", 2: "NM", 3: "L0013^葡萄糖^L", 5: "6.2", 6: "mmol/L",
                    7: "3.9-6.1", 8: "H", 11: "F", 14: when}),
        control=control,
    )


def glucose_orm(pid: str, control: str, order_id: str, local_code: str, at: datetime,
                facility: str) -> str:
    """A new routine glucose order from a member's HIS (ORM^O01, one ORC/OBR)."""
    return message(
        pid,
        seg("PV1", {1: "1", 2: "O", 3: f"全科门诊^^^{facility}"}),
        seg("ORC", {1: "NW", 2: order_id, 7: "^^^^^R", 9: hl7_time(at), 12: "D201^周^医生"}),
        seg("OBR", {1: "1", 2: order_id, 4: f"{local_code}^葡萄糖^L"}),
        app="HIS", type_="ORM^O01^ORM_O01", control=control, facility=facility,
    )


def test_a_record_number_is_one_patient_only_at_its_own_hospital(
    broker: BaseBroker, tmp_path: Path, worker: WorkerProcess,
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """The lead reports glucose for Eve (record number 555-44-4444) and for a resident-ID
    patient; chc-east orders glucose for its own 555-44-4444, another woman: no advice
    cites Eve's result, while the resident-ID patient's order does get the lead's result,
    and the lead's own order for Eve does too."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    eve_oru, zhang_oru = exchange(broker.bootstrap, tmp_path, [
        glucose_oru(PID_EVE, "LAB-EVE-1", now - timedelta(days=1)).encode(),
        glucose_oru(seg("PID", {1: "1", 3: f"{PATIENT_ID}^^^LEAD^ID", 5: "张^三",
                                7: "19850612", 8: "M"}),
                    "LAB-ZHANG-1", now - timedelta(days=1)).encode(),
    ])
    assert msa(eve_oru)[0] == msa(zhang_oru)[0] == "AA"
    (eve_result,), (zhang_result,) = event_ids(eve_oru), event_ids(zhang_oru)

    def lookup(member: str, id_type: str, id_number: str) -> Any:
        status, body = worker.request_json(
            "/recognition/lookup", {"id_type": id_type, "id_number": id_number,
                                    "items": ["GLU"]},
            {"Authorization": f"Bearer {member_token(API_SECRET, member)}"})
        return body["answers"][0] if status == 200 else None

    def indexed() -> bool:
        eve, zhang = (lookup("lead", "MEDICAL_RECORD_NUMBER", "555-44-4444"),
                      lookup("chc-east", "RESIDENT_ID", PATIENT_ID))
        return bool(eve and zhang and eve["verdict"] == zhang["verdict"] == "RECOGNISABLE")
    assert wait_for(indexed, timeout=60), worker.log_tail()
    # the recognition API reads a record number as the asking member's own
    assert lookup("chc-east", "MEDICAL_RECORD_NUMBER", "555-44-4444")["results"] == []

    order_at = now - timedelta(hours=1)
    east_replies = exchange(broker.bootstrap, tmp_path, [
        glucose_orm(PID_LI, "HIS-E-1", "E-ORD-1", "SH-GLU", order_at, "CHCEAST").encode(),
        glucose_orm(PID_ZHANG_EAST, "HIS-E-2", "E-ORD-2", "SH-GLU", order_at,
                    "CHCEAST").encode(),
    ], member="chc-east")
    (lead_order,) = exchange(broker.bootstrap, tmp_path, [
        glucose_orm(PID_EVE, "HIS-L-1", "L-ORD-1", "L0013", order_at, "LEAD").encode()])
    assert [msa(r)[0] for r in [*east_replies, lead_order]] == ["AA"] * 3

    def advice(member: str, count: int) -> dict[str, RecognitionAdvice]:
        def by_order(events: list[Decoded]) -> dict[str, RecognitionAdvice]:
            return {e.order_id: e for _, e in events if isinstance(e, RecognitionAdvice)}
        return by_order(read_topic(feedback_topic(member),
                                   until=lambda got: len(by_order(got)) >= count, timeout=60))

    east, lead = advice("chc-east", 2), advice("lead", 1)
    assert east["E-ORD-1"].verdict is Verdict.NONE_VALID and east["E-ORD-1"].results == []
    assert east["E-ORD-2"].verdict is Verdict.RECOGNISABLE
    assert [r.result_event_id for r in east["E-ORD-2"].results] == [zhang_result]
    assert [r.result_event_id for r in lead["L-ORD-1"].results] == [eve_result]
    assert eve_result not in str([a.model_dump() for a in east.values()])
    # the connectors' SDK keyed each record number by its member, as intake places it
    assert worker.metric("hub_intake_placement_total", member="chc-east",
                         placement="in_place") == 2
    for member in ("lead", "chc-east"):
        assert worker.metric("hub_intake_placement_total", member=member,
                             placement="forwarded") == 0, member


def test_mllp_command_serves_hl7_and_metrics(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]]
) -> None:
    mllp_port, metrics_port = free_port(), free_port()
    env = {**os.environ, "HUB_BROKER": broker.bootstrap, "HUB_MEMBER_ID": MEMBER,
           "HUB_MLLP_HOST": "127.0.0.1", "HUB_MLLP_PORT": str(mllp_port),
           "HUB_METRICS_HOST": "127.0.0.1", "HUB_METRICS_PORT": str(metrics_port),
           "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "mllp.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "connectors.cli", "mllp"], cwd=tmp_path,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = asyncio.run(send_message(
                    "127.0.0.1", mllp_port, lab_oru(control="LAB-CLI-1").encode(), 30))
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "mllp.log").read_text()
                time.sleep(0.2)
        assert msa(reply)[0] == "AA"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        assert 'connector_mllp_acks_total{code="AA"} 1.0' in text
        assert 'connector_events_published_total{channel="mllp",event="LabResult"} 3.0' in text
    finally:
        process.terminate()
        process.wait(15)
        log.close()
    assert process.returncode == 0, (tmp_path / "mllp.log").read_text()
    published = {e.envelope.event_id for _, e in read_topic(ingress_topic(MEMBER))}
    assert event_ids(reply) <= published


def test_a_typhoid_admission_reaches_the_cdc_as_a_complete_card(
    broker: BaseBroker, tmp_path: Path, worker: WorkerProcess,
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """The HIS's ADT^A01 (test_hl7_messages.typhoid_adt: the standard's example with
    a resident ID, a Chinese address in another county of the city, DG1 A01.0 and the
    occupation and onset OBX) through MLLP and the hub to cdc.disease-reports."""
    [reply] = exchange(broker.bootstrap, tmp_path, [typhoid_adt(control="HIS-TYPHOID-1").encode()])
    assert msa(reply)[0] == "AA" and "ERR" not in reply.decode()

    def typhoid(got: list[Decoded]) -> list[DiseaseReportCard]:
        return [e for _, e in got if isinstance(e, DiseaseReportCard)
                and e.id_number == TYPHOID_ID]

    cards = typhoid(read_topic(CDC_REPORTS.name, until=lambda got: bool(typhoid(got)),
                               timeout=90))
    if not cards:
        answers = [(e.status, e.reason) for _, e in read_topic(feedback_topic(MEMBER))
                   if isinstance(e, Feedback) and e.in_reply_to in event_ids(reply)]
        pytest.fail(f"no card; the hub answered {answers}")
    [card] = cards
    assert (card.disease_code, card.subtype, card.icd10) == ("TYPHOID", "伤寒", "A01.0")
    assert (card.patient_name, card.sex, card.birth_date) == ("史威廉", Sex.MALE,
                                                              date(1961, 6, 15))
    assert card.belonging is Belonging.OTHER_COUNTY_THIS_CITY
    assert card.occupation is Occupation.FARMER and card.onset_date == date(2026, 2, 26)
    assert (card.address.county, card.address.township) == ("涪城区", "城厢街道")
    assert card.case_classification is CaseClassification.CLINICAL
