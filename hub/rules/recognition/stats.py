"""The decision loop: recognition counts per member and item.

Each order is counted once, by (member, order id): a redelivery or a re-sent order
changes nothing, and a doctor who changes a decision moves the count rather than adding
one. The per-patient order ledger that makes this so is kept in the same table partition
as the patient's results; the counts are kept per (member, item, partition) so that each
partition only ever writes its own keys, and a reader sums the partitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.rules.recognition.index import from_ms, to_ms
from schemas.models.clinical import Decision, RetestReason

ORDERS = "orders"
RECOGNISABLE = "recognisable"
RECOGNISED = "recognised"
RETESTED = "retested"
RETESTED_BY = "retested:"  # + reason
UNSPECIFIED = "UNSPECIFIED"
OrderLedger = dict[str, list[Any]]  # "member|order id" -> OrderRecord.to_json()


@dataclass(frozen=True, slots=True)
class OrderRecord:
    member_id: str
    item_code: str
    ordered_at: datetime
    recognisable: bool
    decision: Decision | None = None
    retest_reason: str | None = None
    order_event_id: str | None = None
    advised: tuple[str, ...] = ()  # event ids of the results the order's advice cited

    def to_json(self) -> list[Any]:
        return [self.member_id, self.item_code, to_ms(self.ordered_at), int(self.recognisable),
                self.decision.value if self.decision else None, self.retest_reason,
                self.order_event_id, list(self.advised)]

    @classmethod
    def from_json(cls, data: list[Any]) -> OrderRecord:
        member_id, item_code, at_ms, recognisable, decision, reason = data[:6]
        # records written before retractions had six fields
        order_event_id, advised = data[6:8] if len(data) >= 8 else (None, [])
        return cls(member_id, item_code, from_ms(at_ms), bool(recognisable),
                   Decision(decision) if decision else None, reason, order_event_id,
                   tuple(advised))

    def outcomes(self) -> Counter[str]:
        """The counts this order contributes."""
        counts: Counter[str] = Counter({ORDERS: 1})
        if self.recognisable:
            counts[RECOGNISABLE] += 1
        if self.decision is Decision.RECOGNISED:
            counts[RECOGNISED] += 1
        elif self.decision is Decision.RETESTED:
            counts[RETESTED] += 1
            counts[RETESTED_BY + (self.retest_reason or UNSPECIFIED)] += 1
        return counts


def ledger_key(member_id: str, order_id: str) -> str:
    return f"{member_id}|{order_id}"


def counts_key(member_id: str, item_code: str, partition: int) -> str:
    return f"{member_id}|{item_code}|{partition}"


def _delta(before: OrderRecord | None, after: OrderRecord) -> Counter[str]:
    delta = after.outcomes()
    if before is not None:
        delta.subtract(before.outcomes())
    return Counter({k: v for k, v in delta.items() if v != 0})


def _store(ledger: OrderLedger, key: str, record: OrderRecord,
           kept_after: datetime) -> OrderLedger:
    updated = {k: v for k, v in ledger.items() if from_ms(v[2]) >= kept_after}
    updated[key] = record.to_json()
    return updated


def record_order(
    ledger: OrderLedger, order_id: str, record: OrderRecord, kept_after: datetime
) -> tuple[OrderLedger, Counter[str]]:
    """Note an advised order; a repeat of a known order counts nothing."""
    key = ledger_key(record.member_id, order_id)
    if key in ledger:
        return ledger, Counter()
    return _store(ledger, key, record, kept_after), _delta(None, record)


def record_decision(
    ledger: OrderLedger,
    member_id: str,
    order_id: str,
    item_code: str,
    decision: Decision,
    retest_reason: RetestReason | None,
    at: datetime,
    kept_after: datetime,
) -> tuple[OrderLedger, Counter[str], str]:
    """Note what the doctor did with an order; returns the ledger, the count changes and
    the item they apply to (the order's, when the hub saw the order)."""
    key = ledger_key(member_id, order_id)
    before = OrderRecord.from_json(ledger[key]) if key in ledger else None
    base = before or OrderRecord(member_id, item_code, at, recognisable=False)
    reason = (retest_reason.value if retest_reason else UNSPECIFIED) \
        if decision is Decision.RETESTED else None
    after = replace(base, decision=decision, retest_reason=reason)
    if before == after:
        return ledger, Counter(), after.item_code
    if before is None:
        # a decision on an order the hub never advised: count the decision, not an order
        delta = _delta(None, after)
        delta.pop(ORDERS, None)
        return _store(ledger, key, after, kept_after), delta, after.item_code
    return _store(ledger, key, after, kept_after), _delta(before, after), after.item_code


def apply_delta(counts: Mapping[str, int] | None, delta: Mapping[str, int]) -> dict[str, int]:
    updated = dict(counts or {})
    for name, change in delta.items():
        updated[name] = updated.get(name, 0) + change
        if updated[name] == 0:
            del updated[name]
    return updated


def metric_increments(delta: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(outcome, reason, amount) for the RECOGNITION counter: only increases (a counter
    never goes down), and re-tests once, under their reason."""
    increments = []
    for name, amount in sorted(delta.items()):
        if amount <= 0 or name == RETESTED:
            continue
        if name.startswith(RETESTED_BY):
            increments.append((RETESTED, name.removeprefix(RETESTED_BY), amount))
        else:
            increments.append((name, "", amount))
    return increments


def summarise(rows: Iterable[tuple[str, Mapping[str, int]]]) -> dict[str, dict[str, Any]]:
    """member -> item -> counts, summed over partitions, with the derived figures the
    dashboard shows (tests avoided, recognition rate)."""
    summed: dict[str, dict[str, Counter[str]]] = {}
    for key, counts in rows:
        member_id, item_code, _partition = key.rsplit("|", 2)
        summed.setdefault(member_id, {}).setdefault(item_code, Counter()).update(counts)
    out: dict[str, dict[str, Any]] = {}
    for member_id, items in sorted(summed.items()):
        out[member_id] = {}
        for item_code, counts in sorted(items.items()):
            by_reason = {k.removeprefix(RETESTED_BY): v for k, v in sorted(counts.items())
                         if k.startswith(RETESTED_BY)}
            recognisable = counts[RECOGNISABLE]
            out[member_id][item_code] = {
                ORDERS: counts[ORDERS], RECOGNISABLE: recognisable,
                RECOGNISED: counts[RECOGNISED], RETESTED: counts[RETESTED],
                "retested_by_reason": by_reason,
                "tests_avoided": counts[RECOGNISED],
                "recognition_rate": round(counts[RECOGNISED] / recognisable, 4)
                if recognisable else None,
            }
    return out
