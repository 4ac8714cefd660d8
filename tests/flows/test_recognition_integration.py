"""Recognition end to end on the embedded broker: the lead publishes a potassium result
and a chest CT report; a community centre orders potassium 3 days later (advice names the
lead's result) and 8 days later (none valid); a third member never sees that advice; the
decisions the centre sends back move the counts, which survive a worker restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.member.sdk import MemberPublisher
from hub.ops.tokens import member_token
from schemas.models import (
    DeadLetter,
    Feedback,
    ImagingReport,
    RecognitionAdvice,
    RecognitionDecision,
)
from schemas.models.clinical import Decision, Modality, OrderPriority, RetestReason
from schemas.models.outputs import FeedbackStatus, Verdict
from schemas.topics import DEAD_LETTER, feedback_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.factories import lab_result, patient
from tests.factories import test_order as make_order

pytestmark = pytest.mark.integration
SECRET = "recognition-integration-secret"
ID_NUMBER = "110101199003074514"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=11)  # A's results


def post_json(worker: WorkerProcess, path: str, body: dict[str, Any],
              member: str) -> tuple[int, Any]:
    return worker.request_json(
        path, body, {"Authorization": f"Bearer {member_token(SECRET, member)}"})


def stats(worker: WorkerProcess, member: str) -> dict[str, Any]:
    status, body = worker.get("/recognition/stats",
                              {"Authorization": f"Bearer {member_token(SECRET, member)}"})
    assert status == 200, body
    items: dict[str, Any] = json.loads(body)["items"]
    return items


def advice_by_order(events: list[Decoded]) -> dict[str, RecognitionAdvice]:
    return {e.order_id: e for _, e in events if isinstance(e, RecognitionAdvice)}


def decision(member: str, order_id: str, item: str, what: Decision,
             reason: RetestReason | None = None, result_id: str | None = None
             ) -> RecognitionDecision:
    return RecognitionDecision(
        envelope=RecognitionDecision.new_envelope(member), patient=patient(),
        order_id=order_id, item_code=item, decision=what, retest_reason=reason,
        recognised_result_id=result_id,
    )


def test_order_advice_decisions_and_counts(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker(HUB_API_SECRET=SECRET)
    lead, west, river = publisher("lead"), publisher("chc-west"), publisher("thc-river")

    # the lead publishes with its own local codes; the hub maps them to K and CT-CHEST
    potassium = lab_result("lead", item_code=None, local_code="L0001", value=5.9,
                           abnormal_flag="HIGH", reported_at=T0)
    chest_ct = ImagingReport(
        envelope=ImagingReport.new_envelope("lead", occurred_at=T0), patient=patient(),
        local_code="CT005", modality=Modality.CT, report_ref="1.2.156.112605.1",
        conclusion="双肺未见明显异常", reported_at=T0,
    )
    lead.publish_many([potassium, chest_ct])
    unmapped = lab_result("chc-west", item_code=None, local_code="CW-NOPE", reported_at=T0)
    west.publish(unmapped)

    # both are indexed once the (longer-lived) CT shows up in a lookup: same partition
    def indexed() -> bool:
        status, body = post_json(worker, "/recognition/lookup", {
            "id_type": "RESIDENT_ID", "id_number": ID_NUMBER, "items": ["CT-CHEST"]}, "chc-west")
        return status == 200 and body["answers"][0]["verdict"] == "RECOGNISABLE"
    assert wait_for(indexed), worker.log_tail()

    early = make_order("chc-west", item_code=None, local_code="CW101", order_id="W-1",
                       ordered_at=T0 + timedelta(days=3))
    late = make_order("chc-west", item_code=None, local_code="CW101", order_id="W-2",
                      ordered_at=T0 + timedelta(days=8))
    urgent_ct = make_order("chc-west", item="CT-CHEST", order_id="W-3",
                           ordered_at=T0 + timedelta(days=8), priority=OrderPriority.EMERGENCY)
    own = make_order("thc-river", item_code=None, local_code="HK002", order_id="R-1",
                     ordered_at=T0 + timedelta(days=3))
    west.publish_many([early, late, urgent_ct])
    river.publish(own)

    west_out = read_topic(feedback_topic("chc-west"),
                          until=lambda ev: len(advice_by_order(ev)) >= 3)
    advice = advice_by_order(west_out)
    first = advice["W-1"]
    assert first.verdict is Verdict.RECOGNISABLE and first.item_code == "K"
    assert first.envelope.member_id == "chc-west"
    assert first.envelope.correlation_id == early.envelope.event_id
    assert [r.result_event_id for r in first.results] == [potassium.envelope.event_id]
    named = first.results[0]
    assert (named.member_id, named.value_numeric, named.unit) == ("lead", 5.9, "mmol/L")
    assert named.reported_at == T0 and named.valid_until == T0 + timedelta(days=7)
    assert advice["W-2"].verdict is Verdict.NONE_VALID and advice["W-2"].results == []
    ct = advice["W-3"]
    assert ct.verdict is Verdict.RETEST_ALLOWED and ct.retest_reason is RetestReason.EMERGENCY
    assert ct.results[0].report_ref == "1.2.156.112605.1"
    assert ct.results[0].conclusion == "双肺未见明显异常"
    assert ID_NUMBER not in str([e.model_dump() for _, e in west_out])

    # the unmapped local code is refused clearly, to its sender and the operators
    rejected = [e for _, e in west_out if isinstance(e, Feedback)
                and e.status is FeedbackStatus.REJECTED and e.reason_code == "UNMAPPED_CODE"]
    assert [f.in_reply_to for f in rejected] == [unmapped.envelope.event_id]
    letters = read_topic(DEAD_LETTER.name, kinds=(DeadLetter,), until=lambda ev: any(
        isinstance(e, DeadLetter) and e.agent == "recognition-results" for _, e in ev))
    assert any(isinstance(e, DeadLetter) and e.reason_code == "UNMAPPED_CODE"
               and e.original_event_id == unmapped.envelope.event_id for _, e in letters)

    # the third member sees its own advice only
    river_out = read_topic(feedback_topic("thc-river"),
                           until=lambda ev: len(advice_by_order(ev)) >= 1)
    assert set(advice_by_order(river_out)) == {"R-1"}

    west.publish_many([
        decision("chc-west", "W-1", "K", Decision.RECOGNISED,
                 result_id=potassium.envelope.event_id),
        decision("chc-west", "W-2", "K", Decision.RETESTED, RetestReason.RESULT_TOO_OLD),
        decision("chc-west", "W-3", "CT-CHEST", Decision.RETESTED, RetestReason.EMERGENCY),
        # the doctor's system sends the first decision again: it must not count twice
        decision("chc-west", "W-1", "K", Decision.RECOGNISED,
                 result_id=potassium.envelope.event_id),
    ])
    expected = {
        "K": {"orders": 2, "recognisable": 1, "recognised": 1, "retested": 1,
              "retested_by_reason": {"RESULT_TOO_OLD": 1}, "tests_avoided": 1,
              "recognition_rate": 1.0},
        "CT-CHEST": {"orders": 1, "recognisable": 1, "recognised": 0, "retested": 1,
                     "retested_by_reason": {"EMERGENCY": 1}, "tests_avoided": 0,
                     "recognition_rate": 0.0},
    }
    assert wait_for(lambda: stats(worker, "chc-west") == expected), stats(worker, "chc-west")
    assert set(stats(worker, "thc-river")) == {"NA"}

    # the index and the counts come back from their changelogs after a restart
    worker.restart()
    assert wait_for(lambda: stats(worker, "chc-west") == expected), stats(worker, "chc-west")
    again = make_order("chc-west", item="K", order_id="W-4", ordered_at=T0 + timedelta(days=4))
    west.publish(again)
    after = read_topic(feedback_topic("chc-west"), until=lambda ev: "W-4" in advice_by_order(ev))
    assert advice_by_order(after)["W-4"].verdict is Verdict.RECOGNISABLE
