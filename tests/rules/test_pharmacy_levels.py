"""The pharmacy rules' per-movement stock levels and transfer states (issue 16). No broker."""

from __future__ import annotations

from datetime import timedelta

from hub.rules.pharmacy.transfers import SHIPPED_KEPT_DAYS, expect, mark_shipped, receive
from schemas.models.outputs import ShortageStatus, TransferState
from schemas.models.pharmacy import StockEventKind
from tests.factories import stock_event
from tests.rules.test_replenishment_rules import DRUG, NOW, TODAY, dispense, ledger, run, stockists


def test_every_movement_publishes_the_members_stock_level_in_its_unit() -> None:
    """thc-river counts 100 and dispenses 20, 15, 20: the live level follows each one
    (not only the movement that opened the shortage)."""
    state = stockists()
    levels = []
    for event in (stock_event("thc-river", "COUNT", DRUG.code, 100, at=NOW),
                  dispense("thc-river", 20), dispense("thc-river", 15), dispense("thc-river", 20)):
        outcome, state = run(state, event)
        (level,) = outcome.levels
        assert level.stock_event_id == event.envelope.event_id
        assert level.envelope.correlation_id == event.envelope.event_id
        levels.append(level)
    assert [lv.on_hand for lv in levels] == [100, 80, 65, 45]
    assert [lv.movement for lv in levels] == [StockEventKind.COUNT] + [
        StockEventKind.DISPENSE] * 3
    last = levels[-1]
    assert (last.member_id, last.drug_code, last.unit, last.drug_name) == (
        "thc-river", DRUG.code, "盒", DRUG.name)
    assert (last.avg_daily_use, last.days_of_supply) == (5.5, 8.18)  # 55 over 10 days
    assert last.transfer_id is None and last.transfer_state is None


def test_a_redelivered_movement_gives_the_same_level_id() -> None:
    event = dispense("chc-east", 20)
    first, _ = run(stockists(), event)
    again, _ = run(stockists(), event)
    assert first.levels == again.levels
    assert first.levels[0].envelope.event_id == again.levels[0].envelope.event_id


def test_a_transfer_is_requested_shipped_then_received_by_the_receiver() -> None:
    state = stockists()
    outcome, state = run(state, dispense("chc-east", 50))
    (opened,) = outcome.shortages
    transfer_id = opened.shortage_id
    incoming = state.ledgers["chc-east"].incoming[transfer_id]
    assert (incoming.from_member, incoming.quantity, incoming.state) == (
        "lead", opened.transfer_quantity, TransferState.REQUESTED)

    ship = stock_event("lead", "TRANSFER_OUT", DRUG.code, opened.transfer_quantity, at=NOW,
                       counterpart_member="chc-east")  # no transfer_ref: the pledge decides
    outcome, state = run(state, ship)
    (shipped,) = outcome.levels
    assert (shipped.member_id, shipped.transfer_id, shipped.transfer_state,
            shipped.counterpart_member) == ("lead", transfer_id, TransferState.SHIPPED,
                                            "chc-east")
    assert state.ledgers["chc-east"].incoming[transfer_id].state is TransferState.SHIPPED

    receipt = stock_event("chc-east", "RECEIPT", DRUG.code, opened.transfer_quantity, at=NOW,
                          counterpart_member="lead")
    outcome, state = run(state, receipt)
    (received,) = outcome.levels
    assert (received.member_id, received.transfer_id, received.transfer_state,
            received.counterpart_member) == ("chc-east", transfer_id, TransferState.RECEIVED,
                                             "lead")
    assert state.ledgers["chc-east"].incoming == {}
    assert [s.status for s in outcome.shortages] == [ShortageStatus.CLOSED]


def test_a_receipt_from_the_central_pharmacy_does_not_close_a_transfer() -> None:
    state = stockists()
    outcome, state = run(state, dispense("chc-east", 50))
    (opened,) = outcome.shortages
    outcome, state = run(state, stock_event("chc-east", "RECEIPT", DRUG.code, 10, at=NOW))
    assert outcome.levels[0].transfer_state is None
    assert opened.shortage_id in state.ledgers["chc-east"].incoming


def test_unshipped_requests_and_unreported_shipments_are_forgotten_in_time() -> None:
    book = expect(expect(ledger("chc-east", 100), "asked", "lead", 50, TODAY), "sent", "mch",
                  20, TODAY)
    book = mark_shipped(book, "sent") or book
    later = dispense("chc-east", 1)
    kept, _ = receive(book, later, TODAY + timedelta(days=1))
    assert set(kept.incoming) == {"sent"}  # the request's hold has passed
    kept, _ = receive(book, later, TODAY + timedelta(days=SHIPPED_KEPT_DAYS + 1))
    assert kept.incoming == {}
