"""The result index: what recognition keeps of each accepted result, per patient and item.

A patient's index is one compact JSON value, `{item_code: [entry, ...]}`, newest first, so
it can live in a Faust table keyed by the patient pseudonym (co-partitioned with
hub.results and hub.orders). Only the newest few results per item are kept, and none
past its validity window plus a grace period, so the state stays bounded. The grace lets an
order that arrives late (an offline point uploading a day's orders) be advised as of the
time it was placed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from schemas.models import ImagingReport, LabResult
from schemas.models.clinical import ResultStatus
from schemas.reference.items import Item
from schemas.reference.registry import Registry

JsonDict = dict[str, Any]
PatientIndex = dict[str, list[JsonDict]]
CONCLUSION_CHARS = 200  # enough to recognise the report; the full text stays at the member


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class IndexedResult:
    """One result as recognition needs it; `qc_passed` is the producer's QC status for the
    item when the result was reported."""

    event_id: str
    member_id: str
    item_code: str
    reported_at: datetime
    qc_passed: bool
    value_numeric: float | None = None
    value_text: str | None = None
    unit: str | None = None
    reference_range: str | None = None
    abnormal_flag: str | None = None
    conclusion: str | None = None
    report_ref: str | None = None
    order_ref: str | None = None

    def to_json(self) -> JsonDict:
        compact: JsonDict = {
            "id": self.event_id, "m": self.member_id, "i": self.item_code,
            "at": to_ms(self.reported_at), "qc": int(self.qc_passed),
        }
        optional = {
            "v": self.value_numeric, "t": self.value_text, "u": self.unit,
            "rr": self.reference_range, "f": self.abnormal_flag, "c": self.conclusion,
            "ref": self.report_ref, "o": self.order_ref,
        }
        compact.update({k: v for k, v in optional.items() if v is not None})
        return compact

    @classmethod
    def from_json(cls, data: JsonDict) -> IndexedResult:
        return cls(
            event_id=data["id"], member_id=data["m"], item_code=data["i"],
            reported_at=from_ms(data["at"]), qc_passed=bool(data["qc"]),
            value_numeric=data.get("v"), value_text=data.get("t"), unit=data.get("u"),
            reference_range=data.get("rr"), abnormal_flag=data.get("f"),
            conclusion=data.get("c"), report_ref=data.get("ref"), order_ref=data.get("o"),
        )


INDEXED_STATUSES = frozenset({ResultStatus.FINAL, ResultStatus.CORRECTED})


def should_index(event: LabResult | ImagingReport, item: Item) -> bool:
    """Only final (or corrected) results of recognisable items can ever be recognised; a
    retraction takes one out (hub.rules.recognition.retraction)."""
    return item.recognisable and event.status in INDEXED_STATUSES


def index_entry(
    event: LabResult | ImagingReport, item: Item, registry: Registry
) -> IndexedResult:
    producer = registry.get(event.envelope.member_id)
    entry = IndexedResult(
        event_id=event.envelope.event_id,
        member_id=event.envelope.member_id,
        item_code=item.code,
        reported_at=event.reported_at,
        qc_passed=producer is not None and producer.passed_qc(item.code),
        order_ref=event.order_ref,
    )
    if isinstance(event, LabResult):
        return replace(
            entry, value_numeric=event.value_numeric, value_text=event.value_text,
            unit=event.unit or item.unit, reference_range=event.reference_range,
            abnormal_flag=event.abnormal_flag.value if event.abnormal_flag else None,
        )
    conclusion = event.conclusion[:CONCLUSION_CHARS] if event.conclusion else None
    return replace(entry, conclusion=conclusion, report_ref=event.report_ref)


def _supersedes(new: IndexedResult, old: IndexedResult) -> bool:
    """A repeat of the same event, or a later report of the same order by the same member
    (a correction), replaces the older entry."""
    if new.event_id == old.event_id:
        return True
    return (new.order_ref is not None and new.order_ref == old.order_ref
            and new.member_id == old.member_id)


def add_result(
    index: PatientIndex,
    entry: IndexedResult,
    *,
    keep: int,
    reported_after: datetime,
) -> PatientIndex:
    """The patient's index with `entry` added: newest first, at most `keep` per item, none
    reported before `reported_after`. The input is not modified."""
    current = [IndexedResult.from_json(e) for e in index.get(entry.item_code, [])]
    if any(old.event_id == entry.event_id for old in current):
        return index  # redelivery: nothing changes
    if any(_supersedes(old, entry) and old.reported_at > entry.reported_at for old in current):
        return index  # a correction that came first outranks the late original it corrects
    survivors = [old for old in current if not _supersedes(entry, old)]
    merged = sorted([entry, *survivors], key=lambda e: (e.reported_at, e.event_id), reverse=True)
    fresh = [e for e in merged if e.reported_at >= reported_after][:keep]
    updated = {code: list(entries) for code, entries in index.items()}
    if fresh:
        updated[entry.item_code] = [e.to_json() for e in fresh]
    else:
        updated.pop(entry.item_code, None)
    return updated


def results_for(index: PatientIndex | None, item_code: str) -> list[IndexedResult]:
    """The indexed results of one item, newest first."""
    if not index:
        return []
    return [IndexedResult.from_json(e) for e in index.get(item_code, [])]
