"""Recognition rules, on their own: mapping, the window, QC, direction, re-test reasons,
the advice, the bounded result index and the decision counts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import admit
from hub.rules.privacy import Sealer
from hub.rules.recognition.advice import RETEST_EXPLANATIONS, advise, answer
from hub.rules.recognition.cds import card, patient_identity, resolve_item, selected_orders
from hub.rules.recognition.eligibility import NotRecognisable, map_item, why_not
from hub.rules.recognition.index import (
    IndexedResult,
    add_result,
    index_entry,
    results_for,
    should_index,
)
from hub.rules.recognition.retraction import (
    TOMBSTONES,
    advised_on,
    forget_advised,
    is_retracted,
    retract,
    retraction_of,
    withdrawn_advice,
)
from hub.rules.recognition.stats import (
    OrderRecord,
    apply_delta,
    counts_key,
    metric_increments,
    record_decision,
    record_order,
    summarise,
)
from hub.rules.rejections import Rejection
from schemas.models import Event, ImagingReport
from schemas.models.clinical import Decision, Modality, OrderPriority, ResultStatus, RetestReason
from schemas.models.common import IdType, Patient, Sex
from schemas.models.outputs import Verdict
from schemas.reference.items import Item, load_item_catalogue
from schemas.reference.messages import DEFAULT_LOCALE, Language, Locale
from schemas.reference.registry import Member, load_registry
from tests.factories import lab_result, patient
from tests.factories import test_order as make_order

REGISTRY = load_registry()
CATALOGUE = load_item_catalogue()
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECRET = b"recognition-rules-secret"
SEALER = Sealer(Fernet.generate_key())


def item(code: str) -> Item:
    found = CATALOGUE.get(code)
    assert found is not None
    return found


def member(member_id: str) -> Member:
    found = REGISTRY.get(member_id)
    assert found is not None
    return found


def result(producer: str = "chc-east", code: str = "K", at: datetime = T0,
           qc: bool = True, event_id: str = "r1", order_ref: str | None = None) -> IndexedResult:
    return IndexedResult(event_id, producer, code, at, qc, value_numeric=4.1, unit="mmol/L",
                         order_ref=order_ref)


def verdict_for(res: IndexedResult, orderer: str, at: datetime,
                code: str = "K") -> NotRecognisable | None:
    return why_not(res, item(code), member(orderer), REGISTRY, at)


# --- mapping ---------------------------------------------------------------------------

def test_two_members_local_codes_map_to_the_same_item() -> None:
    assert map_item(CATALOGUE, "chc-east", None, "SH-K").code == "K"
    assert map_item(CATALOGUE, "chc-west", "", "CW101").code == "K"
    assert map_item(CATALOGUE, "chc-west", None, " cw101 ").code == "K"
    assert map_item(CATALOGUE, "chc-west", "NA", "whatever").code == "NA"  # item_code wins
    assert map_item(CATALOGUE, "chc-west", None, "LAB-99", loinc="2823-3").code == "K"


@pytest.mark.parametrize(("member_id", "item_code", "local_code", "text"), [
    ("chc-west", None, "SH-K", "chc-west 的本地代码 SH-K 未对照"),  # east's code, not west's
    ("chc-east", None, "NOPE", "未对照到目录项目"),
    ("chc-east", "XYZ", "SH-K", "项目代码 XYZ 不在医联体项目目录中"),
])
def test_unmapped_codes_are_refused(
    member_id: str, item_code: str | None, local_code: str, text: str
) -> None:
    with pytest.raises(Rejection, match=text) as refused:
        map_item(CATALOGUE, member_id, item_code, local_code)
    assert refused.value.code == "UNMAPPED_CODE"


# --- the rule --------------------------------------------------------------------------

def test_window_edges_last_valid_second_and_first_invalid() -> None:
    last_valid = T0 + timedelta(days=7)
    assert verdict_for(result(), "lead", last_valid) is None
    assert verdict_for(result(), "lead", last_valid + timedelta(seconds=1)) == \
        NotRecognisable.EXPIRED
    glucose = result(code="GLU")
    assert verdict_for(glucose, "lead", T0 + timedelta(days=30), "GLU") is None
    assert verdict_for(glucose, "lead", T0 + timedelta(days=30, seconds=1), "GLU") == \
        NotRecognisable.EXPIRED
    assert verdict_for(result(), "lead", T0 - timedelta(seconds=1)) == \
        NotRecognisable.REPORTED_AFTER_ORDER


def test_qc_missing_or_failed_is_not_recognisable() -> None:
    at = T0 + timedelta(days=1)
    assert verdict_for(result("vp-shanxia"), "lead", at) == NotRecognisable.QC_NOT_PASSED
    assert verdict_for(result("chc-west", "CA"), "lead", at, "CA") == \
        NotRecognisable.QC_NOT_PASSED  # failed external quality assessment
    assert verdict_for(result(qc=False), "lead", at) == NotRecognisable.QC_NOT_PASSED
    assert verdict_for(result("gone-member"), "lead", at) == NotRecognisable.UNKNOWN_PRODUCER
    assert verdict_for(result(code="NA"), "lead", at) == NotRecognisable.OTHER_ITEM


def test_direction_between_levels_and_consortia() -> None:
    at = T0 + timedelta(days=1)
    # the city TCM hospital (another consortium) does not recognise a lower level...
    assert verdict_for(result("chc-east"), "city-tcm", at) == NotRecognisable.WRONG_DIRECTION
    # ...but recognises the same level, and a lower level recognises it
    assert verdict_for(result("lead"), "city-tcm", at) is None
    assert verdict_for(result("city-tcm"), "chc-east", at) is None
    assert verdict_for(result("city-tcm"), "vp-hexi", at) is None
    # inside one consortium everyone recognises everyone, even upward
    assert verdict_for(result("vp-dongjie", "GLU"), "lead", at, "GLU") is None


def test_emergency_allows_a_retest_and_still_lists_the_result() -> None:
    order = make_order("lead", ordered_at=T0 + timedelta(days=2), priority=OrderPriority.EMERGENCY)
    advice = advise(order, item("K"), [result()], member("lead"), REGISTRY, T0 + timedelta(days=3))
    assert advice.verdict is Verdict.RETEST_ALLOWED
    assert advice.retest_reason is RetestReason.EMERGENCY
    assert advice.message == (
        "钾（K）已有可互认结果（城东社区卫生服务中心于 2025-03-01 16:00 +08:00 报告，"
        "有效期至 2025-03-08 16:00 +08:00）；因属于急诊急救，可以重新检查"
    )
    assert [r.result_event_id for r in advice.results] == ["r1"]


def test_advice_is_chinese_by_default_with_times_in_the_consortium_zone() -> None:
    order = make_order("lead", ordered_at=T0 + timedelta(days=2))
    advice = advise(order, item("K"), [result()], member("lead"), REGISTRY, T0 + timedelta(days=3))
    assert advice.verdict is Verdict.RECOGNISABLE
    assert advice.message == (
        "钾（K）已有可互认结果：城东社区卫生服务中心于 2025-03-01 16:00 +08:00 报告，"
        "有效期至 2025-03-08 16:00 +08:00"
    )


def test_advice_in_english_and_another_zone_when_the_settings_say_so() -> None:
    order = make_order("lead", ordered_at=T0 + timedelta(days=2))
    english = Locale.of(Language.EN, "Asia/Urumqi")
    advice = advise(order, item("K"), [result()], member("lead"), REGISTRY,
                    T0 + timedelta(days=3), english)
    assert advice.message == (
        "Recognisable result of 钾 (K) already exists: 城东社区卫生服务中心 reported it on "
        "2025-03-01 14:00 +06:00, valid until 2025-03-08 14:00 +06:00"
    )
    none = answer(item("K"), [], member("lead"), REGISTRY, T0, locale=english)
    assert none.message == "No valid recognisable result of 钾 (K)"


@pytest.mark.parametrize("reason", list(RetestReason))
def test_each_retest_reason_allows_a_retest_and_says_why(reason: RetestReason) -> None:
    verdict = answer(item("K"), [result()], member("lead"), REGISTRY, T0 + timedelta(days=1),
                     reason)
    assert verdict.verdict is Verdict.RETEST_ALLOWED and verdict.retest_reason is reason
    why = DEFAULT_LOCALE.render(RETEST_EXPLANATIONS[reason])
    assert f"因{why}，可以重新检查" in verdict.message and len(verdict.results) == 1


def test_nothing_recognisable_is_none_valid_even_with_a_reason() -> None:
    late = T0 + timedelta(days=8)
    verdict = answer(item("K"), [result()], member("lead"), REGISTRY, late,
                     RetestReason.PATIENT_REQUEST)
    assert verdict.verdict is Verdict.NONE_VALID and verdict.results == []
    hiv = answer(item("HIV-CONFIRM"), [], member("lead"), REGISTRY, late)
    assert hiv.verdict is Verdict.NONE_VALID and "不属于互认项目" in hiv.message


def test_advice_goes_to_the_orderer_only_with_a_deterministic_id() -> None:
    order = make_order("chc-west", ordered_at=T0 + timedelta(days=3))
    results = [result(), result("lead", event_id="r0", at=T0 - timedelta(days=1))]
    now = T0 + timedelta(days=3, hours=1)
    advice = advise(order, item("K"), results, member("chc-west"), REGISTRY, now)
    again = advise(order, item("K"), results, member("chc-west"), REGISTRY, now)
    assert advice == again
    assert advice.verdict is Verdict.RECOGNISABLE
    assert advice.envelope.member_id == "chc-west"
    assert advice.envelope.correlation_id == order.envelope.event_id
    assert advice.order_id == order.order_id and advice.item_name == "钾"
    newest = advice.results[0]
    assert [r.result_event_id for r in advice.results] == ["r1", "r0"]  # newest first
    assert (newest.member_name, newest.value_numeric, newest.mark) == ("城东社区卫生服务中心",
                                                                       4.1, "AXHR")
    assert newest.valid_until == T0 + timedelta(days=7)
    assert "110101" not in advice.model_dump_json() and "张三" not in advice.model_dump_json()


def test_a_late_order_is_judged_when_it_was_placed() -> None:
    order = make_order("lead", ordered_at=T0 + timedelta(days=3))
    advice = advise(order, item("K"), [result()], member("lead"), REGISTRY, T0 + timedelta(days=9))
    assert advice.verdict is Verdict.RECOGNISABLE


# --- the index -------------------------------------------------------------------------

def test_index_keeps_the_newest_few_and_is_idempotent() -> None:
    horizon = T0 - timedelta(days=40)
    index: dict[str, list[dict[str, object]]] = {}
    for n in range(5):
        entry = result(event_id=f"r{n}", at=T0 + timedelta(hours=n))
        index = add_result(index, entry, keep=3, reported_after=horizon)
    assert [r.event_id for r in results_for(index, "K")] == ["r4", "r3", "r2"]
    assert add_result(index, result(event_id="r4", at=T0 + timedelta(hours=4)), keep=3,
                      reported_after=horizon) is index
    json.dumps(index)  # a Faust table value
    old = add_result(index, result(event_id="old", at=horizon - timedelta(seconds=1)),
                     keep=3, reported_after=horizon)
    assert [r.event_id for r in results_for(old, "K")] == ["r4", "r3", "r2"]
    assert results_for(None, "K") == [] and results_for(index, "NA") == []


def test_a_correction_replaces_the_result_of_the_same_order() -> None:
    first = result(event_id="a", order_ref="ACC-1")
    index = add_result({}, first, keep=3, reported_after=T0 - timedelta(days=1))
    corrected = result(event_id="b", at=T0 + timedelta(hours=1), order_ref="ACC-1")
    index = add_result(index, corrected, keep=3, reported_after=T0 - timedelta(days=1))
    assert [r.event_id for r in results_for(index, "K")] == ["b"]


def test_a_correction_that_came_first_outlives_the_late_original() -> None:
    """The original of order ACC-1 arrives after its correction (a resend, a slow link):
    the correction stays the result of that order."""
    corrected = result(event_id="b", at=T0 + timedelta(hours=1), order_ref="ACC-1")
    index = add_result({}, corrected, keep=3, reported_after=T0 - timedelta(days=1))
    late_original = result(event_id="a", order_ref="ACC-1")
    index = add_result(index, late_original, keep=3, reported_after=T0 - timedelta(days=1))
    assert [r.event_id for r in results_for(index, "K")] == ["b"]


# --- retractions -----------------------------------------------------------------------

def _retraction(order_ref: str | None = "ACC-1", at: datetime = T0 + timedelta(hours=2),
                producer: str = "chc-east") -> Any:
    event = lab_result(producer, reported_at=at, order_ref=order_ref,
                       status=ResultStatus.RETRACTED)
    return retraction_of(event, item("K"), keep_days=9)


def test_a_retracted_result_leaves_the_index_and_leaves_a_tombstone() -> None:
    horizon = T0 - timedelta(days=1)
    index = add_result({}, result(event_id="a", order_ref="ACC-1"), keep=3,
                       reported_after=horizon)
    index = add_result(index, result(event_id="other", order_ref="ACC-2"), keep=3,
                       reported_after=horizon)
    updated, removed = retract(index, _retraction(), T0 + timedelta(hours=2))
    assert [r.event_id for r in removed] == ["a"]
    assert [r.event_id for r in results_for(updated, "K")] == ["other"]
    assert results_for(index, "K")[0].event_id in ("a", "other")  # input untouched
    json.dumps(updated)  # a Faust table value
    again, removed_again = retract(updated, _retraction(), T0 + timedelta(hours=3))
    assert again is updated and removed_again == []  # a redelivery changes nothing
    # another member's result of the same order number is not this member's to retract
    lead = add_result({}, result("lead", event_id="l", order_ref="ACC-1"), keep=3,
                      reported_after=horizon)
    assert retract(lead, _retraction(), T0)[1] == []


def test_a_retraction_before_its_original_still_wins() -> None:
    index, removed = retract({}, _retraction(), T0 + timedelta(hours=2))
    assert removed == [] and len(index[TOMBSTONES]) == 1
    late_original = result(event_id="a", order_ref="ACC-1")
    assert is_retracted(index, late_original)
    # a report of the same order made after the retraction is a new result
    assert not is_retracted(index, result(event_id="b", order_ref="ACC-1",
                                          at=T0 + timedelta(hours=5)))
    assert not is_retracted(index, result(event_id="c", order_ref="ACC-9"))
    # the tombstone is dropped once no result of the item could be recognised any more
    later, _ = retract(index, _retraction("ACC-2"), T0 + timedelta(days=30))
    assert [t["o"] for t in later[TOMBSTONES]] == ["ACC-2"]


def test_an_imaging_report_is_retracted_by_its_report_reference() -> None:
    def report(status: ResultStatus, at: datetime) -> ImagingReport:
        return ImagingReport(
            envelope=ImagingReport.new_envelope("lead"), patient=patient(), local_code="CT005",
            modality=Modality.CT, report_ref="1.2.840.1", reported_at=at, status=status)
    entry = index_entry(report(ResultStatus.FINAL, T0), item("CT-CHEST"), REGISTRY)
    index = add_result({}, entry, keep=3, reported_after=T0 - timedelta(days=1))
    retraction = retraction_of(report(ResultStatus.RETRACTED, T0 + timedelta(hours=1)),
                               item("CT-CHEST"), keep_days=200)
    updated, removed = retract(index, retraction, T0 + timedelta(hours=1))
    assert removed == [entry] and results_for(updated, "CT-CHEST") == []


def test_retracted_results_are_never_indexed_and_need_an_order_number() -> None:
    retraction = lab_result("chc-east", status=ResultStatus.RETRACTED, order_ref="ACC-1")
    assert not should_index(retraction, item("K"))
    assert should_index(lab_result("chc-east", status=ResultStatus.CORRECTED), item("K"))
    with pytest.raises(ValueError, match="order_ref"):
        retraction_of(lab_result("chc-east", status=ResultStatus.RETRACTED), item("K"), 9)


def test_orders_advised_on_a_retracted_result_get_a_withdrawn_advice() -> None:
    order = make_order("chc-west", ordered_at=T0 + timedelta(hours=1))
    cited = result(event_id="a", order_ref="ACC-1")
    advice = advise(order, item("K"), [cited], member("chc-west"), REGISTRY, T0)
    record = OrderRecord("chc-west", "K", order.ordered_at, recognisable=True,
                         order_event_id=order.envelope.event_id,
                         advised=tuple(r.result_event_id for r in advice.results))
    ledger, _ = record_order({}, order.order_id, record, T0 - timedelta(days=1))
    assert OrderRecord.from_json(json.loads(json.dumps(ledger))[f"chc-west|{order.order_id}"]) \
        == record
    assert OrderRecord.from_json(["lead", "K", 0, 1, None, None]).advised == ()  # old record
    [(_, found)] = advised_on(ledger, "a")
    withdrawn = withdrawn_advice(order.order_id, found, item("K"), cited, [], REGISTRY,
                                 T0 + timedelta(hours=3), "retraction-1")
    assert withdrawn is not None
    assert withdrawn.envelope.member_id == "chc-west"
    assert withdrawn.order_event_id == order.envelope.event_id
    assert withdrawn.withdrawn_result_id == "a" and withdrawn.results == []
    assert withdrawn.verdict is Verdict.NONE_VALID
    assert withdrawn.envelope.event_id != advice.envelope.event_id
    assert "撤回" in withdrawn.message and "城东社区卫生服务中心" in withdrawn.message
    assert withdrawn == withdrawn_advice(order.order_id, found, item("K"), cited, [],
                                         REGISTRY, T0 + timedelta(hours=3), "retraction-1")
    assert advised_on(forget_advised(ledger, "a"), "a") == []
    assert advised_on(ledger, "other") == []


def test_index_entries_snapshot_qc_and_what_recognition_shows() -> None:
    lab = lab_result("chc-west", item="CA", reported_at=T0)
    assert index_entry(lab, item("CA"), REGISTRY).qc_passed is False  # failed EQA
    entry = index_entry(lab_result("chc-east", reported_at=T0), item("K"), REGISTRY)
    assert entry.qc_passed and entry.value_numeric == 4.1 and entry.reference_range == "3.5-5.3"
    assert IndexedResult.from_json(json.loads(json.dumps(entry.to_json()))) == entry
    report = ImagingReport(
        envelope=ImagingReport.new_envelope("lead"), patient=patient(), local_code="CT005",
        modality=Modality.CT, report_ref="1.2.840.1", conclusion="x" * 500, reported_at=T0,
        status=ResultStatus.FINAL,
    )
    imaged = index_entry(report, item("CT-CHEST"), REGISTRY)
    assert imaged.report_ref == "1.2.840.1" and imaged.conclusion == "x" * 200


# --- one patient, never another -------------------------------------------------------

def _admitted(event: Event) -> Any:
    """What intake hands the flows: the patient pseudonymised by the member that sent it."""
    return admit(event, event.envelope.member_id, REGISTRY, SECRET, SEALER,
                 now=event.envelope.occurred_at, clock_skew=timedelta(minutes=5)).event


def _glucose_advice(index: dict[str, Any], member_id: str, who: Patient) -> Verdict:
    """The advice on a glucose order by `member_id` for `who`, from the index the recognition
    agent keeps by pseudonym."""
    order = _admitted(make_order(member_id, item="GLU", ordered_at=T0 + timedelta(days=1),
                                 patient=who))
    found = results_for(index.get(order.patient.key), "GLU")
    return advise(order, item("GLU"), found, member(member_id), REGISTRY,
                  T0 + timedelta(days=1)).verdict


def _index_glucose(index: dict[str, Any], who: Patient) -> None:
    lab = _admitted(lab_result("lead", item="GLU", reported_at=T0, patient=who))
    index[lab.patient.key] = add_result(index.get(lab.patient.key) or {},
                                        index_entry(lab, item("GLU"), REGISTRY), keep=3,
                                        reported_after=T0 - timedelta(days=30))


def test_a_record_number_never_finds_another_members_patient() -> None:
    """Record number 555-44-4444 (PID-3 without a type) at the lead and at chc-east are two
    women: chc-east's order must not be told of the lead's glucose; the lead's own order
    for its patient is. A resident ID still matches across members."""
    eve = patient("555-44-4444", id_type=IdType.MEDICAL_RECORD_NUMBER, name="Eve Everywoman",
                  sex=Sex.FEMALE, birth_date=date(1962, 3, 20))
    other = patient("555-44-4444", id_type=IdType.MEDICAL_RECORD_NUMBER, name="李秀英",
                    sex=Sex.FEMALE, birth_date=date(1975, 8, 2))
    resident = patient("110101199003074518", name="王芳", sex=Sex.FEMALE)
    index: dict[str, Any] = {}
    _index_glucose(index, eve)
    _index_glucose(index, resident)
    assert _glucose_advice(index, "chc-east", other) is Verdict.NONE_VALID
    assert _glucose_advice(index, "lead", eve) is Verdict.RECOGNISABLE
    assert _glucose_advice(index, "chc-east", resident) is Verdict.RECOGNISABLE


def test_cds_prefers_a_national_id_to_a_record_number() -> None:
    """A record number finds only the asking member's own patients; a national ID finds
    the person's results at every member."""
    request = {"prefetch": {"patient": {"identifier": [
        {"type": {"coding": [{"code": "MEDICAL_RECORD_NUMBER"}]}, "value": "555-44-4444"},
        {"type": {"coding": [{"code": "RESIDENT_ID"}]}, "value": "110101199003074518"}]}}}
    assert patient_identity(request) == (IdType.RESIDENT_ID, "110101199003074518")
    del request["prefetch"]["patient"]["identifier"][1]
    assert patient_identity(request) == (IdType.MEDICAL_RECORD_NUMBER, "555-44-4444")


# --- the decision loop -----------------------------------------------------------------

def test_counts_each_order_once_and_move_with_changed_decisions() -> None:
    kept_after = T0 - timedelta(days=30)
    record = OrderRecord("chc-west", "K", T0, recognisable=True)
    ledger, delta = record_order({}, "O1", record, kept_after)
    assert delta == {"orders": 1, "recognisable": 1}
    assert record_order(ledger, "O1", record, kept_after)[1] == {}  # redelivered
    ledger, delta, code = record_decision(ledger, "chc-west", "O1", "K", Decision.RECOGNISED,
                                          None, T0, kept_after)
    assert (delta, code) == ({"recognised": 1}, "K")
    assert record_decision(ledger, "chc-west", "O1", "K", Decision.RECOGNISED, None, T0,
                           kept_after)[1] == {}
    ledger, delta, _ = record_decision(ledger, "chc-west", "O1", "K", Decision.RETESTED,
                                       RetestReason.CONDITION_CHANGED, T0, kept_after)
    assert delta == {"recognised": -1, "retested": 1, "retested:CONDITION_CHANGED": 1}
    assert metric_increments(delta) == [("retested", "CONDITION_CHANGED", 1)]
    _, delta, _ = record_decision(ledger, "chc-west", "O9", "NA", Decision.RETESTED, None, T0,
                                  kept_after)
    assert delta == {"retested": 1, "retested:UNSPECIFIED": 1}  # unseen order: no order count
    pruned, _ = record_order(ledger, "O2", record, T0 + timedelta(seconds=1))
    assert list(pruned) == ["chc-west|O2"]


def test_summary_sums_partitions_and_derives_avoided_tests() -> None:
    rows = [
        (counts_key("chc-west", "K", 0), apply_delta({}, {"orders": 2, "recognisable": 2,
                                                          "recognised": 1})),
        (counts_key("chc-west", "K", 5), {"orders": 1, "recognisable": 1, "retested": 1,
                                          "retested:EMERGENCY": 1}),
    ]
    summary = summarise(rows)["chc-west"]["K"]
    assert summary["orders"] == 3 and summary["recognised"] == 1 and summary["retested"] == 1
    assert summary["retested_by_reason"] == {"EMERGENCY": 1}
    assert summary["tests_avoided"] == 1 and summary["recognition_rate"] == pytest.approx(1 / 3,
                                                                                         abs=1e-4)
    assert apply_delta({"recognised": 1}, {"recognised": -1}) == {}


# --- CDS Hooks translation -------------------------------------------------------------

def test_cds_request_parsing_and_cards() -> None:
    request: dict[str, Any] = {"context": {"selections": ["ServiceRequest/a"],
                                           "draftOrders": {"entry": [
        {"resource": {"resourceType": "ServiceRequest", "id": "a",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]}}},
        {"resource": {"resourceType": "ServiceRequest", "id": "b",
                      "code": {"coding": [{"code": "SH-NA"}]}}},
    ]}}, "prefetch": {"patient": {"identifier": [
        {"type": {"coding": [{"code": "PASSPORT"}]}, "value": "E123"}]}}}
    assert patient_identity(request) == (IdType.PASSPORT, "E123")
    assert patient_identity({"prefetch": {"patient": {"identifier": [{"value": "x"}]}}}) is None
    assert selected_orders(request) == [("ServiceRequest/a", [("http://loinc.org", "2823-3")])]
    del request["context"]["selections"]
    assert len(selected_orders(request)) == 2
    assert resolve_item(CATALOGUE, "chc-east", "SH-NA") is item("NA")
    assert resolve_item(CATALOGUE, "chc-east", "k", "urn:consortium-hub:item") is item("K")
    assert resolve_item(CATALOGUE, "chc-east", "SH-NA", "http://loinc.org") is None
    found = answer(item("K"), [result()], member("lead"), REGISTRY, T0 + timedelta(days=1))
    shown = card(found, "ServiceRequest/a", "hook-1", "AXHR")
    assert shown == card(found, "ServiceRequest/a", "hook-1", "AXHR")  # same uuid
    assert len(shown["summary"]) <= 140 and "4.1 mmol/L" in shown["detail"]
