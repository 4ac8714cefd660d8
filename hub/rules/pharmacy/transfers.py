"""Transfers (调拨) between members and their state.

A transfer's id is the id of the shortage it covers (the donor is asked with it as
`transfer_ref`). It is REQUESTED when the shortage is dispatched to a donor: the receiving
member's ledger then expects it. It is SHIPPED when the donor's TRANSFER_OUT settles the
pledge (the one it names, else the oldest one to that member). It is RECEIVED when the
receiving member's stock event brings it in: a TRANSFER_IN or a RECEIPT that names the
transfer (`transfer_ref`) or the donor (`counterpart_member`). That closes it: it leaves
the receiver's ledger. A movement naming a transfer the ledger does not expect (one
requested before the hub tracked transfers) still moves it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.rules.pharmacy.ledger import SUPPLY, IncomingTransfer, MemberLedger, settled_pledge
from schemas.models.outputs import TransferState
from schemas.models.pharmacy import StockEvent, StockEventKind

# A shipped transfer the receiver never reports is forgotten this long after its hold.
SHIPPED_KEPT_DAYS = 30


@dataclass(frozen=True, slots=True)
class TransferMove:
    """What a stock movement did to a transfer, for its stock level event."""

    transfer_id: str
    state: TransferState
    counterpart: str | None


def expect(ledger: MemberLedger, transfer_id: str, from_member: str, quantity: float,
           until: date) -> MemberLedger:
    """The receiver's ledger expecting a transfer just requested from `from_member`."""
    incoming = {**ledger.incoming, transfer_id: IncomingTransfer(
        from_member=from_member, quantity=quantity, until=until)}
    return ledger.model_copy(update={"incoming": incoming})


def _expected(ledger: MemberLedger, event: StockEvent) -> str | None:
    if event.transfer_ref and event.transfer_ref in ledger.incoming:
        return event.transfer_ref
    candidates = [(t.state is not TransferState.SHIPPED, t.until, key)
                  for key, t in ledger.incoming.items()
                  if event.counterpart_member and t.from_member == event.counterpart_member]
    return min(candidates)[2] if candidates else None


def receive(ledger: MemberLedger, event: StockEvent, today: date
            ) -> tuple[MemberLedger, TransferMove | None]:
    """The receiver's ledger after its stock event, and the transfer it received, if any.
    Requests the donor never shipped are forgotten once their hold has passed, shipments
    never reported received `SHIPPED_KEPT_DAYS` later."""
    kept = {k: t for k, t in ledger.incoming.items() if t.until + timedelta(
        days=SHIPPED_KEPT_DAYS if t.state is TransferState.SHIPPED else 0) >= today}
    ledger = ledger.model_copy(update={"incoming": kept}) if kept != ledger.incoming else ledger
    if event.kind not in SUPPLY:
        return ledger, None
    key = _expected(ledger, event)
    if key is None:
        if event.transfer_ref:
            return ledger, TransferMove(event.transfer_ref, TransferState.RECEIVED,
                                        event.counterpart_member)
        return ledger, None
    found = ledger.incoming[key]
    rest = {k: t for k, t in ledger.incoming.items() if k != key}
    return (ledger.model_copy(update={"incoming": rest}),
            TransferMove(key, TransferState.RECEIVED, found.from_member))


@dataclass(frozen=True, slots=True)
class Shipment:
    move: TransferMove
    receiver: str | None  # the member whose ledger expects it, if known


def shipment(donor_before: MemberLedger, event: StockEvent, today: date) -> Shipment | None:
    """The transfer a donor's TRANSFER_OUT ships, if it settles a pledge or names one."""
    if event.kind is not StockEventKind.TRANSFER_OUT:
        return None
    held = {k: p for k, p in donor_before.pledges.items() if p.until >= today}
    key = settled_pledge(held, event) or event.transfer_ref
    if key is None:
        return None
    receiver = held[key].to_member if key in held else event.counterpart_member
    return Shipment(TransferMove(key, TransferState.SHIPPED, receiver), receiver)


def mark_shipped(receiver: MemberLedger, transfer_id: str) -> MemberLedger | None:
    """The receiver's ledger with the transfer shipped; None if it does not expect it."""
    found = receiver.incoming.get(transfer_id)
    if found is None or found.state is TransferState.SHIPPED:
        return None
    shipped = found.model_copy(update={"state": TransferState.SHIPPED})
    return receiver.model_copy(update={"incoming": {**receiver.incoming, transfer_id: shipped}})
