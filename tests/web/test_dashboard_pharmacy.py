"""The dashboard's central pharmacy figures from stored ledgers (issue 16), no broker: a
pending order shows its number, a transfer its state."""

from __future__ import annotations

from typing import Any

from hub.rules.pharmacy.engine import DrugState
from hub.web.dashboard.flows import pharmacy_board
from schemas.reference.formulary import Formulary, SupplyMode
from tests.factories import stock_event
from tests.rules.test_replenishment_rules import (
    DRUG,
    NOW,
    dispense,
    ledger,
    params,
    run,
    stockists,
)


def formulary(state: DrugState) -> Formulary:
    return Formulary({DRUG.code: DRUG}, {(m, DRUG.code): p for m, p in state.params.items()},
                     {})


def stored(state: DrugState) -> list[Any]:
    return [book.to_json() for book in state.ledgers.values()]


def without_surplus(mode: SupplyMode) -> DrugState:
    state = stockists()
    return DrugState(DRUG, {**state.params, "chc-east": params(mode=mode)},
                     {**state.ledgers, "lead": ledger("lead", 300, per_day=20, days=9),
                      "thc-river": ledger("thc-river", 40)})


def test_a_pending_top_up_order_shows_its_number_and_quantity() -> None:
    state = without_surplus(SupplyMode.TOP_UP)
    outcome, state = run(state, dispense("chc-east", 50))
    (order,) = outcome.orders
    board = pharmacy_board(stored(state), formulary(state), 1)
    (pending,) = board["pending_orders"]
    assert (pending["order"], pending["quantity"], pending["unit"]) == (
        order.order_id[:8], order.quantity, "盒")


def test_a_shortage_stored_without_its_order_number_gets_it_derived() -> None:
    """Ledgers written before they kept the order number: a requisition whose cycle has
    rolled over, and a TOP_UP order, still show the order's number."""
    for mode in (SupplyMode.TOP_UP, SupplyMode.REQUISITION):
        state = without_surplus(mode)
        outcome, state = run(state, dispense("chc-east", 50))
        (order,) = outcome.orders
        value = state.ledgers["chc-east"].to_json()
        value["open_shortage"].pop("order_id")
        value["requisition"] = None
        board = pharmacy_board([value], formulary(state), 1)
        assert board["pending_orders"][0]["order"] == order.order_id[:8], mode


def test_transfers_show_their_state_until_received() -> None:
    state = stockists()
    outcome, state = run(state, dispense("chc-east", 50))
    (opened,) = outcome.shortages
    board = pharmacy_board(stored(state), formulary(state), 0)
    (shortage,) = board["open_shortages"]
    assert shortage["transfer_state"] == "REQUESTED"
    (transfer,) = board["transfers"]
    assert (transfer["from"], transfer["to"], transfer["quantity"], transfer["state"]) == (
        "lead", "chc-east", opened.transfer_quantity, "REQUESTED")
    _, state = run(state, stock_event("lead", "TRANSFER_OUT", DRUG.code,
                                      opened.transfer_quantity, at=NOW,
                                      transfer_ref=opened.shortage_id))
    board = pharmacy_board(stored(state), formulary(state), 0)
    assert board["open_shortages"][0]["transfer_state"] == "SHIPPED"
    assert [t["state"] for t in board["transfers"]] == ["SHIPPED"]
    _, state = run(state, stock_event("chc-east", "TRANSFER_IN", DRUG.code,
                                      opened.transfer_quantity, at=NOW,
                                      transfer_ref=opened.shortage_id))
    board = pharmacy_board(stored(state), formulary(state), 0)
    assert board["open_shortages"] == [] and board["transfers"] == []
