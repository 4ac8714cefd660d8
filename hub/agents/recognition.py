"""Recognition: results in hub.results are indexed per patient; an order in hub.orders gets
advice on the ordering member's out. topic; a decision in hub.orders moves the counts.

Both tables are keyed so that each partition writes only its own keys: the index and the
order ledger by patient pseudonym, on the patient's home partition (hub/runtime/placement.py:
in place from the ingress topic, or from hub.results and hub.orders, co-partitioned with it).
The decision counts live in the order ledger's table too, under "counts|member|item|
partition" keys: an order writes its count and then its ledger entry, and only writes to
one changelog partition keep their order, so a crash can never store the ledger entry (which
makes a redelivery count nothing) without the count. A count remembers the last inputs it
applied (by event id), so that a crash storing the count without the ledger entry does not
count the input again when it comes back. They survive a restart and a rebalance through
their changelogs.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hub import metrics
from hub.agents.base import Meta, hub_agent
from hub.rules.recognition.advice import advise
from hub.rules.recognition.eligibility import map_item
from hub.rules.recognition.expiry import kept_days, longest_kept_days, prune_index
from hub.rules.recognition.index import (
    PatientIndex,
    add_result,
    index_entry,
    results_for,
    should_index,
)
from hub.rules.recognition.retraction import (
    advised_on,
    forget_advised,
    is_retracted,
    is_retraction,
    retract,
    retraction_of,
    withdrawn_advice,
)
from hub.rules.recognition.stats import (
    OrderLedger,
    OrderRecord,
    apply_delta,
    counts_key,
    metric_increments,
    record_decision,
    record_order,
    summarise,
)
from hub.rules.rejections import Reason, Rejection
from hub.runtime import channels, table_writes
from hub.runtime.app import app
from hub.runtime.emit import publish
from hub.runtime.services import runtime
from schemas import topics
from schemas.models import Event, ImagingReport, LabResult, RecognitionDecision, TestOrder
from schemas.models.common import Patient
from schemas.models.outputs import Verdict
from schemas.reference.items import Item, ItemCatalogue, load_item_catalogue
from schemas.reference.registry import Member

RESULTS_AGENT = "recognition-results"
ORDERS_AGENT = "recognition-orders"

catalogue: ItemCatalogue = load_item_catalogue(runtime.settings.items_file)
# How long each item's results are kept (hub/rules/recognition/expiry.py)
kept_days_of = kept_days(catalogue, runtime.settings.recognition_late_order_days)
longest_days = longest_kept_days(catalogue, runtime.settings.recognition_late_order_days)

# patient key -> {item code: [IndexedResult.to_json(), ...]}
result_index = app.Table(
    "recognition-result-index", default=None, partitions=topics.INTERNAL_PARTITIONS,
    options=runtime.settings.rocksdb_options(),
)
# patient key -> {"member|order id": OrderRecord.to_json()}, and
# "counts|member|item|partition" -> {outcome: count}
order_ledger = app.Table(
    "recognition-order-ledger", default=None, partitions=topics.INTERNAL_PARTITIONS,
    options=runtime.settings.rocksdb_options(),
)
COUNTS_PREFIX = "counts|"
counts_keys: set[str] = set()  # the counts keys in the table, so stats need not scan it


@order_ledger.on_recover
async def _find_counts_keys() -> None:
    counts_keys.clear()
    counts_keys.update(k for k in order_ledger if k.startswith(COUNTS_PREFIX))


def _patient_key(patient: Patient) -> str:
    if not patient.key:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_pseudonym")
    return patient.key


def _member(member_id: str) -> Member:
    member = runtime.registry.get(member_id)
    if member is None:
        raise Rejection(Reason.UNKNOWN_MEMBER, "rejection.unknown_member", member=member_id)
    return member


def patient_index(key: str) -> PatientIndex:
    """A patient's indexed results, as held by this worker."""
    index: PatientIndex | None = result_index.get(key)
    return index or {}


# In a counts value, names starting with "_" are bookkeeping, not counts: APPLIED lists the
# event ids of the last inputs applied to it, newest last ("_offset", the source offset last
# applied, was its predecessor and is dropped at the next write).
APPLIED = "_applied"
APPLIED_KEPT = 32


def _counts_only(value: dict[str, Any]) -> dict[str, int]:
    return {name: n for name, n in value.items() if not name.startswith("_")}


def recognition_stats(member_id: str | None = None) -> dict[str, dict[str, Any]]:
    """member -> item -> counts over the partitions this worker owns (one worker: all)."""
    prefix = f"{COUNTS_PREFIX}{member_id}|" if member_id else COUNTS_PREFIX
    rows = [(key.removeprefix(COUNTS_PREFIX), _counts_only(counts))
            for key in sorted(counts_keys) if key.startswith(prefix)
            and (counts := order_ledger.get(key)) is not None]
    return summarise(rows)


async def _count(member_id: str, item_code: str, meta: Meta, event_id: str,
                 delta: Counter[str]) -> None:
    """Apply an input's count change once. It is written before the order ledger entry
    (same changelog partition, so stored first) and remembers the input's event id: a
    worker killed between the two writes sees the input again (the same message, or
    intake's copy of it at another offset), finds its count applied, and only writes the
    ledger.

    By id, not by offset: an input does not always come back before the later inputs of
    its partition. A message that a restart's fetch skipped is delivered again after later
    ones (hub/runtime/patches/commit_repair.py), and "a later offset was applied" does not
    mean this one was: taking it so skipped that order's count for good (the crash test
    saw a count one short, its ledger entry stored). The last APPLIED_KEPT ids are enough:
    only an input whose count was stored without its ledger entry needs its id found."""
    if not delta:
        return
    key = COUNTS_PREFIX + counts_key(member_id, item_code, meta.partition)
    current: dict[str, Any] = order_ledger.get(key) or {}
    applied: list[str] = current.get(APPLIED) or []
    if event_id in applied:
        return
    await table_writes.put(order_ledger, meta.partition, key, {
        **apply_delta(_counts_only(current), delta),
        APPLIED: [*applied, event_id][-APPLIED_KEPT:],
    })
    counts_keys.add(key)
    for outcome, reason, amount in metric_increments(delta):
        metrics.RECOGNITION.labels(member_id, item_code, outcome, reason).inc(amount)


@hub_agent(channels.results, name=RESULTS_AGENT)
async def index_result(event: Event, meta: Meta) -> None:
    if not isinstance(event, LabResult | ImagingReport):
        return
    member_id = event.envelope.member_id
    loinc = event.loinc if isinstance(event, LabResult) else None
    item = map_item(catalogue, member_id, event.item_code, event.local_code, loinc)
    if is_retraction(event) and item.recognisable:
        await _retract(event, item, meta)
        return
    if not should_index(event, item):
        return
    key = _patient_key(event.patient)
    settings = runtime.settings
    horizon = runtime.now() - timedelta(
        days=item.window_days + settings.recognition_late_order_days
    )
    current = patient_index(key)
    entry = index_entry(event, item, runtime.registry)
    if is_retracted(current, entry):
        metrics.RECOGNITION_RETRACTED.labels(member_id, "late_original").inc()
        return
    updated = prune_index(
        add_result(current, entry, keep=settings.recognition_keep_per_item,
                   reported_after=horizon),
        runtime.now(), kept_days_of, longest_days)
    if updated is not current:
        await table_writes.put(result_index, meta.partition, key, updated)
        metrics.RECOGNITION_INDEXED.labels(member_id, item.kind.value).inc()


async def _retract(event: LabResult | ImagingReport, item: Item, meta: Meta) -> None:
    """Take the named result out of the index and tell every member advised on it; the
    advice goes out before the state that remembers it (a crash repeats the same ids)."""
    key = _patient_key(event.patient)
    keep_days = item.window_days + runtime.settings.recognition_late_order_days
    try:
        retraction = retraction_of(event, item, keep_days)
    except ValueError:
        raise Rejection(Reason.INVALID_EVENT, "rejection.retraction_without_ref") from None
    now = runtime.now()
    current = patient_index(key)
    updated, removed = retract(current, retraction, now)
    if updated is current:
        return  # a repeat
    before: OrderLedger = order_ledger.get(key) or {}
    ledger = before
    for result in removed:
        for ledger_key, record in advised_on(ledger, result.event_id):
            order_id = ledger_key.split("|", 1)[1]
            advice = withdrawn_advice(
                order_id, record, item, result, results_for(updated, item.code),
                runtime.registry, now, event.envelope.event_id, runtime.locale)
            if advice is not None:
                await publish(channels.out(record.member_id), advice.order_event_id, advice)
                metrics.RECOGNITION_RETRACTED.labels(record.member_id, "advice_withdrawn").inc()
        ledger = forget_advised(ledger, result.event_id)
    if ledger != before:
        await table_writes.put(order_ledger, meta.partition, key, ledger)
    await table_writes.put(result_index, meta.partition, key, updated)
    metrics.RECOGNITION_RETRACTED.labels(event.envelope.member_id,
                                         "removed" if removed else "tombstone").inc()


async def _advise(order: TestOrder, meta: Meta) -> None:
    member_id = order.envelope.member_id
    orderer = _member(member_id)
    item = map_item(catalogue, member_id, order.item_code, order.local_code)
    key = _patient_key(order.patient)
    now = runtime.now()
    advice = advise(order, item, results_for(patient_index(key), item.code), orderer,
                    runtime.registry, now, runtime.locale)
    await publish(channels.out(member_id), order.envelope.event_id, advice)
    record = OrderRecord(member_id, item.code, order.ordered_at,
                         recognisable=advice.verdict is not Verdict.NONE_VALID,
                         order_event_id=order.envelope.event_id,
                         advised=tuple(r.result_event_id for r in advice.results))
    kept_after = now - timedelta(days=runtime.settings.recognition_ledger_days)
    ledger, delta = record_order(order_ledger.get(key) or {}, order.order_id, record, kept_after)
    await _count(member_id, item.code, meta, order.envelope.event_id, delta)
    if delta:
        await table_writes.put(order_ledger, meta.partition, key, ledger)


async def _decide(decision: RecognitionDecision, meta: Meta) -> None:
    member_id = decision.envelope.member_id
    _member(member_id)
    item = map_item(catalogue, member_id, decision.item_code, "")
    key = _patient_key(decision.patient)
    kept_after = runtime.now() - timedelta(days=runtime.settings.recognition_ledger_days)
    current: OrderLedger = order_ledger.get(key) or {}
    ledger, delta, item_code = record_decision(
        current, member_id, decision.order_id, item.code, decision.decision,
        decision.retest_reason, decision.envelope.occurred_at, kept_after,
    )
    await _count(member_id, item_code, meta, decision.envelope.event_id, delta)
    if ledger is not current:
        await table_writes.put(order_ledger, meta.partition, key, ledger)


@hub_agent(channels.orders, name=ORDERS_AGENT)
async def on_order(event: Event, meta: Meta) -> None:
    if isinstance(event, TestOrder):
        await _advise(event, meta)
    elif isinstance(event, RecognitionDecision):
        await _decide(event, meta)
