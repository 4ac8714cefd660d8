"""Mutual recognition of results (检查检验结果互认), domain.md section 1.

A result is recognisable for a new order when it is the same consortium item, reported
within the item's window before the order, by a member that passed QC for the item (when
it reported and still now: a failed EQA withdraws it), and the orderer may recognise the
producer: the same consortium, the same level, or a lower level recognising a higher one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hub.rules.recognition.index import IndexedResult
from hub.rules.rejections import Reason, Rejection
from schemas.models.clinical import OrderPriority, RetestReason
from schemas.reference.items import Item, ItemCatalogue
from schemas.reference.registry import Member, Registry


class NotRecognisable(StrEnum):
    """Why one indexed result cannot be recognised for an order."""

    OTHER_ITEM = "OTHER_ITEM"
    ITEM_NOT_RECOGNISED = "ITEM_NOT_RECOGNISED"
    REPORTED_AFTER_ORDER = "REPORTED_AFTER_ORDER"
    EXPIRED = "EXPIRED"
    UNKNOWN_PRODUCER = "UNKNOWN_PRODUCER"
    QC_NOT_PASSED = "QC_NOT_PASSED"
    WRONG_DIRECTION = "WRONG_DIRECTION"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A result the ordering doctor may recognise, and until when."""

    result: IndexedResult
    producer: Member
    valid_until: datetime


def map_item(
    catalogue: ItemCatalogue,
    member_id: str,
    item_code: str | None,
    local_code: str,
    loinc: str | None = None,
) -> Item:
    """The consortium item an event means: its item_code when set, else the member's local
    code (or, failing that, its LOINC). Anything else is refused as UNMAPPED_CODE."""
    if item_code:
        item = catalogue.get(item_code.strip().upper())
        if item is None:
            raise Rejection(Reason.UNMAPPED_CODE, "rejection.unknown_item_code", code=item_code)
        return item
    item = catalogue.resolve(member_id, local_code)
    if item is None and loinc:
        item = catalogue.by_loinc(loinc)
    if item is None:
        raise Rejection(
            Reason.UNMAPPED_CODE,
            "rejection.unmapped_local_code_loinc" if loinc else "rejection.unmapped_local_code",
            code=local_code, member=member_id, loinc=loinc,
        )
    return item


def direction_allows(registry: Registry, producer: Member, orderer: Member) -> bool:
    """Inside one consortium all members recognise each other; across consortia, the same
    level recognise each other and a lower level recognises a higher one."""
    if registry.consortium_of(producer) == registry.consortium_of(orderer):
        return True
    return orderer.level <= producer.level


def valid_until(result: IndexedResult, item: Item) -> datetime:
    """The last instant the result is recognisable (inclusive)."""
    return result.reported_at + timedelta(days=item.window_days)


def why_not(
    result: IndexedResult, item: Item, orderer: Member, registry: Registry, at: datetime
) -> NotRecognisable | None:
    """None when the result is recognisable for an order of `item` placed at `at`."""
    if result.item_code != item.code:
        return NotRecognisable.OTHER_ITEM
    if not item.recognisable:
        return NotRecognisable.ITEM_NOT_RECOGNISED
    if result.reported_at > at:
        return NotRecognisable.REPORTED_AFTER_ORDER
    if at > valid_until(result, item):
        return NotRecognisable.EXPIRED
    producer = registry.get(result.member_id)
    if producer is None:
        return NotRecognisable.UNKNOWN_PRODUCER
    if not (result.qc_passed and producer.passed_qc(item.code)):
        return NotRecognisable.QC_NOT_PASSED
    if not direction_allows(registry, producer, orderer):
        return NotRecognisable.WRONG_DIRECTION
    return None


def recognisable_results(
    results: list[IndexedResult],
    item: Item,
    orderer: Member,
    registry: Registry,
    at: datetime,
) -> list[Candidate]:
    """The results the orderer may recognise at `at`, newest first."""
    candidates = []
    for result in sorted(results, key=lambda r: r.reported_at, reverse=True):
        if why_not(result, item, orderer, registry, at) is None:
            producer = registry.get(result.member_id)
            assert producer is not None  # why_not checked it
            candidates.append(Candidate(result, producer, valid_until(result, item)))
    return candidates


def retest_reason_of(
    priority: OrderPriority, retest_reason: RetestReason | None
) -> RetestReason | None:
    """The reason an order may re-do a recognisable result: the one the doctor recorded,
    else EMERGENCY for emergency care."""
    if retest_reason is not None:
        return retest_reason
    if priority is OrderPriority.EMERGENCY:
        return RetestReason.EMERGENCY
    return None
