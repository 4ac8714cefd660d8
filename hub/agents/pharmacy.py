"""Pharmacy: stock events and shortage registrations in (hub.stock, keyed by drug code);
shortages, replenishment orders, transfer requests, trace-code alerts and, per stock
movement applied, the member's stock level (pharmacy.stock-levels) out.

hub.stock is keyed by drug code, so every member's ledger of a drug is read and written by
the worker that owns the drug's partition: dispatch (who has surplus?) and the trace-code
check are local reads. The tables survive restarts and rebalances through their
changelogs:

- `pharmacy-ledgers`:        "drug|member" -> MemberLedger.to_json()
- `pharmacy-trace-days`:     "drug|YYYY-MM-DD" -> {trace code: [member, event id]}, and
                             "drug" -> the days that have a bucket ["YYYY-MM-DD", ...]

Outputs are sent before the state is written: a crash in between redelivers the input,
which repeats the same outputs (deterministic ids) rather than losing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from functools import cache

from hub import metrics
from hub.agents.base import Meta, hub_agent
from hub.rules.pharmacy.arithmetic import local_day
from hub.rules.pharmacy.engine import (
    DrugState,
    Outcome,
    PharmacyPolicy,
    on_registration,
    on_stock_event,
    resolve_drug,
)
from hub.rules.pharmacy.ledger import MemberLedger
from hub.rules.pharmacy.outputs import shortage_key
from hub.rules.pharmacy.trace import (
    Bucket,
    bucket_key,
    days_to_read,
    index_key,
    record_codes,
    unseen_codes,
    update_day_index,
)
from hub.rules.rejections import Reason, Rejection
from hub.runtime import channels, table_writes
from hub.runtime.app import app
from hub.runtime.emit import publish, send_feedback
from hub.runtime.services import runtime
from schemas import topics
from schemas.models import Event, ShortageRegistration, StockEvent
from schemas.models.outputs import ShortageStatus
from schemas.models.pharmacy import StockEventKind
from schemas.reference.formulary import Formulary, load_formulary

AGENT = "pharmacy"

ledgers = app.Table("pharmacy-ledgers", default=None, partitions=topics.INTERNAL_PARTITIONS,
                    options=runtime.settings.rocksdb_options())
trace_days = app.Table("pharmacy-trace-days", default=None,
                       partitions=topics.INTERNAL_PARTITIONS,
                       options=runtime.settings.rocksdb_options())


@cache
def formulary() -> Formulary:
    return load_formulary(runtime.settings.formulary_file, runtime.registry)


def policy() -> PharmacyPolicy:
    settings = runtime.settings
    return PharmacyPolicy(
        window_days=settings.pharmacy_use_window_days,
        transfer_hold_days=settings.pharmacy_transfer_hold_days,
        utc_offset_hours=settings.pharmacy_utc_offset_hours,
        locale=runtime.locale,
    )


def ledger_key(drug_code: str, member_id: str) -> str:
    return f"{drug_code}|{member_id}"


class StoredLedgers(Mapping[str, MemberLedger]):
    """The stockists' ledgers of one drug, read from the table only when asked for."""

    def __init__(self, drug_code: str, member_ids: list[str]) -> None:
        self._drug = drug_code
        self._members = member_ids
        self._read: dict[str, MemberLedger | None] = {}

    def _load(self, member_id: str) -> MemberLedger | None:
        if member_id not in self._read:
            stored = ledgers.get(ledger_key(self._drug, member_id))
            self._read[member_id] = MemberLedger.from_json(stored) if stored else None
        return self._read[member_id]

    def __getitem__(self, member_id: str) -> MemberLedger:
        found = self._load(member_id) if member_id in self._members else None
        if found is None:
            raise KeyError(member_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return (m for m in self._members if self._load(m) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _trace_buckets(drug_code: str, bucket_days: list[str] | None, today: date) -> list[Bucket]:
    days = days_to_read(bucket_days, today, runtime.settings.pharmacy_trace_retention_days)
    found = (trace_days.get(bucket_key(drug_code, day)) for day in days)
    return [bucket for bucket in found if bucket]


async def _keep_trace_codes(event: StockEvent, drug_code: str, codes: list[str], today: date,
                            bucket_days: list[str] | None, partition: int) -> None:
    """Record today's new codes and drop the buckets that fell out of retention. The day
    list (`bucket_days`, as read before) is written after the buckets it names (same
    changelog partition)."""
    if codes:
        key = bucket_key(drug_code, today)
        await table_writes.put(trace_days, partition, key, record_codes(
            trace_days.get(key), codes, event.envelope.member_id, event.envelope.event_id
        ))
    change = update_day_index(bucket_days, today,
                              runtime.settings.pharmacy_trace_retention_days, bool(codes))
    for day in change.expired:
        await table_writes.delete(trace_days, partition, bucket_key(drug_code, day))
    if change.changed:
        await table_writes.put(trace_days, partition, index_key(drug_code), change.bucket_days)


async def _send(outcome: Outcome) -> None:
    for level in outcome.levels:
        await publish(channels.pharmacy_stock_levels,
                      shortage_key(level.member_id, level.drug_code), level)
    for shortage in outcome.shortages:
        await publish(channels.pharmacy_shortages,
                      shortage_key(shortage.member_id, shortage.drug_code),
                      shortage)
        metrics.SHORTAGES.labels(shortage.source.value, shortage.status.value).inc()
        if shortage.status is ShortageStatus.OPEN:
            metrics.OPEN_SHORTAGES.inc()
            if shortage.transfer_from:
                metrics.TRANSFERS_SUGGESTED.inc()
        else:
            metrics.OPEN_SHORTAGES.dec()
    for order in outcome.orders:
        await publish(channels.pharmacy_orders,
                      shortage_key(order.member_id, order.drug_code), order)
        metrics.REPLENISHMENT_ORDERS.labels(order.member_id).inc()
    for feedback in outcome.feedback:
        await send_feedback(feedback)
    for alert in outcome.alerts:
        await publish(channels.alerts, alert.kind, alert)
        metrics.TRACE_DUPLICATES.inc()


@hub_agent(channels.stock, name=AGENT)
async def pharmacy(event: Event, meta: Meta) -> None:
    if not isinstance(event, StockEvent | ShortageRegistration):
        raise Rejection(Reason.INVALID_EVENT, "rejection.not_stock_event", schema=event.avro_name())
    member_id = event.envelope.member_id
    drug = resolve_drug(formulary(), member_id, event.drug_code)
    stockists = formulary().stockists(drug.code)
    params = {m: p for m in stockists if (p := formulary().stock_params(m, drug.code))}
    state = DrugState(drug, params, StoredLedgers(drug.code, stockists))
    now = runtime.now()
    today = local_day(now, runtime.settings.pharmacy_utc_offset_hours)
    checks_packs = isinstance(event, StockEvent) and event.kind is StockEventKind.DISPENSE
    bucket_days: list[str] | None = None  # the drug's trace-code days, read once
    buckets: list[Bucket] = []
    if isinstance(event, StockEvent):
        bucket_days = trace_days.get(index_key(drug.code))
        if checks_packs and event.trace_codes:
            buckets = _trace_buckets(drug.code, bucket_days, today)
        outcome = on_stock_event(event, state, policy(), now, buckets)
    else:
        outcome = on_registration(event, state, policy(), now)
    if outcome.already_applied:
        metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
        if checks_packs and isinstance(event, StockEvent) and event.trace_codes:
            # The trace table's changelog is another topic than the ledgers': a crash can
            # have stored the ledger and lost the codes. Recording them again is harmless.
            unseen = unseen_codes(event.trace_codes, buckets)
            await _keep_trace_codes(event, drug.code, unseen, today, bucket_days, meta.partition)
        return
    await _send(outcome)  # the ledger write marking it applied waits for these (changelog_gate)
    if isinstance(event, StockEvent):
        metrics.STOCK_MOVEMENTS.labels(event.kind.value).inc()
        await _keep_trace_codes(event, drug.code, outcome.trace_codes, today, bucket_days,
                                meta.partition)
    for changed_member, book in outcome.ledger_writes(member_id):
        key = ledger_key(drug.code, changed_member)
        await table_writes.put(ledgers, meta.partition, key, book.to_json())
