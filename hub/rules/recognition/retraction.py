"""Retractions: a producer takes back a result it sent (status RETRACTED: HL7 OBX-11 W or
D, FHIR entered-in-error or cancelled).

The retraction names the result as the hospital knows it: the same member, patient (the
index is per patient), item, and order_ref (for an imaging report, order_ref or
report_ref). Every indexed result it names that was reported no later than the
retraction leaves the index. A tombstone stays in the patient's index as long as a result
of the item could be recognised, so an original that arrives after its retraction (an
offline point's late upload, a redelivery) is not indexed; a report of the same order
made after the retraction is a new result and is indexed.

Orders advised on a retracted result are found in the order ledger (each record keeps the
ids of the results its advice cited); each ordering member gets a new advice for the order
saying the result it cited is withdrawn, with what is recognisable now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.rules.recognition.advice import answer
from hub.rules.recognition.index import (
    IndexedResult,
    JsonDict,
    PatientIndex,
    from_ms,
    results_for,
    to_ms,
)
from hub.rules.recognition.stats import OrderLedger, OrderRecord
from schemas.models import ImagingReport, LabResult, RecognitionAdvice, deterministic_id
from schemas.models.clinical import ResultStatus
from schemas.reference.items import Item
from schemas.reference.messages import DEFAULT_LOCALE, Locale, text
from schemas.reference.registry import Registry

TOMBSTONES = "~retracted"  # the key of a PatientIndex under which retractions are kept
MAX_TOMBSTONES = 32  # per patient, newest kept


def is_retraction(event: LabResult | ImagingReport) -> bool:
    return event.status is ResultStatus.RETRACTED


@dataclass(frozen=True, slots=True)
class Retraction:
    """What a retraction names, and until when its tombstone is kept."""

    member_id: str
    item_code: str
    order_ref: str | None
    report_ref: str | None
    reported_at: datetime
    keep_until: datetime

    def names(self, entry: IndexedResult) -> bool:
        """Whether this retraction takes back `entry`."""
        if entry.member_id != self.member_id or entry.item_code != self.item_code:
            return False
        if entry.reported_at > self.reported_at:
            return False  # reported again after the retraction: a new result
        return ((self.order_ref is not None and self.order_ref == entry.order_ref)
                or (self.report_ref is not None and self.report_ref == entry.report_ref))

    def to_json(self) -> JsonDict:
        return {"m": self.member_id, "i": self.item_code, "o": self.order_ref,
                "ref": self.report_ref, "at": to_ms(self.reported_at),
                "until": to_ms(self.keep_until)}

    @classmethod
    def from_json(cls, data: JsonDict) -> Retraction:
        return cls(data["m"], data["i"], data.get("o"), data.get("ref"),
                   from_ms(data["at"]), from_ms(data["until"]))


def retraction_of(event: LabResult | ImagingReport, item: Item, keep_days: int) -> Retraction:
    """The retraction an event makes; ValueError when it names no result."""
    report_ref = event.report_ref if isinstance(event, ImagingReport) else None
    if not event.order_ref and not report_ref:
        raise ValueError("a retraction must name the order (order_ref) of the result")
    return Retraction(event.envelope.member_id, item.code, event.order_ref or None,
                      report_ref or None, event.reported_at,
                      event.reported_at + timedelta(days=keep_days))


def tombstones(index: PatientIndex | None) -> list[Retraction]:
    return [Retraction.from_json(t) for t in (index or {}).get(TOMBSTONES, [])]


def is_retracted(index: PatientIndex | None, entry: IndexedResult) -> bool:
    """Whether a retraction that came first takes back this result."""
    return any(t.names(entry) for t in tombstones(index))


def retract(
    index: PatientIndex, retraction: Retraction, now: datetime
) -> tuple[PatientIndex, list[IndexedResult]]:
    """The index without the results the retraction names, with its tombstone; and the
    results taken out. The input is not modified; a repeat changes nothing."""
    current = results_for(index, retraction.item_code)
    removed = [e for e in current if retraction.names(e)]
    kept = [t for t in tombstones(index) if t.keep_until >= now and t != retraction]
    if not removed and retraction in tombstones(index):
        return index, []
    updated = {code: list(entries) for code, entries in index.items()}
    survivors = [e.to_json() for e in current if not retraction.names(e)]
    if survivors:
        updated[retraction.item_code] = survivors
    else:
        updated.pop(retraction.item_code, None)
    updated[TOMBSTONES] = [t.to_json() for t in [*kept, retraction][-MAX_TOMBSTONES:]]
    return updated, removed


def advised_on(ledger: OrderLedger, result_id: str) -> list[tuple[str, OrderRecord]]:
    """(ledger key, record) of each order whose advice cited the result."""
    found = []
    for key, value in ledger.items():
        record = OrderRecord.from_json(value)
        if result_id in record.advised:
            found.append((key, record))
    return found


def forget_advised(ledger: OrderLedger, result_id: str) -> OrderLedger:
    """The ledger with the result no longer counted as cited by any order's advice."""
    updated = dict(ledger)
    for key, record in advised_on(ledger, result_id):
        advised = tuple(r for r in record.advised if r != result_id)
        updated[key] = replace(record, advised=advised).to_json()
    return updated


def withdrawn_advice(
    order_id: str,
    record: OrderRecord,
    item: Item,
    retracted: IndexedResult,
    results: list[IndexedResult],
    registry: Registry,
    now: datetime,
    caused_by: str,
    locale: Locale = DEFAULT_LOCALE,
) -> RecognitionAdvice | None:
    """The advice that replaces an order's earlier one: the result it cited is withdrawn,
    and what the order may recognise now (as of when it was placed). None if the ordering
    member is no longer in the registry."""
    orderer = registry.get(record.member_id)
    if orderer is None:
        return None
    now_answer = answer(item, results, orderer, registry, min(record.ordered_at, now),
                        None, locale)
    producer = registry.get(retracted.member_id)
    message = locale.render(text(
        "advice.withdrawn", member=producer.name if producer else retracted.member_id,
        reported_at=retracted.reported_at, item=item.name, code=item.code,
        answer=now_answer.message,
    ))
    order_event_id = record.order_event_id or ""
    envelope = RecognitionAdvice.new_envelope(
        record.member_id,
        event_id=deterministic_id("recognition-advice-withdrawn", order_event_id,
                                  retracted.event_id),
        occurred_at=now, correlation_id=caused_by,
    )
    return RecognitionAdvice(
        envelope=envelope, order_id=order_id, order_event_id=order_event_id,
        item_code=item.code, item_name=item.name, verdict=now_answer.verdict,
        message=message, results=now_answer.results, withdrawn_result_id=retracted.event_id,
    )
