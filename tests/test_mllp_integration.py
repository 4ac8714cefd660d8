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
from collections.abc import Callable
from datetime import date
from pathlib import Path

import hl7
import pytest

from connectors.deadletter import DeadLetterFile
from connectors.hl7.handler import start_hl7_listener
from connectors.mllp.client import MllpClient, send_message
from connectors.sdk import MemberPublisher
from hub.brokers import BaseBroker, free_port
from schemas.models import DiseaseReportCard, Feedback, ImagingReport, LabResult
from schemas.models.clinical import CaseClassification
from schemas.models.common import Belonging, Occupation, Sex
from schemas.models.outputs import FeedbackStatus
from schemas.topics import CDC_REPORTS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess
from tests.test_hl7_messages import TYPHOID_ID, imaging_oru, lab_oru, typhoid_adt

pytestmark = pytest.mark.integration
MEMBER = "lead"
ROOT = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def exchange(bootstrap: str, tmp_path: Path, messages: list[bytes]) -> list[bytes]:
    """Send the messages over one MLLP connection to a listener publishing to Kafka."""
    dead_letters = DeadLetterFile(tmp_path / "dead-letter", MEMBER)

    async def run() -> list[bytes]:
        with MemberPublisher(bootstrap, MEMBER) as publisher:
            server = await start_hl7_listener(publisher, MEMBER, dead_letters=dead_letters)
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


def test_a_resent_message_is_dropped_by_the_hub(
    broker: BaseBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    start_worker()
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
    broker: BaseBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """The HIS's ADT^A01 (tests/test_hl7_messages.typhoid_adt: the standard's example with
    a resident ID, a Chinese address in another county of the city, DG1 A01.0 and the
    occupation and onset OBX) through MLLP and the hub to cdc.disease-reports."""
    start_worker()
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
