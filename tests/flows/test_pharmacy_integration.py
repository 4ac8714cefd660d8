"""Central pharmacy end to end on the embedded broker: three members, five drugs.

Dispenses drive the east community centre below its amlodipine reorder point: exactly one
shortage, covered by a transfer from the lead hospital, which has surplus. The township
centre runs short of premixed insulin, which nobody has in surplus: one order for the
central pharmacy. The worker restarts; a receipt then closes the
amlodipine shortage (its ledger came back from the changelog), and the lead's transfer is
shipped and received. Every movement applied gives the member's stock level, which the
central pharmacy's view follows. A pack of amoxicillin
dispensed at the lead and again at the township is flagged to operators and to both
members. Impossible movements are refused with a reason.

Events of one drug from different members come on different ingress topics, in no order
between them, so the test waits until the pharmacy has applied (a stock level) or refused
(a dead letter) every event of a phase before publishing the next: it sees them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.member.sdk import MemberPublisher
from connectors.pharmacy.view import PharmacyBoard, catch_up
from hub.brokers import BaseBroker
from schemas.models import (
    DeadLetter,
    Feedback,
    OperatorAlert,
    ReplenishmentOrder,
    Shortage,
    StockEvent,
    StockLevel,
)
from schemas.models.outputs import FeedbackStatus, ShortageSource, ShortageStatus, TransferState
from schemas.topics import (
    ALERTS,
    DEAD_LETTER,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    PHARMACY_STOCK_LEVELS,
    feedback_topic,
)
from tests.conftest import CODEC, Decoded, WorkerProcess, wait_for
from tests.factories import stock_event

pytestmark = pytest.mark.integration

AMLODIPINE = "XC08CAA015A001010101907"   # centre: safety 60, max 400, lead time 3 days
INSULIN_30R = "XA10ADR082B002010104198"  # centre: safety 30, max 150; township lead time 4
AMOXICILLIN = "XJ01CAA040E001010101445"
METFORMIN = "XA10BAE054A001010101603"
OMEPRAZOLE = "XA02BCA211E003010101317"
PACK = "81234560000012345678"

# member -> drug -> opening stock. Amlodipine: the lead keeps its safety stock of 200 and
# has 900 to spare. Insulin: everyone holds no more than they keep for themselves.
OPENING = {
    "lead": {AMLODIPINE: 1100, INSULIN_30R: 100, AMOXICILLIN: 1000, METFORMIN: 1500,
             OMEPRAZOLE: 800},
    "chc-east": {AMLODIPINE: 300, INSULIN_30R: 30, AMOXICILLIN: 300, METFORMIN: 600,
                 OMEPRAZOLE: 200},
    "thc-river": {AMLODIPINE: 150, INSULIN_30R: 40, AMOXICILLIN: 200, METFORMIN: 300,
                  OMEPRAZOLE: 100},
}


def of(events: list[Decoded], kind: type) -> list:  # type: ignore[type-arg]
    """The events of one kind, each event id once (as every consumer reads them)."""
    unique = {e.envelope.event_id: e for _, e in events if isinstance(e, kind)}
    return list(unique.values())


def feedback(events: list[Decoded], status: FeedbackStatus) -> list[Feedback]:
    return [e for e in of(events, Feedback) if e.status is status]


def test_shortage_transfer_order_close_and_duplicate_pack(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
    broker: BaseBroker,
) -> None:
    worker = start_worker(HUB_EMPTY_FETCH_BACKOFF_MS="0")
    now = datetime.now(UTC)

    def handled() -> set[str]:
        levels = read_topic(PHARMACY_STOCK_LEVELS.name, kinds=(StockLevel,))
        letters = read_topic(DEAD_LETTER.name, kinds=(DeadLetter,))
        return ({e.stock_event_id for _, e in levels if isinstance(e, StockLevel)}
                | {e.original_event_id for _, e in letters if isinstance(e, DeadLetter)
                   and e.original_event_id})

    def publish_phase(events: list[StockEvent]) -> None:
        """Publish, then wait until the pharmacy has applied or refused every one."""
        for event in events:
            publisher(event.envelope.member_id).publish(event)
        ids = {e.envelope.event_id for e in events}
        assert wait_for(lambda: ids <= handled(), timeout=60)

    publish_phase([
        stock_event(member, "RECEIPT", drug, quantity, at=now)
        for member, stock in OPENING.items() for drug, quantity in stock.items()
    ])
    publish_phase([
        *(stock_event("chc-east", "DISPENSE", AMLODIPINE, 10, at=now) for _ in range(10)),
        stock_event("thc-river", "DISPENSE", INSULIN_30R, 15, at=now),
        stock_event("lead", "DISPENSE", AMOXICILLIN, 1, at=now, trace_codes=[PACK]),
        stock_event("chc-east", "DISPENSE", METFORMIN, 20, at=now),
        stock_event("lead", "DISPENSE", OMEPRAZOLE, 30, at=now),
        stock_event("chc-east", "DISPENSE", OMEPRAZOLE, 5000, at=now),  # more than on hand
        stock_event("thc-river", "DISPENSE", "X" + "9" * 22, 1, at=now),  # not in formulary
    ])

    shortages = of(read_topic(PHARMACY_SHORTAGES.name, until=lambda ev: len(ev) >= 2), Shortage)
    by_drug = {s.drug_code: s for s in shortages}
    assert len(shortages) == 2 and set(by_drug) == {AMLODIPINE, INSULIN_30R}

    amlodipine = by_drug[AMLODIPINE]
    assert (amlodipine.status, amlodipine.source, amlodipine.member_id) == (
        ShortageStatus.OPEN, ShortageSource.THRESHOLD, "chc-east")
    assert amlodipine.on_hand < amlodipine.reorder_point
    assert amlodipine.suggested_quantity == 400 - amlodipine.on_hand
    assert (amlodipine.transfer_from, amlodipine.transfer_quantity) == (
        "lead", amlodipine.suggested_quantity)
    assert amlodipine.order_quantity == 0
    assert amlodipine.envelope.member_id == "chc-east"

    insulin = by_drug[INSULIN_30R]
    assert (insulin.member_id, insulin.transfer_from) == ("thc-river", None)
    orders = of(read_topic(PHARMACY_ORDERS.name, until=lambda ev: len(ev) >= 1),
                ReplenishmentOrder)
    (order,) = orders
    assert (order.member_id, order.drug_code, order.supply_mode) == (
        "thc-river", INSULIN_30R, "TOP_UP")
    assert order.quantity == insulin.order_quantity == 150 - insulin.on_hand
    assert order.shortage_ids == [insulin.shortage_id]

    lead_out = read_topic(feedback_topic("lead"), until=lambda ev: feedback(
        ev, FeedbackStatus.TRANSFER_REQUESTED))
    (request,) = feedback(lead_out, FeedbackStatus.TRANSFER_REQUESTED)
    assert request.details["shortage_id"] == amlodipine.shortage_id
    assert request.details["to_member"] == "chc-east"
    assert float(request.details["quantity"]) == amlodipine.transfer_quantity

    letters = of(read_topic(DEAD_LETTER.name, until=lambda ev: len(ev) >= 2), DeadLetter)
    assert sorted((d.reason_code, d.agent) for d in letters) == [
        ("NEGATIVE_BALANCE", "pharmacy"), ("UNKNOWN_DRUG", "pharmacy")]
    east_out = read_topic(feedback_topic("chc-east"),
                          until=lambda ev: feedback(ev, FeedbackStatus.REJECTED))
    (refused,) = feedback(east_out, FeedbackStatus.REJECTED)
    assert refused.reason_code == "NEGATIVE_BALANCE" and "5000" in (refused.reason or "")

    # the ledgers (with the open shortage) come back from their changelog
    worker.restart()
    publish_phase([
        stock_event("lead", "TRANSFER_OUT", AMLODIPINE, amlodipine.transfer_quantity, at=now,
                    counterpart_member="chc-east", transfer_ref=amlodipine.shortage_id),
        stock_event("chc-east", "RECEIPT", AMLODIPINE, 200, at=now),
        stock_event("thc-river", "DISPENSE", AMOXICILLIN, 1, at=now, trace_codes=[PACK]),
    ])
    publish_phase([stock_event("chc-east", "TRANSFER_IN", AMLODIPINE,
                               amlodipine.transfer_quantity, at=now, counterpart_member="lead")])
    shortages = of(read_topic(PHARMACY_SHORTAGES.name, until=lambda ev: len(ev) >= 3), Shortage)
    closed = [s for s in shortages if s.status is ShortageStatus.CLOSED]
    assert [(s.shortage_id, s.member_id) for s in closed] == [
        (amlodipine.shortage_id, "chc-east")]
    assert closed[0].on_hand >= closed[0].reorder_point
    assert len(shortages) == 3  # no other shortage was raised, none twice

    alerts = of(read_topic(ALERTS.name, until=lambda ev: len(ev) >= 1), OperatorAlert)
    (alert,) = [a for a in alerts if a.kind == "TRACE_DUPLICATE"]
    assert alert.member_ids == ["lead", "thc-river"] and alert.details["trace_code"] == PACK
    for member in ("lead", "thc-river"):
        out = read_topic(feedback_topic(member),
                         until=lambda ev: feedback(ev, FeedbackStatus.TRACE_DUPLICATE))
        (flag,) = feedback(out, FeedbackStatus.TRACE_DUPLICATE)
        assert flag.details["trace_code"] == PACK
    assert worker.running()

    # one stock level per movement applied: 15 receipts, 14 movements (2 refused), 4 more
    levels = of(read_topic(PHARMACY_STOCK_LEVELS.name, until=lambda ev: len(of(
        ev, StockLevel)) >= 33), StockLevel)
    assert len(levels) == 33 == len({lv.stock_event_id for lv in levels})
    moves = {(lv.member_id, lv.transfer_id, lv.transfer_state) for lv in levels
             if lv.transfer_id is not None}  # two keys: read in no particular order
    assert moves == {("lead", amlodipine.shortage_id, TransferState.SHIPPED),
                     ("chc-east", amlodipine.shortage_id, TransferState.RECEIVED)}
    east = [lv for lv in levels if (lv.member_id, lv.drug_code) == ("chc-east", AMLODIPINE)]
    assert [lv.on_hand for lv in east] == [
        300 - 10 * n for n in range(11)] + [400, 400 + amlodipine.transfer_quantity]
    assert {lv.unit for lv in east} == {"盒"}

    board = PharmacyBoard()  # the central pharmacy's view, as it runs
    catch_up(broker.bootstrap, board, CODEC)
    assert board.levels[("chc-east", AMLODIPINE)].on_hand == 400 + amlodipine.transfer_quantity
    assert board.transfers[amlodipine.shortage_id].state is TransferState.RECEIVED
    assert [s.drug_code for s in board.open_shortages()] == [INSULIN_30R]
