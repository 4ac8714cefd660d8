"""The demo's two-way referral (`hub dev`) is a valid closed loop: its events, applied in
order to the referral flow's pure engine (no Kafka), go from the village clinic's request
through a reserved slot, the arrival and the completion to the downward referral's first
follow-up; each step's `after` state was reached before it; and the console tells each
status as the party on whose topic it is reads it, in Chinese with Beijing times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.demo.console import describe
from connectors.demo.referral_loop import (
    BED_POOL,
    LEAD,
    LIU,
    SLOT_POOL,
    VILLAGE,
    referral_ids,
    referral_loop,
)
from hub.rules.referral.capacity import pool_key
from hub.rules.referral.engine import on_pool
from hub.rules.referral.figures import office_figures
from hub.rules.referral.outputs import RESERVE_ALERT
from schemas.codec import AvroCodec
from schemas.models import OperatorAlert
from schemas.models.coordination import TaskStatus
from schemas.models.referral import CapacityPool, ReferralRequest, ReferralStatus, ReferralUpdate
from schemas.reference.messages import DEFAULT_LOCALE
from tests.rules.test_referral_flow import CTX, Hub

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


@dataclass
class Replay:
    hub: Hub = field(default_factory=Hub)
    statuses: list[ReferralStatus] = field(default_factory=list)
    requests: list[ReferralRequest] = field(default_factory=list)
    alerts: list[OperatorAlert] = field(default_factory=list)
    reached: list[tuple[str, str]] = field(default_factory=list)  # (referral, state) in order


def replay(now: datetime = NOW) -> Replay:
    """The demo's referral events through the engine, as one worker would apply them."""
    seen = Replay()
    for step in referral_loop(now):
        assert step.after is None or step.after in seen.reached, (step.label, seen.reached)
        event = step.event
        if isinstance(event, CapacityPool):
            key = pool_key(event.envelope.member_id, event.pool_id)
            out = seen.hub.keep(on_pool(seen.hub.pools.get(key), event, CTX))
        elif isinstance(event, ReferralRequest):
            out = seen.hub.request(event)
        else:
            assert isinstance(event, ReferralUpdate), step
            out = seen.hub.update(event)
        assert not out.repeated, step.label
        seen.statuses += out.statuses
        seen.requests += out.requests
        seen.alerts += out.alerts
        seen.reached += [(s.referral_id, s.business_status) for s in out.statuses]
    return seen


def test_the_demo_referral_closes_its_loop() -> None:
    seen = replay()
    upward_id, downward_id = referral_ids(NOW)
    upward, downward = seen.hub.records[upward_id], seen.hub.records[downward_id]
    assert (upward.referrer, upward.receiver, upward.direction.value) == (VILLAGE, LEAD, "UP")
    assert (upward.task.status, upward.task.business_status) == (TaskStatus.COMPLETED,
                                                                 "completed")
    assert (downward.referrer, downward.receiver, downward.direction.value) == (
        LEAD, VILLAGE, "DOWN")
    assert downward.returns_referral == upward_id
    assert (downward.task.status, downward.task.business_status) == (TaskStatus.COMPLETED,
                                                                     "followed-up")
    states = [state for rid, state in dict.fromkeys(seen.reached) if rid == upward_id]
    assert states == ["requested", "accepted", "booked", "arrived", "completed"]
    # every status went to both parties' topics, and the slot booked is the reserved one
    assert {s.envelope.member_id for s in seen.statuses} == {VILLAGE, LEAD}
    parties = {(s.status_id, s.envelope.member_id) for s in seen.statuses}
    assert len(parties) == len(seen.statuses) == 2 * len({s.status_id for s in seen.statuses})
    pool = seen.hub.pools[pool_key(LEAD, SLOT_POOL)]
    assert (pool.booked, pool.holder(upward_id)) == (1, upward.booking.slot_id
                                                     if upward.booking else None)
    # the bed pool reserves 2 of 40: the office is warned once
    assert [a.kind for a in seen.alerts] == [RESERVE_ALERT]
    assert seen.alerts[0].details["pool_id"] == BED_POOL
    # the receiver's HIS gets the request with the patient in clear
    assert [r.patient.name for r in seen.requests] == [LIU.name, LIU.name]


def test_the_office_counts_one_loop_closed_in_time() -> None:
    seen = replay()
    [month] = office_figures(seen.hub.records.values(), seen.hub.pools.values())
    assert (month.upward_arrived, month.downward_arrived, month.downward_followed_up) == (
        1, 1, 1)
    assert (month.answered, month.answered_in_time, month.closed_loop_rate) == (2, 2, 1.0)
    assert (month.reserved, month.booked) == (6 + 2, 1)


def test_the_console_tells_each_party_its_status_in_chinese() -> None:
    seen = replay()
    upward_id, _ = referral_ids(NOW)
    codec = AvroCodec()
    booked = [s for s in seen.statuses if s.referral_id == upward_id
              and s.business_status == "booked"]
    lines = [describe(f"out.{s.envelope.member_id}", codec.decode(codec.encode(s)))
             for s in booked]
    assert lines[0] is not None and lines[0].startswith(f"[blue]out.{VILLAGE}[/] 转出方收到：")
    assert lines[1] is not None and lines[1].startswith(f"[blue]out.{LEAD}[/] 接收方收到：")
    for line in lines:
        assert f"转诊 {upward_id}（上转，紧急）已预约，lead 操作于 2026-12-07 09:10 +08:00" \
            in (line or "")
        assert "预约号源 CARD-20261207-0930，2026-12-07 09:30 +08:00" in (line or "")
    arrived = next(s for s in seen.statuses if s.business_status == "arrived")
    line = describe("out.vp-hexi", arrived) or ""
    assert "就诊号 MZ20261207-0457" in line and "预约号源" not in line  # told once, when booked
    completed = next(s for s in seen.statuses if s.business_status == "completed")
    assert "下转方案：阿司匹林100mg每日一次" in (describe("out.vp-hexi", completed) or "")
    request = describe("out.lead", seen.requests[0]) or ""
    assert "患者 刘秀英，不稳定型心绞痛（I20.000）" in request
    labels = [DEFAULT_LOCALE.render(step.label) for step in referral_loop(NOW)]
    assert "接收转诊，预约预留号源 2026-12-07 09:30 +08:00" in labels
