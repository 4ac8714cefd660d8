"""What the ordering doctor is told: the RecognitionAdvice for an order, and the same
answer for a synchronous lookup (the HTTP API and CDS Hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.rules.recognition.eligibility import Candidate, recognisable_results, retest_reason_of
from hub.rules.recognition.index import IndexedResult
from schemas.models import RecognitionAdvice, TestOrder, deterministic_id
from schemas.models.clinical import AbnormalFlag, RetestReason
from schemas.models.outputs import RecognisableResult, Verdict
from schemas.reference.items import Item
from schemas.reference.messages import DEFAULT_LOCALE, Locale, Text, text
from schemas.reference.registry import Member, Registry

# Why a re-test may be done despite a recognisable result, per reason (messages.toml).
RETEST_EXPLANATIONS: dict[RetestReason, Text] = {
    reason: text(f"retest.{reason.value}") for reason in RetestReason
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


def _summary(results: list[RecognisableResult]) -> Text:
    newest = results[0]
    return text("advice.summary_more" if len(results) > 1 else "advice.summary",
                member=newest.member_name, reported_at=newest.reported_at,
                valid_until=newest.valid_until, more=len(results) - 1)


def answer(
    item: Item,
    results: list[IndexedResult],
    orderer: Member,
    registry: Registry,
    at: datetime,
    retest_reason: RetestReason | None = None,
    locale: Locale = DEFAULT_LOCALE,
) -> Answer:
    """Which results the orderer may recognise for `item` at `at`, and the verdict; the
    message in the locale's language, its times in the locale's zone."""
    said = {"item": item.name, "code": item.code}
    if not item.recognisable:
        return Answer(item, Verdict.NONE_VALID,
                      locale.render(text("advice.not_recognisable_item", **said)),
                      retest_reason)
    candidates = recognisable_results(results, item, orderer, registry, at)
    described = [_described(c, item, registry.mark) for c in candidates]
    if not described:
        return Answer(item, Verdict.NONE_VALID,
                      locale.render(text("advice.none_valid", **said)), retest_reason)
    summary = _summary(described)
    if retest_reason is not None:
        why = RETEST_EXPLANATIONS[retest_reason]
        return Answer(item, Verdict.RETEST_ALLOWED,
                      locale.render(text("advice.retest_allowed", **said, summary=summary,
                                         why=why)),
                      retest_reason, described)
    return Answer(item, Verdict.RECOGNISABLE,
                  locale.render(text("advice.recognisable", **said, summary=summary)),
                  None, described)


def advice_id(order: TestOrder) -> str:
    return deterministic_id("recognition-advice", order.envelope.event_id)


def advise(
    order: TestOrder,
    item: Item,
    results: list[IndexedResult],
    orderer: Member,
    registry: Registry,
    now: datetime,
    locale: Locale = DEFAULT_LOCALE,
) -> RecognitionAdvice:
    """The advice for an order, addressed to the ordering member only. It is judged as of
    the time the order was placed (never later than now), so a late upload is advised as
    the doctor would have been."""
    at = min(order.ordered_at, now)
    reason = retest_reason_of(order.priority, order.retest_reason)
    result = answer(item, results, orderer, registry, at, reason, locale)
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
