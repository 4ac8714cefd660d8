"""The pharmacy rules on their own: arithmetic, the ledger, thresholds, transfers, orders,
trace codes. No broker; `now` is fixed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.rules.pharmacy import arithmetic
from hub.rules.pharmacy.dispatch import (
    Donor,
    choose_donor,
    donor_surplus,
    place_order,
    plan_dispatch,
)
from hub.rules.pharmacy.engine import (
    DrugState,
    PharmacyPolicy,
    on_registration,
    on_stock_event,
    resolve_drug,
)
from hub.rules.pharmacy.ledger import (
    APPLIED_IDS_KEPT,
    MemberLedger,
    OpenShortage,
    apply_stock_event,
    pledge,
)
from hub.rules.pharmacy.trace import (
    days_to_read,
    find_duplicates,
    record_codes,
    unseen_codes,
    update_day_index,
)
from hub.rules.rejections import Rejection
from schemas.models import ShortageRegistration
from schemas.models.outputs import FeedbackStatus, ShortageSource, ShortageStatus
from schemas.reference.formulary import Drug, StockParams, SupplyMode, load_formulary
from tests.factories import stock_event

NOW = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)  # 10:00 in the county
TODAY = date(2025, 3, 12)
DRUG = Drug(code="XC08CAA015A001010101907", name="苯磺酸氨氯地平片", specification="5mg×28片",
            dosage_form="片剂", unit="盒", essential=True)
POLICY = PharmacyPolicy(window_days=30, transfer_hold_days=3, utc_offset_hours=8)


def params(safety: float = 60, maximum: float = 400, minimum: float = 50, lead: float = 3,
           cycle: int = 7, mode: SupplyMode = SupplyMode.TOP_UP) -> StockParams:
    return StockParams(order_cycle_days=cycle, lead_time_days=lead, safety_stock=safety,
                       max_stock=maximum, min_purchase=minimum, supply_mode=mode)


def ledger(member: str, on_hand: float, per_day: float = 0.0, days: int = 9,
           **fields: Any) -> MemberLedger:
    """A ledger `days` days old that dispensed `per_day` on each past day."""
    history = {TODAY - timedelta(days=n): per_day for n in range(1, days + 1) if per_day}
    return MemberLedger(member_id=member, drug_code=DRUG.code, on_hand=on_hand,
                        first_day=TODAY - timedelta(days=days), daily_use=history, **fields)


def dispense(member: str, quantity: float, **kw: Any) -> Any:
    return stock_event(member, "DISPENSE", DRUG.code, quantity, at=NOW, **kw)


# --- arithmetic ---------------------------------------------------------------------------

def test_no_history_uses_nothing_and_reorders_at_safety_stock() -> None:
    position = MemberLedger(member_id="m", drug_code=DRUG.code).position(params(), TODAY, 30)
    assert position.avg_daily_use == 0
    assert position.days_of_supply is None
    assert position.reorder_point == 60
    assert position.suggested_quantity == 400


def test_zero_use_with_history_has_unlimited_days_of_supply() -> None:
    position = ledger("m", 100).position(params(), TODAY, 30)
    assert position.avg_daily_use == 0
    assert (position.days_of_supply, position.reorder_point) == (None, 60)


def test_average_daily_use_counts_only_days_observed_within_the_window() -> None:
    three_days = {TODAY - timedelta(days=2): 30.0}
    assert arithmetic.average_daily_use(three_days, TODAY - timedelta(days=2), TODAY, 30) == 10
    old = {TODAY - timedelta(days=40): 500.0, TODAY - timedelta(days=1): 60.0}
    assert arithmetic.average_daily_use(old, TODAY - timedelta(days=100), TODAY, 30) == 2


def test_days_of_supply_and_reorder_point() -> None:
    position = ledger("m", 99, per_day=10, days=9).position(params(lead=3, safety=60), TODAY, 30)
    assert position.avg_daily_use == 9  # 90 used over 10 days observed
    assert position.days_of_supply == 11
    assert position.reorder_point == 9 * 3 + 60
    assert not position.below_reorder_point


@pytest.mark.parametrize(("on_hand", "expected"), [(90, 310), (380, 50), (400, 0), (450, 0),
                                                    (399.9999999999, 0)])
def test_top_up_orders_to_maximum_at_least_minimum_purchase(on_hand: float,
                                                           expected: float) -> None:
    assert arithmetic.top_up_quantity(params(maximum=400, minimum=50), on_hand) == expected


def test_requisition_orders_one_cycle_of_use_within_maximum() -> None:
    p = params(safety=10, maximum=60, minimum=10, lead=4, cycle=14, mode=SupplyMode.REQUISITION)
    assert arithmetic.order_quantity(p, on_hand=5, avg_daily_use=2) == 28  # 14 days x 2
    assert arithmetic.order_quantity(p, on_hand=5, avg_daily_use=5) == 55  # capped at max
    assert arithmetic.order_quantity(p, on_hand=8, avg_daily_use=0) == 10  # min purchase
    assert arithmetic.order_quantity(p, on_hand=60, avg_daily_use=0) == 0


def test_cycles_and_local_days() -> None:
    assert arithmetic.cycle_start(date(2025, 3, 12), 7) == date(2025, 3, 10)  # a Monday
    assert arithmetic.cycle_start(date(2025, 3, 16), 7) == date(2025, 3, 10)
    assert arithmetic.cycle_start(date(2025, 3, 17), 7) == date(2025, 3, 17)
    assert arithmetic.local_day(datetime(2025, 3, 11, 17, 0, tzinfo=UTC), 8) == TODAY


# --- the ledger ---------------------------------------------------------------------------

def apply(book: MemberLedger, kind: str, quantity: float, **kw: Any) -> MemberLedger:
    event = stock_event(book.member_id, kind, DRUG.code, quantity, at=NOW, **kw)
    return apply_stock_event(book, event, TODAY, TODAY, 30).ledger


def test_movements_and_a_count_that_resets_the_balance() -> None:
    book = MemberLedger(member_id="m", drug_code=DRUG.code)
    book = apply(book, "RECEIPT", 100)
    book = apply(book, "DISPENSE", 30)
    book = apply(book, "TRANSFER_IN", 10)
    book = apply(book, "TRANSFER_OUT", 5)
    book = apply(book, "ADJUSTMENT", -3, reason="破损")
    assert book.on_hand == 72
    book = apply(book, "COUNT", 50)
    assert book.on_hand == 50
    assert book.daily_use == {TODAY: 30}  # only dispensing is consumption
    assert book.first_day == TODAY
    assert MemberLedger.from_json(book.to_json()) == book


@pytest.mark.parametrize(("kind", "quantity", "extra", "code"), [
    ("DISPENSE", 11, {}, "NEGATIVE_BALANCE"),
    ("ADJUSTMENT", -11, {"reason": "过期"}, "NEGATIVE_BALANCE"),
    ("ADJUSTMENT", 5, {}, "INVALID_EVENT"),
    ("RECEIPT", 0, {}, "INVALID_EVENT"),
    ("COUNT", -1, {}, "INVALID_EVENT"),
    ("DISPENSE", float("nan"), {}, "INVALID_EVENT"),
])
def test_refused_movements_say_why(kind: str, quantity: float, extra: dict[str, Any],
                                   code: str) -> None:
    with pytest.raises(Rejection) as refused:
        apply(ledger("m", 10), kind, quantity, **extra)
    assert refused.value.code == code


def test_old_use_is_forgotten_and_applied_ids_are_bounded() -> None:
    book = ledger("m", 10_000, per_day=5, days=60)
    for _ in range(APPLIED_IDS_KEPT + 5):
        book = apply(book, "DISPENSE", 1)
    assert min(book.daily_use) == TODAY - timedelta(days=29)
    assert len(book.applied) == APPLIED_IDS_KEPT


def test_a_transfer_out_settles_its_pledge() -> None:
    donor = pledge(ledger("lead", 1000), "s-1", "chc-east", 300, TODAY, 3)
    assert donor.pledged(TODAY) == 300
    assert donor.pledged(TODAY + timedelta(days=4)) == 0  # the hold expires
    settled = apply(donor, "TRANSFER_OUT", 300, counterpart_member="chc-east", transfer_ref="s-1")
    assert settled.pledges == {} and settled.on_hand == 700


# --- transfers and orders -----------------------------------------------------------------

def test_donor_keeps_reorder_point_and_a_cycle_of_use() -> None:
    lead = ledger("lead", 1000, per_day=20, days=9)  # avg 18: keeps 36 + 200 + 126
    assert donor_surplus(lead, params(safety=200, maximum=1200, lead=2), TODAY, 30) == 638
    pledged = pledge(lead, "s-0", "x", 600, TODAY, 3)
    assert donor_surplus(pledged, params(safety=200, maximum=1200, lead=2), TODAY, 30) == 38
    short = lead.model_copy(update={"open_shortage": _open_shortage()})
    assert donor_surplus(short, params(safety=200, maximum=1200, lead=2), TODAY, 30) == 0


def _open_shortage() -> OpenShortage:
    return OpenShortage(shortage_id="s", source=ShortageSource.THRESHOLD, opened_on=TODAY,
                        quantity_short=10)


def test_best_donor_has_most_surplus_ties_by_member_id() -> None:
    assert choose_donor([Donor("b", 50), Donor("a", 80), Donor("c", 80)]) == Donor("a", 80)
    assert choose_donor([Donor("a", 0.0), Donor("b", 0.5)]) is None
    assert choose_donor([]) is None


def test_plan_transfers_first_and_orders_the_rest() -> None:
    p = params(minimum=50)
    assert plan_dispatch(310, Donor("lead", 638), p) == plan_dispatch(310, Donor("lead", 310), p)
    full = plan_dispatch(310, Donor("lead", 638), p)
    assert (full.donor, full.transfer_quantity, full.order_quantity) == ("lead", 310, 0)
    part = plan_dispatch(310, Donor("lead", 290), p)
    assert (part.transfer_quantity, part.order_quantity) == (290, 50)  # at least min purchase
    none = plan_dispatch(310, None, p)
    assert (none.donor, none.transfer_quantity, none.order_quantity) == (None, 0, 310)


def test_top_up_orders_per_shortage_requisitions_per_cycle() -> None:
    top_up = place_order(ledger("m", 0), params(), "s-1", 100, TODAY)
    assert top_up.order_id == place_order(ledger("m", 0), params(), "s-1", 100, TODAY).order_id
    assert top_up.order_id != place_order(ledger("m", 0), params(), "s-2", 100, TODAY).order_id
    req = params(cycle=14, mode=SupplyMode.REQUISITION)
    first = place_order(ledger("m", 0), req, "s-1", 20, TODAY)
    book = ledger("m", 0, requisition=first.requisition)
    second = place_order(book, req, "s-2", 15, TODAY + timedelta(days=2))
    assert second.order_id == first.order_id
    assert (second.quantity, second.shortage_ids) == (35, ["s-1", "s-2"])
    again = place_order(ledger("m", 0, requisition=second.requisition), req, "s-2", 15, TODAY)
    assert again.quantity == 35  # the same shortage is not counted twice
    later = place_order(book, req, "s-3", 10, second.cycle_start + timedelta(days=14))
    assert later.order_id != first.order_id and later.quantity == 10


# --- the whole step: thresholds, dispatch, closing ----------------------------------------

def stockists() -> DrugState:
    return DrugState(
        drug=DRUG,
        params={"chc-east": params(), "lead": params(safety=200, maximum=1200, lead=2),
                "thc-river": params(lead=4)},
        ledgers={"chc-east": ledger("chc-east", 130, per_day=10, days=9),
                 "lead": ledger("lead", 1000, per_day=20, days=9),
                 "thc-river": ledger("thc-river", 150)},
    )


def run(state: DrugState, event: Any) -> Any:
    outcome = on_stock_event(event, state, POLICY, NOW)
    ledgers = {**state.ledgers, **outcome.ledgers}
    return outcome, DrugState(state.drug, state.params, ledgers)


def test_the_dispense_crossing_the_reorder_point_opens_one_shortage_and_a_transfer() -> None:
    state = stockists()
    outcome, state = run(state, dispense("chc-east", 20))  # 110 >= 11 x 3 + 60
    assert outcome.shortages == []
    outcome, state = run(state, dispense("chc-east", 20))  # 90 < 13 x 3 + 60
    (opened,) = outcome.shortages
    assert (opened.status, opened.source, opened.member_id) == (
        ShortageStatus.OPEN, ShortageSource.THRESHOLD, "chc-east")
    assert (opened.on_hand, opened.avg_daily_use, opened.reorder_point) == (90, 13, 99)
    assert opened.days_of_supply == pytest.approx(6.92)
    assert (opened.suggested_quantity, opened.transfer_from, opened.transfer_quantity,
            opened.order_quantity) == (310, "lead", 310, 0)
    assert outcome.orders == []
    (request,) = outcome.feedback
    assert request.envelope.member_id == "lead"
    assert request.status is FeedbackStatus.TRANSFER_REQUESTED
    assert request.details["quantity"] == "310" and request.details["to_member"] == "chc-east"
    assert state.ledgers["lead"].pledged(TODAY) == 310
    outcome, state = run(state, dispense("chc-east", 5))
    assert outcome.shortages == []  # only once while it stays open
    transfer_in = stock_event("chc-east", "TRANSFER_IN", DRUG.code, 310, at=NOW,
                              counterpart_member="lead", transfer_ref=opened.shortage_id)
    outcome, state = run(state, transfer_in)
    (closed,) = outcome.shortages
    assert (closed.status, closed.shortage_id) == (ShortageStatus.CLOSED, opened.shortage_id)
    assert state.ledgers["chc-east"].open_shortage is None


def test_a_redelivered_event_changes_nothing() -> None:
    state = stockists()
    event = dispense("chc-east", 50)
    first, state = run(state, event)
    again, _ = run(state, event)
    assert len(first.shortages) == 1
    assert again.already_applied and again.shortages == [] and again.ledgers == {}


def test_a_crash_that_stored_only_the_donors_pledge_gets_the_same_plan_again() -> None:
    """A redelivery after the donor's ledger was written but not the short member's must
    dispatch the same transfer (its own pledge does not count against the donor), and the
    short member's ledger, which marks the event applied, is written last."""
    state = stockists()
    event = dispense("chc-east", 50)
    first, _ = run(state, event)
    (opened,) = first.shortages
    assert opened.transfer_from == "lead"
    assert [m for m, _ in first.ledger_writes("chc-east")] == ["lead", "chc-east"]
    half_stored = DrugState(DRUG, state.params, {**state.ledgers, "lead": first.ledgers["lead"]})
    again, _ = run(half_stored, event)
    assert again.shortages == first.shortages and again.feedback == first.feedback
    assert again.ledgers == first.ledgers


def test_a_pledge_to_the_same_shortage_counts_as_free() -> None:
    lead = pledge(ledger("lead", 1000, per_day=20, days=9), "s-0", "x", 600, TODAY, 3)
    assert donor_surplus(lead, params(safety=200, maximum=1200, lead=2), TODAY, 30,
                         for_shortage="s-0") == 638
    assert lead.pledged(TODAY, excluding="s-9") == 600


def test_without_surplus_anywhere_the_shortage_becomes_an_order() -> None:
    state = stockists()
    state = DrugState(DRUG, state.params, {**state.ledgers,
                                           "lead": ledger("lead", 300, per_day=20, days=9),
                                           "thc-river": ledger("thc-river", 40)})
    outcome, _ = run(state, dispense("chc-east", 50))
    (opened,) = outcome.shortages
    (order,) = outcome.orders
    assert opened.transfer_from is None and opened.order_quantity == 320
    assert (order.member_id, order.quantity, order.unit, order.supply_mode) == (
        "chc-east", 320, "盒", "TOP_UP")
    assert order.shortage_ids == [opened.shortage_id]
    assert order.envelope.correlation_id == outcome.shortages[0].envelope.correlation_id


def test_registered_shortage_is_dispatched_and_closes_when_received() -> None:
    state = stockists()
    registration = ShortageRegistration(
        envelope=ShortageRegistration.new_envelope("thc-river", occurred_at=NOW),
        drug_code=DRUG.code, quantity_short=80, reason="配送延迟",
        expected_recovery=TODAY + timedelta(days=5),
    )
    outcome = on_registration(registration, state, POLICY, NOW)
    (opened,) = outcome.shortages
    assert (opened.source, opened.suggested_quantity, opened.transfer_from,
            opened.transfer_quantity, opened.reason) == (
        ShortageSource.REGISTERED, 80, "lead", 80, "配送延迟")
    state = DrugState(DRUG, state.params, {**state.ledgers, **outcome.ledgers})
    again = on_registration(registration.model_copy(update={"envelope": registration.envelope
                            .model_copy(update={"event_id": "other"})}), state, POLICY, NOW)
    assert again.shortages == [] and again.feedback[0].reason_code == "SHORTAGE_ALREADY_OPEN"
    half, state = run(state, stock_event("thc-river", "RECEIPT", DRUG.code, 40, at=NOW))
    assert half.shortages == []
    rest, state = run(state, stock_event("thc-river", "TRANSFER_IN", DRUG.code, 40, at=NOW))
    assert rest.shortages[0].status is ShortageStatus.CLOSED


def test_unknown_and_unstocked_drugs_are_refused() -> None:
    formulary = load_formulary()
    with pytest.raises(Rejection) as unknown:
        resolve_drug(formulary, "lead", "X" + "9" * 22)
    assert unknown.value.code == "UNKNOWN_DRUG"
    with pytest.raises(Rejection) as unstocked:
        resolve_drug(formulary, "vp-hexi", "XA10AEG011B002010101832")
    assert unstocked.value.code == "NOT_STOCKED"
    assert resolve_drug(formulary, "lead", DRUG.code).name == DRUG.name


# --- trace codes --------------------------------------------------------------------------

PACK = "81234560000000000017"


def test_a_pack_dispensed_twice_is_found_across_members() -> None:
    bucket = record_codes(None, [PACK, "81234560000000000024"], "lead", "e-1")
    (dup,) = find_duplicates([PACK, "81234560000000000031"], "chc-east", "e-2", [{}, bucket])
    assert (dup.first.member_id, dup.again.member_id, dup.product_prefix) == (
        "lead", "chc-east", "8123456")
    assert dup.member_ids == ["chc-east", "lead"]
    assert find_duplicates([PACK], "lead", "e-1", [bucket]) == []  # a redelivery
    (twice,) = find_duplicates([PACK, PACK], "lead", "e-3", [])
    assert twice.first == twice.again
    assert unseen_codes([PACK, "81234560000000000031", PACK], [bucket]) == [
        "81234560000000000031"]
    assert record_codes(bucket, [PACK], "chc-east", "e-2")[PACK] == ["lead", "e-1"]


def test_trace_buckets_are_retained_for_a_bounded_time() -> None:
    def day(n: int) -> str:
        return (TODAY - timedelta(days=n)).isoformat()

    # only the retained days that have a bucket are read, newest first
    assert days_to_read([day(5), day(2), day(0)], TODAY, 3) == [TODAY, TODAY - timedelta(2)]
    assert days_to_read(None, TODAY, 3) == []
    first = update_day_index(None, TODAY, 3, recorded_today=True)
    assert (first.bucket_days, first.expired, first.changed) == ([day(0)], [], True)
    same = update_day_index([day(0)], TODAY, 3, recorded_today=True)
    assert not same.changed and same.expired == []
    aged = update_day_index([day(4), day(3), day(1)], TODAY, 3, recorded_today=False)
    assert aged.bucket_days == [day(1)] and aged.changed
    assert aged.expired == [TODAY - timedelta(days=4), TODAY - timedelta(days=3)]
    assert not update_day_index([day(1)], TODAY, 3, recorded_today=False).changed


def test_duplicate_pack_flags_operators_and_both_members() -> None:
    state = stockists()
    bucket = record_codes(None, [PACK], "lead", "e-lead")
    event = dispense("chc-east", 1, trace_codes=[PACK])
    outcome = on_stock_event(event, state, POLICY, NOW, [bucket])
    (alert,) = outcome.alerts
    assert alert.kind == "TRACE_DUPLICATE" and alert.member_ids == ["chc-east", "lead"]
    assert {(f.envelope.member_id, f.in_reply_to) for f in outcome.feedback} == {
        ("chc-east", event.envelope.event_id), ("lead", "e-lead")}
    assert all(f.status is FeedbackStatus.TRACE_DUPLICATE for f in outcome.feedback)
    assert outcome.trace_codes == []
    assert outcome.ledgers["chc-east"].on_hand == 129  # the pack did leave the shelf
    assert outcome.feedback[0].reason == f"苯磺酸氨氯地平片的药品追溯码 {PACK} 被重复发药"
    with pytest.raises(Rejection, match="追溯码必须是 20 位数字：8123"):
        on_stock_event(dispense("chc-east", 1, trace_codes=["8123"]), state, POLICY, NOW)
