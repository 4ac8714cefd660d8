"""Dispatch of a new shortage: a transfer (调拨) from a member with surplus first, an order
with the central pharmacy for what the transfer does not cover.

Surplus. A donor keeps its reorder point plus one order cycle of its own average use (so
giving never pushes it into a shortage before its next order would arrive), less what it
has already been asked to transfer. Everything above that, in whole units, is surplus. A
member with an open shortage of the drug gives nothing. The best donor has the most
surplus; ties go to the member id first in alphabetical order.

Orders. TOP_UP members get one order per shortage, at once. REQUISITION members get one
order per member, drug and order cycle (cycles counted from a fixed Monday): the first
shortage of a cycle places it, a later one in the same cycle re-sends it with the same
order_id and the quantities added up, so the central pharmacy keeps the latest version of
each order id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from hub.rules.pharmacy.arithmetic import (
    StockPosition,
    cycle_start,
    whole_units_down,
    whole_units_up,
)
from hub.rules.pharmacy.ledger import MemberLedger, Requisition
from schemas.models import deterministic_id
from schemas.reference.formulary import StockParams, SupplyMode


def keep_level(position: StockPosition, params: StockParams) -> float:
    """What a donor keeps for itself."""
    return position.reorder_point + position.avg_daily_use * params.order_cycle_days


def donor_surplus(
    ledger: MemberLedger, params: StockParams, today: date, window_days: int,
    for_shortage: str | None = None,
) -> float:
    """What a member can give. A pledge it already made to `for_shortage` counts as still
    free: dispatching that shortage again (a redelivery after a crash that wrote the
    donor's ledger but not the short member's) must make the same plan."""
    if ledger.open_shortage is not None:
        return 0.0
    position = ledger.position(params, today, window_days)
    spare = (ledger.on_hand - ledger.pledged(today, excluding=for_shortage)
             - keep_level(position, params))
    return whole_units_down(spare)


@dataclass(frozen=True, slots=True)
class Donor:
    member_id: str
    surplus: float


def choose_donor(candidates: Iterable[Donor]) -> Donor | None:
    """The donor with the most surplus (at least one unit); ties by member id."""
    able = [c for c in candidates if c.surplus >= 1]
    return min(able, key=lambda c: (-c.surplus, c.member_id)) if able else None


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    need: float
    donor: str | None
    transfer_quantity: float
    order_quantity: float


def plan_dispatch(need: float, donor: Donor | None, params: StockParams) -> DispatchPlan:
    """Cover `need` by a transfer from `donor` as far as its surplus goes, the rest by an
    order of at least the minimum purchase."""
    need = whole_units_up(need)
    transfer = min(need, donor.surplus) if donor is not None else 0.0
    remainder = need - transfer
    order = max(whole_units_up(remainder), params.min_purchase) if remainder > 0 else 0.0
    return DispatchPlan(
        need=need,
        donor=donor.member_id if transfer > 0 and donor is not None else None,
        transfer_quantity=transfer,
        order_quantity=order,
    )


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order_id: str
    quantity: float
    cycle_start: date
    shortage_ids: list[str] = field(default_factory=list)
    requisition: Requisition | None = None


def order_id_for(member_id: str, drug_code: str, shortage_id: str, opened_on: date,
                 params: StockParams) -> str:
    """The id of the order a shortage opened on `opened_on` was placed in: its own for
    TOP_UP, its order cycle's requisition for REQUISITION."""
    if params.supply_mode is SupplyMode.TOP_UP:
        return deterministic_id("order", member_id, drug_code, "top-up", shortage_id)
    cycle = cycle_start(opened_on, params.order_cycle_days)
    return deterministic_id("order", member_id, drug_code, "requisition", cycle.isoformat())


def place_order(
    ledger: MemberLedger, params: StockParams, shortage_id: str, quantity: float, today: date
) -> PlacedOrder:
    """The order carrying `quantity` for `shortage_id`, and the member's requisition batch
    after it (unchanged for TOP_UP)."""
    cycle = cycle_start(today, params.order_cycle_days)
    order_id = order_id_for(ledger.member_id, ledger.drug_code, shortage_id, today, params)
    if params.supply_mode is SupplyMode.TOP_UP:
        return PlacedOrder(order_id, quantity, cycle, [shortage_id], ledger.requisition)
    batch = ledger.requisition
    if batch is not None and batch.cycle_start == cycle:
        if shortage_id not in batch.shortage_ids:
            batch = batch.model_copy(update={
                "quantity": batch.quantity + quantity,
                "shortage_ids": [*batch.shortage_ids, shortage_id],
            })
    else:
        batch = Requisition(
            cycle_start=cycle, order_id=order_id, quantity=quantity, shortage_ids=[shortage_id]
        )
    return PlacedOrder(batch.order_id, batch.quantity, cycle, list(batch.shortage_ids), batch)
