"""The referral board: a member's sent and received referrals by state, its open ones
overdue first (the most escalated first), its pools with their fill, and no identity."""

from __future__ import annotations

from datetime import timedelta

from hub.rules.referral.board import board
from tests.rules.test_referral_flow import CTX, T0, Hub, referral_request, slot, step


def test_a_members_board_puts_the_overdue_first_and_shows_its_pools() -> None:
    hub = Hub()
    hub.publish_pool()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0, priority="URGENT"))
    hub.request(referral_request("chc-east", "lead", "R2", at=T0))
    hub.request(referral_request("vp-hexi", "lead", "R3", at=T0))
    hub.update(step("lead", "chc-east:R2", "ACCEPTED", 5, booking=slot("CARD-0900")))
    hub.update(step("vp-hexi", "vp-hexi:R3", "CANCELLED", 6))
    now = T0 + timedelta(hours=5)
    hub.tick("vp-hexi:R1", now)
    lead = board("lead", hub.records.values(), hub.pools.values(), CTX.config, now)
    assert [(r.referral_id, r.overdue, r.escalation_level) for r in lead.open] == [
        ("vp-hexi:R1", True, 1), ("chc-east:R2", False, 0)]
    assert lead.received == {"requested": 1, "booked": 1, "cancelled": 1} and not lead.sent
    [pool] = lead.pools
    assert (pool.reserved, pool.booked, pool.free, pool.fill_rate) == (2, 1, 1, 0.5)
    hexi = board("vp-hexi", hub.records.values(), hub.pools.values(), CTX.config, now)
    assert hexi.sent == {"requested": 1, "cancelled": 1} and hexi.pools == []
    office = board(None, hub.records.values(), hub.pools.values(), CTX.config, now)
    assert sum(office.sent.values()) == 3 and len(office.open) == 2
    assert "张三" not in repr(office)
