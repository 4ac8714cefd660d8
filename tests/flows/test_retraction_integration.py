"""Retractions end to end on the suite's broker.

Recognition: the lead's LIS sends a potassium result (the ORU^R01 of
tests/connectors/test_hl7_messages, dated yesterday), a community centre orders potassium
and is advised to recognise it; the
LIS then posts the result as wrong (OBX-11 W, the same OBR-3 and OBX-3), and the centre is
told that the advice citing it is withdrawn, and a new order gets no advice to recognise it.

Reporting: a township centre's suspected measles card goes to the CDC; the diagnosis is
then refuted (the IgM came back negative), and a revision card with the case classification
EXCLUDED follows on cdc.disease-reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.handler import map_message
from connectors.member.hl7.message import decode
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper
from connectors.member.sdk import MemberPublisher
from hub.ops.tokens import member_token
from schemas.models import DiseaseReportCard, Feedback, LabResult, RecognitionAdvice
from schemas.models.clinical import CaseClassification, DiagnosisVerification, ResultStatus
from schemas.models.outputs import CardKind, FeedbackStatus, Verdict
from schemas.topics import CDC_REPORTS, feedback_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.connectors.test_hl7_messages import PATIENT_ID, lab_oru, wrong_patient_oru
from tests.factories import diagnosis, patient
from tests.factories import test_order as make_order

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC).replace(microsecond=0)
YESTERDAY = (NOW - timedelta(days=1)).astimezone(ZONE).strftime("%Y%m%d")
SECRET = "retraction-integration-secret"


def potassium_verdict(worker: WorkerProcess) -> str:
    """What the recognition lookup answers chc-west for the patient's potassium now."""
    status, body = worker.request_json(
        "/recognition/lookup",
        {"id_type": "RESIDENT_ID", "id_number": PATIENT_ID, "items": ["K"]},
        {"Authorization": f"Bearer {member_token(SECRET, 'chc-west')}"})
    return str(body["answers"][0]["verdict"]) if status == 200 else f"HTTP {status}"


def from_lis(text: str) -> list[LabResult]:
    """What the lead's HL7 connector publishes for a message (its dates moved to
    yesterday, so the result is within potassium's 7-day window)."""
    ctx = MappingContext("lead", CodeMapper.load("lead"), ZONE, PatientCache(None))
    events = map_message(ctx, decode(text.replace("20250301", YESTERDAY).encode()))
    assert all(isinstance(e, LabResult) for e in events)
    return [e for e in events if isinstance(e, LabResult)]


def advice(events: list[Decoded]) -> list[RecognitionAdvice]:
    """Each advice once: at-least-once delivery may repeat one under the same event id."""
    distinct: dict[str, RecognitionAdvice] = {}
    for _, event in events:
        if isinstance(event, RecognitionAdvice):
            distinct.setdefault(event.envelope.event_id, event)
    return list(distinct.values())


def test_a_result_posted_as_wrong_withdraws_the_advice_that_cited_it(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker(HUB_API_SECRET=SECRET)
    lead, west = publisher("lead"), publisher("chc-west")
    potassium = from_lis(lab_oru())[0]
    assert potassium.item_code == "K"
    lead.publish(potassium)
    who = patient(PATIENT_ID)
    first = make_order("chc-west", patient=who, order_id="W-10",
                       ordered_at=potassium.reported_at + timedelta(hours=2))

    def west_advice(count: int) -> list[RecognitionAdvice]:
        found = advice(read_topic(feedback_topic("chc-west"), timeout=60,
                                  until=lambda ev: len(advice(ev)) >= count))
        assert len(found) >= count, worker.log_tail()
        return found

    assert wait_for(lambda: potassium_verdict(worker) == "RECOGNISABLE"), worker.log_tail()
    west.publish(first)
    [advised] = west_advice(1)
    assert advised.verdict is Verdict.RECOGNISABLE, worker.log_tail()
    assert [r.result_event_id for r in advised.results] == [potassium.envelope.event_id]

    [retraction] = from_lis(wrong_patient_oru())
    assert retraction.status is ResultStatus.RETRACTED
    lead.publish(retraction)
    withdrawn = west_advice(2)[1]
    assert withdrawn.withdrawn_result_id == potassium.envelope.event_id
    assert (withdrawn.order_id, withdrawn.order_event_id) == ("W-10", first.envelope.event_id)
    assert withdrawn.verdict is Verdict.NONE_VALID and withdrawn.results == []
    assert withdrawn.envelope.correlation_id == retraction.envelope.event_id
    assert "撤回" in withdrawn.message

    second = make_order("chc-west", patient=who, order_id="W-11",
                        ordered_at=potassium.reported_at + timedelta(hours=3))
    west.publish(second)
    [after] = [a for a in west_advice(3) if a.order_id == "W-11"]
    assert after.verdict is Verdict.NONE_VALID
    # the late original (a resend of the first message) is not indexed again
    resent = from_lis(lab_oru(control="LAB20250301009"))[0]
    lead.publish(resent)
    assert wait_for(lambda: worker.metric("hub_recognition_retractions_total",
                                          outcome="late_original") >= 1), worker.log_tail()
    assert potassium_verdict(worker) == "NONE_VALID"
    third = make_order("chc-west", patient=who, order_id="W-12",
                       ordered_at=potassium.reported_at + timedelta(hours=4))
    west.publish(third)
    [last] = [a for a in west_advice(4) if a.order_id == "W-12"]
    assert last.verdict is Verdict.NONE_VALID


def test_a_refuted_suspected_measles_revises_its_card_to_an_excluded_case(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    start_worker()
    river = publisher("thc-river")
    child = patient("510726201503033457", name="王小明", parent_name="王建国")
    suspected = diagnosis("thc-river", "B05.900", "麻疹", at=NOW - timedelta(hours=3),
                          patient=child, case_classification=CaseClassification.SUSPECTED)
    river.publish(suspected)

    def cards(count: int) -> list[DiseaseReportCard]:
        found = [e for _, e in read_topic(CDC_REPORTS.name, timeout=60,
                                          until=lambda ev: len(ev) >= count)
                 if isinstance(e, DiseaseReportCard)]
        assert len(found) >= count
        return found

    [initial] = cards(1)
    assert initial.case_classification is CaseClassification.SUSPECTED
    refuted = diagnosis("thc-river", "B05.900", "麻疹", at=NOW - timedelta(minutes=5),
                        patient=child, verification=DiagnosisVerification.REFUTED,
                        doctor="王医生")
    river.publish(refuted)
    revision = cards(2)[1]
    assert revision.kind is CardKind.REVISION and revision.revision_of == initial.card_id
    assert revision.case_classification is CaseClassification.EXCLUDED
    assert revision.card_number == initial.card_number
    assert revision.diagnosed_at == refuted.diagnosed_at
    assert revision.filled_at > initial.filled_at
    assert revision.patient_name == "王小明"

    def revised(events: list[Decoded]) -> bool:
        return any(isinstance(e, Feedback) and e.status is FeedbackStatus.REVISED
                   for _, e in events)
    told = read_topic(feedback_topic("thc-river"), timeout=60, until=revised)
    reply = next(e for _, e in told if isinstance(e, Feedback)
                 and e.status is FeedbackStatus.REVISED)
    assert reply.card_id == revision.card_id and reply.reason_code == "REFUTED"
