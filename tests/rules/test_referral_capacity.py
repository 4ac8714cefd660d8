"""The receiver's reserved places: a slot holds one referral (two referrals, one slot: one
wins, the other is told which slot), a counted pool fills up, a rebooking moves the
referral, a release frees its place, a republication keeps the bookings, and a pool
reserving under 20% is flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.rules.referral.capacity import Pool, book, publish, release
from hub.rules.rejections import Rejection
from schemas.models.referral import Booking
from schemas.reference.messages import DEFAULT_LOCALE
from tests.factories import capacity_pool

T0 = datetime(2026, 12, 8, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
SLOTS = [("CARD-0830", T0), ("CARD-0900", T0 + timedelta(minutes=30))]


def slotted(reserved: int = 2) -> Pool:
    return publish(None, capacity_pool("lead", "card-w50", total=10, reserved=reserved,
                                       slots=SLOTS))


def refusal(pool: Pool | None, booking: Booking, referral: str) -> Rejection:
    with pytest.raises(Rejection) as caught:
        book(pool, "lead", booking, referral)
    return caught.value


def test_two_referrals_one_slot_one_wins_the_other_is_told_the_slot() -> None:
    pool, booking = book(slotted(), "lead", Booking(pool_id="card-w50", slot_id="CARD-0830"),
                         "chc-east:R1")
    assert pool.bookings == {"CARD-0830": "chc-east:R1"} and booking.starts_at == T0
    lost = refusal(pool, Booking(pool_id="card-w50", slot_id="CARD-0830"), "vp-hexi:R2")
    assert lost.code == "SLOT_TAKEN"
    assert lost.reason_in(DEFAULT_LOCALE) == (
        "号源已被占用：心血管内科专家号 的 CARD-0830（2026-12-08 08:30 +08:00）"
        "已预约给另一转诊患者")
    again, _ = book(pool, "lead", Booking(pool_id="card-w50", slot_id="CARD-0830"),
                    "chc-east:R1")
    assert again == pool  # the same booking again: nothing changes


def test_a_rebooking_moves_the_referral_and_a_release_frees_the_slot() -> None:
    pool, _ = book(slotted(), "lead", Booking(pool_id="card-w50", slot_id="CARD-0830"), "a:1")
    moved, booking = book(pool, "lead", Booking(pool_id="card-w50", slot_id="CARD-0900"), "a:1")
    assert moved.bookings == {"CARD-0900": "a:1"} and booking.starts_at == SLOTS[1][1]
    freed = release(moved, "a:1")
    assert freed.bookings == {} and freed.free == 2 and release(freed, "a:1") == freed


def test_a_slotted_pool_needs_a_known_slot_and_a_free_reserved_place() -> None:
    assert refusal(slotted(), Booking(pool_id="card-w50"), "a:1").code == \
        "REFERRAL_SLOT_REQUIRED"
    assert refusal(slotted(), Booking(pool_id="card-w50", slot_id="CARD-1700"), "a:1").code == \
        "REFERRAL_UNKNOWN_SLOT"
    one, _ = book(slotted(reserved=1), "lead", Booking(pool_id="card-w50", slot_id="CARD-0830"),
                  "a:1")
    assert refusal(one, Booking(pool_id="card-w50", slot_id="CARD-0900"), "b:2").code == \
        "RESERVED_PLACES_FULL"
    assert refusal(None, Booking(pool_id="beds"), "a:1").code == "REFERRAL_UNKNOWN_POOL"


def test_a_counted_pool_books_until_its_reserved_places_are_gone() -> None:
    beds = publish(None, capacity_pool("lead", "ward-5", total=40, reserved=2,
                                       resource="BED", resource_name="心内科病房"))
    beds, _ = book(beds, "lead", Booking(pool_id="ward-5"), "a:1")
    beds, _ = book(beds, "lead", Booking(pool_id="ward-5"), "a:1")  # repeated: one place
    beds, _ = book(beds, "lead", Booking(pool_id="ward-5"), "b:2")
    assert beds.counted == ("a:1", "b:2") and beds.fill_rate == 1.0 and beds.free == 0
    full = refusal(beds, Booking(pool_id="ward-5"), "c:3")
    assert full.code == "RESERVED_PLACES_FULL" and "心内科病房" in full.reason
    assert release(beds, "a:1").counted == ("b:2",)


def test_a_republished_pool_keeps_its_bookings_and_reports_its_share() -> None:
    pool, _ = book(slotted(), "lead", Booking(pool_id="card-w50", slot_id="CARD-0830"), "a:1")
    again = publish(pool, capacity_pool("lead", "card-w50", total=15, reserved=3, slots=SLOTS))
    assert again.bookings == {"CARD-0830": "a:1"} and again.reserved == 3
    assert again.fill_rate == pytest.approx(1 / 3) and not again.below_minimum
    assert Pool.from_json(again.to_json()) == again
    low = publish(None, capacity_pool("lead", "ct", total=100, reserved=19))
    assert low.below_minimum and low.reserved_share == 0.19
    assert not publish(None, capacity_pool("lead", "ct", total=100, reserved=20)).below_minimum
