"""What the ordering doctor is told: the RecognitionAdvice for an order, and the same
answer for a synchronous lookup (the HTTP API and CDS Hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.rules.recognition import Candidate, recognisable_results, retest_reason_of
from hub.rules.recognition_index import IndexedResult
from schemas.models import RecognitionAdvice, TestOrder, deterministic_id
from schemas.models.clinical import AbnormalFlag, RetestReason
from schemas.models.outputs import RecognisableResult, Verdict
from schemas.reference.items import Item
from schemas.reference.registry import Member, Registry

RETEST_EXPLANATIONS: dict[RetestReason, str] = {
    RetestReason.CONDITION_CHANGED: "the patient's condition has changed",
    RetestReason.FAST_CHANGING_VALUE: "the value changes fast",
    RetestReason.MAJOR_INTERVENTION: "a major intervention (surgery, transfusion) is planned",
    RetestReason.EMERGENCY: "this is emergency care",
    RetestReason.FORENSIC_OR_DISABILITY: "it is for a forensic or disability assessment",
    RetestReason.OTHER_CLINICAL_NEED: "of another clinical need recorded by the doctor",
    RetestReason.PATIENT_REQUEST: "the patient asks for it",
    RetestReason.PRODUCER_FAILED_EQA: "the producing lab failed external quality assessment",
    RetestReason.RESULT_TOO_OLD: "the doctor judges the result too old",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """Recognition's answer for one item at one moment."""

    item: Item
    verdict: Verdict
    message: str
    retest_reason: RetestReason | None = None
    results: list[RecognisableResult] = field(default_factory=list)


def _described(candidate: Candidate, item: Item, mark: str) -> RecognisableResult:
    result = candidate.result
    return RecognisableResult(
        result_event_id=result.event_id,
        member_id=result.member_id,
        member_name=candidate.producer.name,
        item_code=item.code,
        item_name=item.name,
        value_numeric=result.value_numeric,
        value_text=result.value_text,
        unit=result.unit,
        reference_range=result.reference_range,
        abnormal_flag=AbnormalFlag(result.abnormal_flag) if result.abnormal_flag else None,
        conclusion=result.conclusion,
        report_ref=result.report_ref,
        reported_at=result.reported_at,
        valid_until=candidate.valid_until,
        mark=mark,
    )


def _summary(results: list[RecognisableResult]) -> str:
    newest = results[0]
    more = f" (and {len(results) - 1} more)" if len(results) > 1 else ""
    return (f"{newest.member_name} reported it on {newest.reported_at:%Y-%m-%d %H:%M} UTC, "
            f"valid until {newest.valid_until:%Y-%m-%d %H:%M} UTC{more}")


def answer(
    item: Item,
    results: list[IndexedResult],
    orderer: Member,
    registry: Registry,
    at: datetime,
    retest_reason: RetestReason | None = None,
) -> Answer:
    """Which results the orderer may recognise for `item` at `at`, and the verdict."""
    if not item.recognisable:
        return Answer(item, Verdict.NONE_VALID,
                      f"{item.name} ({item.code}) is not subject to mutual recognition",
                      retest_reason)
    candidates = recognisable_results(results, item, orderer, registry, at)
    described = [_described(c, item, registry.mark) for c in candidates]
    if not described:
        return Answer(item, Verdict.NONE_VALID,
                      f"No valid recognisable result of {item.name} ({item.code})",
                      retest_reason)
    if retest_reason is not None:
        why = RETEST_EXPLANATIONS[retest_reason]
        return Answer(item, Verdict.RETEST_ALLOWED,
                      f"A recognisable result of {item.name} ({item.code}) exists "
                      f"({_summary(described)}); re-testing is allowed because {why}",
                      retest_reason, described)
    return Answer(item, Verdict.RECOGNISABLE,
                  f"Recognisable result of {item.name} ({item.code}) already exists: "
                  f"{_summary(described)}", None, described)


def advice_id(order: TestOrder) -> str:
    return deterministic_id("recognition-advice", order.envelope.event_id)


def advise(
    order: TestOrder,
    item: Item,
    results: list[IndexedResult],
    orderer: Member,
    registry: Registry,
    now: datetime,
) -> RecognitionAdvice:
    """The advice for an order, addressed to the ordering member only. It is judged as of
    the time the order was placed (never later than now), so a late upload is advised as
    the doctor would have been."""
    at = min(order.ordered_at, now)
    reason = retest_reason_of(order.priority, order.retest_reason)
    result = answer(item, results, orderer, registry, at, reason)
    envelope = RecognitionAdvice.new_envelope(
        order.envelope.member_id,
        event_id=advice_id(order),
        occurred_at=now,
        correlation_id=order.envelope.event_id,
    )
    return RecognitionAdvice(
        envelope=envelope,
        order_id=order.order_id,
        order_event_id=order.envelope.event_id,
        item_code=item.code,
        item_name=item.name,
        verdict=result.verdict,
        retest_reason=result.retest_reason,
        message=result.message,
        results=result.results,
    )
