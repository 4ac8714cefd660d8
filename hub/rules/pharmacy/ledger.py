"""The stock ledger of one member for one drug, and how a stock event changes it.

A ledger is a plain JSON document (it lives in a Faust table with a changelog). Applying an
event never clamps: a movement that would leave a negative balance is refused, so the
member finds out its books and the hub's disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.rules.pharmacy.arithmetic import StockPosition, stock_position, window_start
from hub.rules.rejections import Reason, Rejection
from schemas.models.outputs import ShortageSource, TransferState
from schemas.models.pharmacy import StockEvent, StockEventKind
from schemas.reference.formulary import StockParams

# How many applied event ids a ledger remembers to drop redeliveries. Intake already drops
# repeated ids; this only covers a redelivery racing a restart, so a short memory is enough.
APPLIED_IDS_KEPT = 64

# Movements that bring stock in: they count towards what a registered shortage lacks.
SUPPLY = frozenset({StockEventKind.RECEIPT, StockEventKind.TRANSFER_IN})


class OpenShortage(BaseModel):
    """The member's open shortage of the drug (at most one at a time)."""

    model_config = ConfigDict(extra="forbid")

    shortage_id: str
    source: ShortageSource
    opened_on: date
    quantity_short: float
    received: float = 0.0
    transfer_from: str | None = None
    transfer_quantity: float = 0.0
    order_quantity: float = 0.0
    order_id: str | None = None
    reason: str | None = None
    expected_recovery: date | None = None


class Pledge(BaseModel):
    """Stock a donor was asked to transfer: not counted as surplus again until it moves."""

    model_config = ConfigDict(extra="forbid")

    to_member: str
    quantity: float
    until: date


class IncomingTransfer(BaseModel):
    """A transfer this member was promised (its id is the shortage's): REQUESTED until the
    donor ships it, SHIPPED until this member's receipt closes it."""

    model_config = ConfigDict(extra="forbid")

    from_member: str
    quantity: float
    state: TransferState = TransferState.REQUESTED
    until: date


class Requisition(BaseModel):
    """The requisition order of the current order cycle."""

    model_config = ConfigDict(extra="forbid")

    cycle_start: date
    order_id: str
    quantity: float
    shortage_ids: list[str] = Field(default_factory=list)


class MemberLedger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str
    drug_code: str
    on_hand: float = 0.0
    first_day: date | None = None
    daily_use: dict[date, float] = Field(default_factory=dict)
    applied: list[str] = Field(default_factory=list)
    open_shortage: OpenShortage | None = None
    pledges: dict[str, Pledge] = Field(default_factory=dict)
    requisition: Requisition | None = None
    incoming: dict[str, IncomingTransfer] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any) -> MemberLedger:
        return cls.model_validate(value)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def has_applied(self, event_id: str) -> bool:
        return event_id in self.applied

    def mark_applied(self, event_id: str) -> MemberLedger:
        return self.model_copy(update={"applied": self._applied_with(event_id)})

    def _applied_with(self, event_id: str) -> list[str]:
        return [*self.applied, event_id][-APPLIED_IDS_KEPT:]

    def pledged(self, today: date, excluding: str | None = None) -> float:
        """Units promised to others and still held; `excluding` one pledge's shortage id."""
        return sum(p.quantity for key, p in self.pledges.items()
                   if p.until >= today and key != excluding)

    def position(self, params: StockParams, today: date, window_days: int) -> StockPosition:
        return stock_position(
            self.on_hand, self.daily_use, self.first_day, params, today, window_days
        )


@dataclass(frozen=True, slots=True)
class Movement:
    before: float
    ledger: MemberLedger

    @property
    def after(self) -> float:
        return self.ledger.on_hand

    @property
    def lowered(self) -> bool:
        return self.after < self.before

    @property
    def raised(self) -> bool:
        return self.after > self.before


def _check(event: StockEvent) -> None:
    q = event.quantity
    if not math.isfinite(q):
        raise Rejection(Reason.INVALID_EVENT, "rejection.quantity_not_number", quantity=q)
    if event.kind is StockEventKind.ADJUSTMENT:
        if not (event.reason or "").strip():
            raise Rejection(Reason.INVALID_EVENT, "rejection.adjustment_needs_reason")
        if q == 0:
            raise Rejection(Reason.INVALID_EVENT, "rejection.adjustment_zero")
    elif event.kind is StockEventKind.COUNT:
        if q < 0:
            raise Rejection(Reason.INVALID_EVENT, "rejection.count_negative", quantity=q)
    elif q <= 0:
        raise Rejection(Reason.INVALID_EVENT, "rejection.needs_positive_quantity",
                        kind=event.kind.value)


def _new_balance(on_hand: float, event: StockEvent) -> float:
    if event.kind is StockEventKind.COUNT:
        return event.quantity
    if event.kind in SUPPLY or event.kind is StockEventKind.ADJUSTMENT:
        return on_hand + event.quantity
    return on_hand - event.quantity


def settled_pledge(pledges: dict[str, Pledge], event: StockEvent) -> str | None:
    """The pledge a transfer out settles: the one it names, or the oldest one to that
    member."""
    if event.transfer_ref and event.transfer_ref in pledges:
        return event.transfer_ref
    for key, pledge in sorted(pledges.items(), key=lambda kv: kv[1].until):
        if pledge.to_member == event.counterpart_member:
            return key
    return None


def _release_pledge(pledges: dict[str, Pledge], event: StockEvent) -> dict[str, Pledge]:
    settled = settled_pledge(pledges, event)
    return {k: p for k, p in pledges.items() if k != settled}


def apply_stock_event(
    ledger: MemberLedger, event: StockEvent, event_day: date, today: date, window_days: int
) -> Movement:
    """The ledger after `event`, or a Rejection saying why the event cannot be applied."""
    _check(event)
    after = _new_balance(ledger.on_hand, event)
    if after < 0:
        raise Rejection(
            Reason.NEGATIVE_BALANCE, "rejection.negative_balance", kind=event.kind.value,
            quantity=float(event.quantity), member=ledger.member_id,
            drug_code=ledger.drug_code, after=float(after), on_hand=float(ledger.on_hand),
        )
    oldest = window_start(today, window_days)
    daily_use = {day: q for day, q in ledger.daily_use.items() if day >= oldest}
    if event.kind is StockEventKind.DISPENSE and event_day >= oldest:
        daily_use[event_day] = daily_use.get(event_day, 0.0) + event.quantity
    pledges = {k: p for k, p in ledger.pledges.items() if p.until >= today}
    if event.kind is StockEventKind.TRANSFER_OUT:
        pledges = _release_pledge(pledges, event)
    shortage = ledger.open_shortage
    if shortage is not None and event.kind in SUPPLY:
        shortage = shortage.model_copy(update={"received": shortage.received + event.quantity})
    first_day = event_day if ledger.first_day is None else min(ledger.first_day, event_day)
    updated = ledger.model_copy(
        update={
            "on_hand": after,
            "first_day": first_day,
            "daily_use": daily_use,
            "applied": ledger._applied_with(event.envelope.event_id),
            "pledges": pledges,
            "open_shortage": shortage,
        }
    )
    return Movement(before=ledger.on_hand, ledger=updated)


def pledge(ledger: MemberLedger, shortage_id: str, to_member: str, quantity: float,
           today: date, hold_days: int) -> MemberLedger:
    """The donor's ledger with `quantity` set aside for a suggested transfer."""
    held = Pledge(to_member=to_member, quantity=quantity, until=today + timedelta(days=hold_days))
    return ledger.model_copy(update={"pledges": {**ledger.pledges, shortage_id: held}})
