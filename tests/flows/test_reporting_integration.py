"""Notifiable disease reporting end to end on the embedded broker.

Phase 1: a cholera diagnosis, a suspected measles case, pulmonary TB at the lead hospital,
a first hepatitis B diagnosis, a dysentery diagnosis without an ID number (made 13 hours
ago, so already past half its 24 hours), a hypertension diagnosis, and a confirmed HIV
test followed by the doctor's diagnosis. The worker stops and a new one starts with its
clock 12 hours ahead (HUB_CLOCK_OFFSET_SECONDS). Phase 2: measles confirmed, the same TB
patient reported by a second (non-treating) member, a hepatitis B follow-up visit, and a
resend of the cholera diagnosis. The test asserts every card, revision and late report on
the CDC topic, every answer each member gets, and that nothing was sent twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.member.sdk import MemberPublisher
from schemas.models import (
    DeadLetter,
    Diagnosis,
    DiseaseReportCard,
    Event,
    Feedback,
    LateReport,
)
from schemas.models.clinical import AbnormalFlag, CaseClassification, VisitKind
from schemas.models.common import Occupation
from schemas.models.outputs import CardKind, FeedbackStatus
from schemas.reference.messages import DEFAULT_LOCALE, Locale
from schemas.topics import CDC_REPORTS, DEAD_LETTER, feedback_topic
from tests.conftest import Decoded, WorkerProcess, read_all
from tests.factories import diagnosis, lab_result, patient

pytestmark = pytest.mark.integration
S = FeedbackStatus
NOW = datetime.now(UTC)
REPORTING = {S.REPORTED, S.REVISED, S.DUPLICATE, S.INCOMPLETE, S.NOT_REPORTABLE,
             S.DEADLINE_WARNING, S.LATE}
LI = patient("510726197505052345", name="李娜")
WANG = patient("510726201503033457", name="王小明", parent_name="王建国",
               occupation=Occupation.STUDENT)
ZHAO = patient("510726196808081111", name="赵强")
SUN = patient("510726198202022222", name="孙丽")
QIAN = patient("510726199012123333", name="钱华")
NO_ID = patient(name="周勇").model_copy(update={"id_type": None, "id_number": None})


def dx(member: str, who: object, icd: str, at: datetime, cls: CaseClassification,
       **kw: object) -> Diagnosis:
    return diagnosis(member, icd, icd, at=at, patient=who, case_classification=cls, **kw)


def answers(events: list[Decoded]) -> list[Feedback]:
    """Reporting's answers, in the order they were sent (they span partitions)."""
    found = [e for _, e in events if isinstance(e, Feedback) and e.status in REPORTING]
    return sorted(found, key=lambda f: f.envelope.occurred_at)


def test_cards_revisions_duplicates_and_late_reports_across_a_restart(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    fast = {"HUB_REPORTING_WATCHDOG_SECONDS": "1"}
    worker = start_worker(**fast)

    def send(*events: Event) -> None:
        for event in events:
            publisher(event.envelope.member_id).publish(event)

    def replies(member: str, count: int) -> list[Feedback]:
        found = answers(read_topic(feedback_topic(member), timeout=90,
                                   until=lambda ev: len(answers(ev)) >= count))
        if len(found) < count:  # say why, rather than only that
            letters = [(e.reason_code, e.reason) for _, e in read_topic(DEAD_LETTER.name)
                       if isinstance(e, DeadLetter)]
            pytest.fail(f"{member}: {found}\ndead letters: {letters}\n{worker.log_tail()}")
        return found

    def cdc(count: int) -> list[Decoded]:
        return read_topic(CDC_REPORTS.name, timeout=90, until=lambda ev: len(ev) >= count)

    cholera = dx("lead", LI, "A00.000", NOW, CaseClassification.CONFIRMED)
    suspected = dx("thc-river", WANG, "B05.900", NOW - timedelta(hours=1),
                   CaseClassification.SUSPECTED)
    tb = dx("lead", ZHAO, "A15.000", NOW, CaseClassification.CONFIRMED)
    hep_b = dx("lead", SUN, "B18.100", NOW, CaseClassification.CONFIRMED)
    no_id = dx("vp-hexi", NO_ID, "A03.900", NOW - timedelta(hours=13),
               CaseClassification.CLINICAL)
    hypertension = dx("chc-east", LI, "I10.x00", NOW, CaseClassification.CONFIRMED)
    hiv_test = lab_result("lead", item="HIV-CONFIRM", patient=QIAN, value_text="阳性",
                          abnormal_flag=AbnormalFlag.POSITIVE, method="WESTERN_BLOT",
                          reported_at=NOW - timedelta(minutes=30))
    send(cholera, suspected, tb, hep_b, no_id, hypertension, hiv_test)
    lead = replies("lead", 4)
    pending = next(f for f in lead if f.in_reply_to == hiv_test.envelope.event_id)
    assert pending.status is S.INCOMPLETE and pending.reason_code == "PENDING_DIAGNOSIS"
    hiv = dx("lead", QIAN, "Z21.x00", NOW - timedelta(minutes=10), CaseClassification.CONFIRMED)
    send(hiv)
    assert len(cdc(5)) == 5
    vp = replies("vp-hexi", 2)
    assert [(f.status, f.missing_fields) for f in vp] == [
        (S.INCOMPLETE, ["id_number"]), (S.DEADLINE_WARNING, ["id_number"])]

    worker.stop()
    worker = start_worker(HUB_CLOCK_OFFSET_SECONDS=str(12 * 3600), **fast)
    confirmed = dx("thc-river", WANG, "B05.900", NOW, CaseClassification.CONFIRMED)
    tb_again = dx("chc-east", ZHAO, "A15.000", NOW, CaseClassification.CONFIRMED,
                  is_treating_unit=False)
    follow_up = dx("mch", SUN, "B18.100", NOW, CaseClassification.CONFIRMED,
                   visit_kind=VisitKind.FOLLOW_UP)
    send(confirmed, tb_again, follow_up, cholera)

    reports = cdc(7)
    cards = [e for _, e in reports if isinstance(e, DiseaseReportCard)]
    by_kind = Counter((c.disease_code, c.kind) for c in cards)
    assert by_kind == {
        ("CHOLERA", CardKind.INITIAL): 1, ("MEASLES", CardKind.INITIAL): 1,
        ("MEASLES", CardKind.REVISION): 1, ("TUBERCULOSIS", CardKind.INITIAL): 1,
        ("HEPATITIS", CardKind.INITIAL): 1, ("HIV-AIDS", CardKind.INITIAL): 1,
    }
    assert len({c.card_id for c in cards}) == len(cards)
    card = {(c.disease_code, c.kind): c for c in cards}
    first_cholera = card[("CHOLERA", CardKind.INITIAL)]
    assert first_cholera.patient_name == "李娜" and first_cholera.id_number == LI.id_number
    assert first_cholera.deadline == NOW.replace(microsecond=NOW.microsecond // 1000 * 1000) + \
        timedelta(hours=2)
    assert first_cholera.reporting_unit_name == "安县人民医院"
    measles, revision = card[("MEASLES", CardKind.INITIAL)], card[("MEASLES", CardKind.REVISION)]
    assert revision.revision_of == measles.card_id
    assert revision.case_classification is CaseClassification.CONFIRMED
    assert card[("HIV-AIDS", CardKind.INITIAL)].subtype == "HIV感染者"
    keys = {e.card_id: k for k, e in reports if isinstance(e, DiseaseReportCard)}
    assert keys[measles.card_id] == keys[revision.card_id]  # one case, one key, in order

    [late] = [e for _, e in reports if isinstance(e, LateReport)]
    assert (late.reporting_unit_id, late.disease_code, late.missing_fields) == (
        "vp-hexi", "DYSENTERY", ["id_number"])
    assert 3600 <= late.late_by_seconds < 3600 + 900

    assert [(f.status, f.card_id) for f in replies("thc-river", 2)] == [
        (S.REPORTED, measles.card_id), (S.REVISED, revision.card_id)]
    [east] = replies("chc-east", 1)
    assert (east.status, east.reason_code, east.in_reply_to) == (
        S.DUPLICATE, "KEPT_OTHER_UNIT", tb_again.envelope.event_id)
    assert east.card_id == card[("TUBERCULOSIS", CardKind.INITIAL)].card_id
    [mch] = replies("mch", 1)
    assert (mch.status, mch.card_id) == (S.DUPLICATE, card[("HEPATITIS", CardKind.INITIAL)].card_id)
    assert [f.status for f in replies("vp-hexi", 3)] == [
        S.INCOMPLETE, S.DEADLINE_WARNING, S.LATE]
    lead = replies("lead", 5)
    assert Counter(f.status for f in lead) == {S.REPORTED: 4, S.INCOMPLETE: 1}
    assert hypertension.envelope.event_id not in {f.in_reply_to for f in answers(
        read_topic(feedback_topic("chc-east")))}

    assert len(read_all(worker.env["HUB_BROKER"], CDC_REPORTS.name)) == 7  # nothing twice
    changelog = f"{worker.env['HUB_APP_ID']}-reporting-cases-changelog"
    entries = read_all(worker.env["HUB_BROKER"], changelog)
    stored = b"".join(v or b"" for _, v in entries)
    assert stored and all(s.encode() not in stored for s in ("李娜", "510726", "河口镇"))
    # the watchdog's marks reach the changelog too, so a restart does not repeat them
    latest = {k: json.loads(v) for k, v in entries if v}
    [marked] = [c for v in latest.values() for c in v["cases"] if c["disease_code"] == "DYSENTERY"]
    assert marked["warned_at"] and marked["late_reported_at"]


def test_timeliness_and_open_cases_on_the_worker(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker(HUB_REPORTING_WATCHDOG_SECONDS="1")
    late = dx("mch", QIAN, "B26.900", NOW - timedelta(hours=30), CaseClassification.CLINICAL)
    pending = dx("mch", QIAN, "B06.900", NOW, CaseClassification.CLINICAL, onset_date=None)
    publisher("mch").publish(late)
    publisher("mch").publish(pending)
    read_topic(CDC_REPORTS.name, timeout=60, until=lambda ev: any(
        isinstance(e, DiseaseReportCard) and e.disease_code == "MUMPS" for _, e in ev))
    read_topic(feedback_topic("mch"), timeout=60, until=lambda ev: any(
        f.in_reply_to == pending.envelope.event_id for f in answers(ev)))
    status, body = worker.get("/reporting/open-cases?member=mch")
    [case] = json.loads(body)["cases"]
    assert (case["disease_code"], case["state"], case["missing_fields"], case["lacks"]) == (
        "RUBELLA", "in_time", ["onset_date"], ["发病日期"])
    [reply] = [f for f in answers(read_topic(feedback_topic("mch")))
               if f.in_reply_to == pending.envelope.event_id]
    assert reply.reason == (  # Chinese by default, the deadline's date in the consortium zone
        "报告卡缺少以下项目，无法报送：发病日期；"
        f"报告时限 {DEFAULT_LOCALE.time(NOW + timedelta(hours=24))} 仍在计时；"
        f"可在报告卡页面补全后立即报送：{reply.details['card_url']}")
    assert QIAN.id_number and QIAN.id_number.encode() not in body and "钱华".encode() not in body
    status, body = worker.get("/reporting/timeliness?member=mch&disease=MUMPS")
    assert status == 200
    [row] = json.loads(body)["rows"]
    assert (row["member_id"], row["disease_code"]) == ("mch", "MUMPS")
    assert row["disease_name"] == "流行性腮腺炎"
    assert (row["cases"], row["reported"], row["late_cards"], row["on_time_rate"]) == (1, 1, 1, 0.0)
    assert worker.get("/reporting/timeliness?since=yesterday")[0] == 400


def test_a_worker_set_to_english_answers_in_english_in_its_zone(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    start_worker(HUB_LANGUAGE="en", HUB_TIMEZONE="Asia/Urumqi")
    wu = patient("510726199505054446", name="吴芳")
    pending = dx("vp-hexi", wu, "B06.900", NOW, CaseClassification.CLINICAL, onset_date=None)
    publisher("vp-hexi").publish(pending)
    found = read_topic(feedback_topic("vp-hexi"), timeout=60, until=lambda ev: any(
        f.in_reply_to == pending.envelope.event_id for f in answers(ev)))
    [reply] = [f for f in answers(found) if f.in_reply_to == pending.envelope.event_id]
    assert reply.reason_code == "MISSING_FIELDS"
    assert reply.reason == (
        "the report card cannot be sent without these fields: onset date; the deadline "
        f"{Locale.of('en', 'Asia/Urumqi').time(NOW + timedelta(hours=24))} keeps running; "
        f"complete the card on its page to send it at once: {reply.details['card_url']}")


def test_the_watchdog_writes_its_marks_into_rocksdb_tables_too(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """The watchdog writes states from a timer, with no input being handled: the RocksDB
    store, which otherwise takes a partition's database from the current input, must
    still take them (it refused them before hub/runtime/table_writes.py named the partition)."""
    worker = start_worker(HUB_STORE="rocksdb://", HUB_REPORTING_WATCHDOG_SECONDS="1")
    overdue = dx("city-tcm", ZHAO, "B06.900", NOW - timedelta(hours=30),
                 CaseClassification.CLINICAL, onset_date=None)
    publisher("city-tcm").publish(overdue)

    def late_here(events: list[Decoded]) -> list[LateReport]:
        return [e for _, e in events if isinstance(e, LateReport)
                and (e.reporting_unit_id, e.disease_code) == ("city-tcm", "RUBELLA")]

    reports = read_topic(CDC_REPORTS.name, timeout=60, until=lambda ev: bool(late_here(ev)))
    [late] = late_here(reports)
    assert late.missing_fields == ["onset_date"]
    changelog = f"{worker.env['HUB_APP_ID']}-reporting-cases-changelog"
    latest = {k: json.loads(v) for k, v in read_all(worker.env["HUB_BROKER"], changelog) if v}
    marked = [c for v in latest.values() for c in v["cases"] if c["case_id"] == late.case_id]
    assert marked and marked[0]["late_reported_at"]
    assert worker.running(), worker.log_tail()
