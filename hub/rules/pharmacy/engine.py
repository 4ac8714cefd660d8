"""The pharmacy flow as one pure step per input: given the event and the state of its drug
(every stockist's ledger), the ledgers to write back and the events to send.

Shortages. A movement that lowers a member's stock below its reorder point opens a
THRESHOLD shortage at once, unless one is already open. A registration (缺药登记) opens a
REGISTERED one. A THRESHOLD shortage closes when a movement lifts the stock back to its
reorder point or above; a REGISTERED one when the member has received (receipts and
transfers in) the quantity it registered as short. Either close is a Shortage event with
status CLOSED and the same shortage_id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hub.rules.pharmacy import outputs
from hub.rules.pharmacy.arithmetic import local_day
from hub.rules.pharmacy.dispatch import (
    Donor,
    choose_donor,
    donor_surplus,
    place_order,
    plan_dispatch,
)
from hub.rules.pharmacy.ledger import MemberLedger, OpenShortage, apply_stock_event, pledge
from hub.rules.pharmacy.trace import (
    Bucket,
    check_trace_codes,
    find_duplicates,
    unseen_codes,
)
from hub.rules.pharmacy.transfers import (
    TransferMove,
    expect,
    mark_shipped,
    receive,
    shipment,
)
from hub.rules.rejections import Reason, Rejection
from schemas.models import (
    Feedback,
    OperatorAlert,
    ReplenishmentOrder,
    Shortage,
    ShortageRegistration,
    StockEvent,
    StockLevel,
    deterministic_id,
)
from schemas.models.outputs import FeedbackStatus, ShortageSource, ShortageStatus
from schemas.models.pharmacy import StockEventKind
from schemas.reference.formulary import Drug, Formulary, StockParams
from schemas.reference.messages import DEFAULT_LOCALE, Locale, text

NOT_STOCKED = "NOT_STOCKED"
SHORTAGE_ALREADY_OPEN = "SHORTAGE_ALREADY_OPEN"


@dataclass(frozen=True, slots=True)
class PharmacyPolicy:
    window_days: int
    transfer_hold_days: int
    utc_offset_hours: float
    locale: Locale = DEFAULT_LOCALE  # language and zone of the reasons people read


@dataclass(frozen=True, slots=True)
class DrugState:
    """What the agent read for one drug: its stockists' parameters and existing ledgers."""

    drug: Drug
    params: Mapping[str, StockParams]
    ledgers: Mapping[str, MemberLedger]

    def ledger(self, member_id: str) -> MemberLedger:
        found = self.ledgers.get(member_id)
        return found if found is not None else MemberLedger(
            member_id=member_id, drug_code=self.drug.code
        )


@dataclass
class Outcome:
    ledgers: dict[str, MemberLedger] = field(default_factory=dict)
    shortages: list[Shortage] = field(default_factory=list)
    orders: list[ReplenishmentOrder] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    alerts: list[OperatorAlert] = field(default_factory=list)
    levels: list[StockLevel] = field(default_factory=list)
    trace_codes: list[str] = field(default_factory=list)
    already_applied: bool = False

    def ledger_writes(self, member_id: str) -> list[tuple[str, MemberLedger]]:
        """The changed ledgers, the event's own member last. Its ledger marks the event as
        applied, and one drug's ledger writes reach the changelog in the order made: once
        that one is stored, a donor's pledge is too."""
        return sorted(self.ledgers.items(), key=lambda item: item[0] == member_id)


def resolve_drug(formulary: Formulary, member_id: str, drug_code: str) -> Drug:
    """The drug an input names, refused if the formulary or the member does not have it."""
    drug = formulary.get(drug_code)
    if drug is None:
        raise Rejection(Reason.UNKNOWN_DRUG, "rejection.unknown_drug", drug_code=drug_code)
    if formulary.stock_params(member_id, drug_code) is None:
        raise Rejection(NOT_STOCKED, "rejection.not_stocked", member=member_id, drug=drug.name,
                        drug_code=drug_code)
    return drug


def _open(
    outcome: Outcome, state: DrugState, ledger: MemberLedger, shortage: OpenShortage,
    *, policy: PharmacyPolicy, today: date, now: datetime, cause_id: str,
) -> None:
    """Dispatch a new shortage (transfer first, order for the rest) and announce it."""
    member, params = ledger.member_id, state.params[ledger.member_id]
    donors = [
        Donor(m, donor_surplus(state.ledgers[m], state.params[m], today, policy.window_days,
                               for_shortage=shortage.shortage_id))
        for m in sorted(state.params) if m != member and m in state.ledgers
    ]
    plan = plan_dispatch(shortage.quantity_short, choose_donor(donors), params)
    shortage = shortage.model_copy(update={
        "transfer_from": plan.donor, "transfer_quantity": plan.transfer_quantity,
        "order_quantity": plan.order_quantity,
    })
    if plan.donor is not None:
        outcome.ledgers[plan.donor] = pledge(
            state.ledgers[plan.donor], shortage.shortage_id, member, plan.transfer_quantity,
            today, policy.transfer_hold_days,
        )
        outcome.feedback.append(outputs.transfer_request(
            plan.donor, shortage.shortage_id, member, state.drug, plan.transfer_quantity,
            cause_id=cause_id, now=now, locale=policy.locale,
        ))
    if plan.order_quantity > 0:
        placed = place_order(ledger, params, shortage.shortage_id, plan.order_quantity, today)
        ledger = ledger.model_copy(update={"requisition": placed.requisition})
        shortage = shortage.model_copy(update={"order_id": placed.order_id})
        outcome.orders.append(
            outputs.order_event(placed, member, state.drug, params, cause_id=cause_id, now=now)
        )
    ledger = ledger.model_copy(update={"open_shortage": shortage})
    if plan.donor is not None:
        ledger = expect(ledger, shortage.shortage_id, plan.donor, plan.transfer_quantity,
                        today + timedelta(days=policy.transfer_hold_days))
    outcome.ledgers[member] = ledger
    position = ledger.position(params, today, policy.window_days)
    outcome.shortages.insert(0, outputs.shortage_event(
        shortage, ShortageStatus.OPEN, member, state.drug, position, cause_id=cause_id, now=now
    ))


def _trace(outcome: Outcome, event: StockEvent, drug: Drug, buckets: Sequence[Bucket],
           now: datetime, locale: Locale) -> None:
    member, event_id = event.envelope.member_id, event.envelope.event_id
    for dup in find_duplicates(event.trace_codes, member, event_id, buckets):
        outcome.alerts.append(outputs.trace_alert(dup, drug, now=now, locale=locale))
        outcome.feedback.extend(outputs.trace_feedback(dup, drug, now=now, locale=locale))
    outcome.trace_codes = unseen_codes(event.trace_codes, buckets)


def _ship(outcome: Outcome, state: DrugState, donor_before: MemberLedger, event: StockEvent,
          today: date) -> TransferMove | None:
    """The transfer a donor's TRANSFER_OUT ships; the receiver's ledger learns it."""
    sent = shipment(donor_before, event, today)
    if sent is None:
        return None
    receiver = sent.receiver
    if receiver and receiver != event.envelope.member_id and (
            receiver in outcome.ledgers or receiver in state.ledgers):
        current = outcome.ledgers.get(receiver)
        shipped = mark_shipped(current if current is not None else state.ledgers[receiver],
                               sent.move.transfer_id)
        if shipped is not None:
            outcome.ledgers[receiver] = shipped
    return sent.move


def on_stock_event(
    event: StockEvent, state: DrugState, policy: PharmacyPolicy, now: datetime,
    trace_buckets: Sequence[Bucket] = (),
) -> Outcome:
    """Apply a stock event; open or close the member's shortage it causes; check packs."""
    member, event_id = event.envelope.member_id, event.envelope.event_id
    params = state.params[member]
    ledger = state.ledger(member)
    if ledger.has_applied(event_id):
        return Outcome(already_applied=True)
    if event.kind is StockEventKind.DISPENSE:
        check_trace_codes(event.trace_codes)
    today = local_day(now, policy.utc_offset_hours)
    event_day = local_day(event.at, policy.utc_offset_hours)
    before = ledger
    movement = apply_stock_event(ledger, event, event_day, today, policy.window_days)
    ledger, received = receive(movement.ledger, event, today)
    outcome = Outcome(ledgers={member: ledger})
    if event.kind is StockEventKind.DISPENSE and event.trace_codes:
        _trace(outcome, event, state.drug, trace_buckets, now, policy.locale)
    position = ledger.position(params, today, policy.window_days)
    current = ledger.open_shortage
    if current is None and movement.lowered and position.below_reorder_point:
        shortage = OpenShortage(
            shortage_id=deterministic_id("shortage", member, state.drug.code, event_id),
            source=ShortageSource.THRESHOLD, opened_on=today,
            quantity_short=position.suggested_quantity,
        )
        _open(outcome, state, ledger, shortage, policy=policy, today=today, now=now,
              cause_id=event_id)
    elif current is not None and movement.raised and (
        current.received >= current.quantity_short
        if current.source is ShortageSource.REGISTERED
        else not position.below_reorder_point
    ):
        outcome.ledgers[member] = ledger.model_copy(update={"open_shortage": None})
        outcome.shortages.append(outputs.shortage_event(
            current, ShortageStatus.CLOSED, member, state.drug, position,
            cause_id=event_id, now=now,
        ))
    moved = received or _ship(outcome, state, before, event, today)
    outcome.levels.append(outputs.stock_level(event, state.drug, position, moved, now=now))
    return outcome


def on_registration(
    event: ShortageRegistration, state: DrugState, policy: PharmacyPolicy, now: datetime
) -> Outcome:
    """A shortage registered by hand (缺药登记): dispatched like a threshold shortage, for
    the quantity registered. While one is open, a registration only gets an answer."""
    member, event_id = event.envelope.member_id, event.envelope.event_id
    ledger = state.ledger(member)
    if ledger.has_applied(event_id):
        return Outcome(already_applied=True)
    short = event.quantity_short
    if not math.isfinite(short) or short <= 0:
        raise Rejection(Reason.INVALID_EVENT, "rejection.quantity_short_positive", quantity=short)
    if not event.reason.strip():
        raise Rejection(Reason.INVALID_EVENT, "rejection.shortage_needs_reason")
    ledger = ledger.mark_applied(event_id)
    outcome = Outcome(ledgers={member: ledger})
    current = ledger.open_shortage
    if current is not None:
        outcome.feedback.append(outputs.member_feedback(
            member, event_id, FeedbackStatus.ACCEPTED, id_parts=(SHORTAGE_ALREADY_OPEN,),
            cause_id=event_id, now=now, reason_code=SHORTAGE_ALREADY_OPEN,
            reason=policy.locale.render(text("pharmacy.shortage_open",
                                             shortage_id=current.shortage_id,
                                             drug=state.drug.name)),
            details={"shortage_id": current.shortage_id},
        ))
        return outcome
    shortage = OpenShortage(
        shortage_id=deterministic_id("shortage", member, state.drug.code, event_id),
        source=ShortageSource.REGISTERED, opened_on=local_day(now, policy.utc_offset_hours),
        quantity_short=short, reason=event.reason, expected_recovery=event.expected_recovery,
    )
    _open(outcome, state, ledger, shortage, policy=policy,
          today=local_day(now, policy.utc_offset_hours), now=now, cause_id=event_id)
    return outcome
