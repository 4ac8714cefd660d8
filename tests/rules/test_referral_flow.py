"""The referral flow on the coordination machine, without Kafka: a referral opened at its
receiver, steps by the right party only, an acceptance booking a reserved slot (two
referrals, one slot: one wins), referral onward, escalation of a stalled referral to the
parties then the office, the no-show expiry, and outputs that repeat byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from hub.rules.coordination import shipped_flow
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.referral.capacity import Pool
from hub.rules.referral.engine import (
    Context,
    Outcome,
    on_pool,
    on_request,
    on_tick,
    on_update,
    past_retention,
)
from hub.rules.referral.record import ReferralRecord, closed_since
from hub.rules.rejections import Rejection
from schemas.codec import AvroCodec
from schemas.models.coordination import TaskStatus
from schemas.models.referral import Booking, ReferralRequest, ReferralUpdate
from schemas.reference.registry import load_registry
from tests.factories import capacity_pool, patient, referral_request, referral_update

SEALER = Sealer(Fernet.generate_key())
CTX = Context(shipped_flow("referral"), load_registry(), SEALER.open_patient)
CODEC = AvroCodec()
T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SLOT_AT = T0 + timedelta(days=1)
ZHANG = patient("110101199003074518", name="张伟")


def sealed(request: ReferralRequest) -> ReferralRequest:
    return request.model_copy(update={"patient": pseudonymous(
        request.patient, b"secret", SEALER, issuer=request.envelope.member_id)})


class Hub:
    """One receiver's partition: its referrals and pools, as the agent keeps them."""

    def __init__(self) -> None:
        self.records: dict[str, ReferralRecord] = {}
        self.pools: dict[str, Pool] = {}

    def keep(self, out: Outcome) -> Outcome:
        for pool in out.pools:
            self.pools[pool.key] = Pool.from_json(json.loads(json.dumps(pool.to_json())))
        if out.record is not None:
            stored = json.loads(json.dumps(out.record.to_json()))
            self.records[out.record.referral_id] = ReferralRecord.from_json(stored)
        return out

    def request(self, request: ReferralRequest) -> Outcome:
        rid = f"{request.envelope.member_id}:{request.referral_ref}"
        return self.keep(on_request(self.records.get(rid), sealed(request), CTX,
                                    self.records.get))

    def update(self, update: ReferralUpdate) -> Outcome:
        return self.keep(on_update(self.records.get(update.referral_id), update, CTX,
                                   self.pools.get))

    def refused(self, update: ReferralUpdate) -> Rejection:
        with pytest.raises(Rejection) as caught:
            self.update(update)
        return caught.value

    def tick(self, rid: str, now: datetime) -> Outcome:
        return self.keep(on_tick(self.records[rid], now, CTX, self.pools.get))

    def publish_pool(self, reserved: int = 2, total: int = 10) -> Outcome:
        return self.keep(on_pool(self.pools.get("lead|card-w50"), capacity_pool(
            "lead", "card-w50", total=total, reserved=reserved, at=T0,
            slots=[("CARD-0900", SLOT_AT), ("CARD-0930", SLOT_AT + timedelta(minutes=30))]),
            CTX))


def step(member: str, rid: str, action: str, minutes: int, **fields: object) -> ReferralUpdate:
    return referral_update(member, rid, "lead", action, at=T0 + timedelta(minutes=minutes),
                           **fields)


def slot(slot_id: str) -> Booking:
    return Booking(pool_id="card-w50", slot_id=slot_id)


def test_an_upward_referral_reaches_both_parties_with_the_patient_only_there() -> None:
    hub = Hub()
    out = hub.request(referral_request("vp-hexi", "lead", "R1", at=T0, patient=ZHANG,
                                       priority="URGENT"))
    assert [s.envelope.member_id for s in out.statuses] == ["vp-hexi", "lead"]
    opened = out.statuses[0]
    assert (opened.referral_id, opened.status, opened.business_status, opened.action) == (
        "vp-hexi:R1", TaskStatus.REQUESTED, "requested", None)
    assert opened.due_at == T0 + timedelta(hours=2)  # an urgent one is answered in 2 h
    assert opened.patient.name == "张伟" and opened.patient.id_number == ZHANG.id_number
    assert opened.reason == "转诊申请已送达安县人民医院"
    [to_receiver] = out.requests
    assert to_receiver.to_member == "lead" and to_receiver.patient.name == "张伟"
    stored = json.dumps(hub.records["vp-hexi:R1"].to_json(), ensure_ascii=False)
    assert "张伟" not in stored and "110101199003074518" not in stored


def test_an_acceptance_books_a_slot_and_two_referrals_race_for_one() -> None:
    hub = Hub()
    assert not hub.publish_pool().alerts  # 2 of 10 reserved: 20%
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0))
    hub.request(referral_request("chc-east", "lead", "R2", at=T0))
    won = hub.update(step("lead", "vp-hexi:R1", "ACCEPTED", 10, booking=slot("CARD-0900")))
    assert [(s.action, s.business_status) for s in won.statuses[::2]] == [
        ("ACCEPTED", "accepted"), ("BOOKED", "booked")]
    assert won.statuses[-1].booking == Booking(pool_id="card-w50", slot_id="CARD-0900",
                                               starts_at=SLOT_AT)
    assert won.statuses[-1].due_at == SLOT_AT + timedelta(days=1)
    assert won.answered_in_time is True
    lost = hub.refused(step("lead", "chc-east:R2", "ACCEPTED", 11, booking=slot("CARD-0900")))
    assert lost.code == "SLOT_TAKEN" and "CARD-0900" in lost.reason
    assert hub.records["chc-east:R2"].task.business_status == "requested"  # stays put
    assert hub.pools["lead|card-w50"].bookings == {"CARD-0900": "vp-hexi:R1"}
    hub.update(step("lead", "chc-east:R2", "ACCEPTED", 12, booking=slot("CARD-0930")))
    assert hub.pools["lead|card-w50"].fill_rate == 1.0
    hub.update(step("chc-east", "chc-east:R2", "CANCELLED", 20))
    assert hub.pools["lead|card-w50"].bookings == {"CARD-0900": "vp-hexi:R1"}
    rebooked = hub.update(step("lead", "vp-hexi:R1", "REBOOKED", 30, booking=slot("CARD-0930")))
    assert rebooked.statuses[0].booking is not None
    assert hub.pools["lead|card-w50"].bookings == {"CARD-0930": "vp-hexi:R1"}


def test_only_the_right_party_takes_a_step() -> None:
    hub = Hub()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0))
    assert hub.refused(step("chc-east", "vp-hexi:R1", "ACCEPTED", 5)).code == "NOT_A_PARTY"
    assert hub.refused(step("vp-hexi", "vp-hexi:R1", "ACCEPTED", 5)).code == "ROLE_NOT_ALLOWED"
    assert hub.refused(step("lead", "vp-hexi:R1", "CANCELLED", 5)).code == "ROLE_NOT_ALLOWED"
    assert hub.refused(step("lead", "vp-hexi:R1", "BOOKED", 5)).code in {
        "STEP_NOT_ALLOWED", "REFERRAL_BOOKING_REQUIRED"}
    hub.update(step("vp-hexi", "vp-hexi:R1", "CANCELLED", 6))
    closed = hub.refused(step("lead", "vp-hexi:R1", "ACCEPTED", 7))
    assert closed.code == "TASK_CLOSED" and closed.reason
    assert hub.records["vp-hexi:R1"].closed_at == T0 + timedelta(minutes=6)


def test_a_redelivered_step_repeats_its_outputs_byte_for_byte() -> None:
    hub = Hub()
    hub.publish_pool()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0, patient=ZHANG))
    before = hub.records["vp-hexi:R1"]
    accept = step("lead", "vp-hexi:R1", "ACCEPTED", 10, booking=slot("CARD-0900"))
    first = on_update(before, accept, CTX, hub.pools.get)
    again = on_update(before, accept, CTX, hub.pools.get)  # a crash before the state write
    assert [CODEC.encode(s) for s in first.statuses] == [CODEC.encode(s) for s in again.statuses]
    assert len({s.status_id for s in first.statuses}) == 2  # two steps, two per party
    hub.keep(first)
    assert hub.update(accept).repeated  # after the write: nothing again


def test_a_referral_onward_is_opened_for_the_original_referrer() -> None:
    hub = Hub()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0))
    onward_step = step("lead", "vp-hexi:R1", "REFERRED_ONWARD", 15, onward_to="city-tcm")
    out = hub.update(onward_step)
    assert out.statuses[0].onward_referral_id == "vp-hexi:R1/onward-1"
    assert out.statuses[0].business_status == "referred-onward"
    [onward] = out.onward
    assert (onward.envelope.member_id, onward.to_member, onward.onward_of, onward.referral_ref) \
        == ("vp-hexi", "city-tcm", "vp-hexi:R1", "R1/onward-1")
    assert onward.patient.sealed and onward.patient.name is None  # pseudonymous in the hub
    assert onward.direction.value == "UP"
    assert hub.update(onward_step).repeated  # redelivered: no second referral onward
    other = Hub()
    other.request(referral_request("vp-hexi", "lead", "R2", at=T0))
    assert other.refused(step("lead", "vp-hexi:R2", "REFERRED_ONWARD", 15,
                              onward_to="vp-hexi")).code == "REFERRAL_TO_SELF"


def test_a_stalled_urgent_referral_escalates_to_the_parties_then_the_office() -> None:
    hub = Hub()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0, priority="URGENT",
                                 patient=ZHANG))
    assert hub.tick("vp-hexi:R1", T0 + timedelta(hours=1, minutes=59)).record is None
    first = hub.tick("vp-hexi:R1", T0 + timedelta(hours=2))
    assert first.escalation_level == 1 and not first.alerts
    assert [(s.escalation_level, s.action, s.envelope.member_id) for s in first.statuses] == [
        (1, None, "vp-hexi"), (1, None, "lead")]
    assert first.statuses[0].reason == (
        "转诊单 vp-hexi:R1 处于「待接收」状态，应于 2026-12-07 11:00 +08:00 前处理，"
        "已逾期（第 1 级督办）")
    assert hub.tick("vp-hexi:R1", T0 + timedelta(hours=3)).record is None
    second = hub.tick("vp-hexi:R1", T0 + timedelta(hours=4))
    [alert] = second.alerts
    assert (alert.kind, alert.member_ids, second.escalation_level) == (
        "referral-overdue", ["vp-hexi", "lead"], 2)
    assert "张伟" not in alert.model_dump_json() and ZHANG.id_number not in str(alert)
    assert second.statuses[0].at == T0 + timedelta(hours=4)
    late = hub.update(step("lead", "vp-hexi:R1", "ACCEPTED", 250))
    assert late.answered_in_time is False


def test_a_no_show_expires_a_week_later_and_frees_the_slot() -> None:
    hub = Hub()
    hub.publish_pool()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0))
    hub.update(step("lead", "vp-hexi:R1", "ACCEPTED", 10, booking=slot("CARD-0900")))
    hub.update(step("lead", "vp-hexi:R1", "NO_SHOW", 60 * 26))
    assert hub.pools["lead|card-w50"].bookings == {}
    no_show_at = T0 + timedelta(minutes=60 * 26)
    assert hub.tick("vp-hexi:R1", no_show_at + timedelta(days=6)).statuses == []
    out = hub.tick("vp-hexi:R1", no_show_at + timedelta(days=7))
    assert [(s.action, s.status, s.by_member) for s in out.statuses][:1] == [
        ("EXPIRED", TaskStatus.FAILED, "hub")]
    assert out.statuses[0].reason == "「未按约就诊」状态已到期，平台自动过期关闭"
    record = hub.records["vp-hexi:R1"]
    assert record.closed_at == no_show_at + timedelta(days=7)
    assert not past_retention(record.closed_at, no_show_at + timedelta(days=90),
                              timedelta(days=90))
    assert past_retention(record.closed_at, no_show_at + timedelta(days=98), timedelta(days=90))
    assert closed_since(record.to_json()) == record.closed_at


def test_a_pool_reserving_under_20_percent_warns_the_office_once_per_publication() -> None:
    hub = Hub()
    pool = capacity_pool("lead", "ct", total=100, reserved=10, at=T0, resource="EXAMINATION",
                         resource_name="CT检查")
    out = hub.keep(on_pool(None, pool, CTX))
    [alert] = out.alerts
    assert alert.kind == "referral-reserve-below-20pct" and alert.member_ids == ["lead"]
    assert alert.summary == "安县人民医院的CT检查预留给转诊患者 10/100（10%），低于 20%"
    assert on_pool(hub.pools["lead|ct"], pool, CTX).repeated


def test_a_place_used_by_an_arrived_patient_stays_booked() -> None:
    hub = Hub()
    hub.publish_pool()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0))
    hub.update(step("lead", "vp-hexi:R1", "ACCEPTED", 10, booking=slot("CARD-0900")))
    arrived = hub.update(step("lead", "vp-hexi:R1", "ARRIVED", 60 * 24,
                              encounter_ref="MZ20261208-0017"))
    assert arrived.statuses[0].encounter_ref == "MZ20261208-0017"
    assert arrived.statuses[0].due_at == T0 + timedelta(days=31)  # an outcome owed in 30 d
    hub.update(step("vp-hexi", "vp-hexi:R1", "CANCELLED", 60 * 25))
    assert hub.pools["lead|card-w50"].bookings == {"CARD-0900": "vp-hexi:R1"}
    assert hub.records["vp-hexi:R1"].arrived_at == T0 + timedelta(days=1)


def test_a_downward_referral_returns_the_upward_one_and_closes_on_follow_up() -> None:
    village = Hub()  # the downward referral lives with its receiver, the village clinic
    down = referral_request("lead", "vp-hexi", "D1", direction="DOWN", at=T0,
                            kind="REHABILITATION", returns_referral="vp-hexi:R1")
    village.request(down)

    def by_village(action: str, minutes: int, **fields: object) -> ReferralUpdate:
        return referral_update("vp-hexi", "lead:D1", "vp-hexi", action,
                               at=T0 + timedelta(minutes=minutes), **fields)

    village.update(by_village("ACCEPTED", 30))
    village.update(by_village("ARRIVED", 60 * 24))
    out = village.update(by_village("FOLLOWED_UP", 60 * 24 * 8, encounter_ref="SF-0001"))
    [status, _] = out.statuses
    assert (status.business_status, status.status, status.returns_referral) == (
        "followed-up", TaskStatus.COMPLETED, "vp-hexi:R1")
    record = village.records["lead:D1"]
    assert record.followed_up_at == T0 + timedelta(days=8) and record.closed_at is not None


def test_information_provided_restarts_the_answer_clock_for_the_figures() -> None:
    hub = Hub()
    hub.request(referral_request("vp-hexi", "lead", "R1", at=T0, priority="URGENT"))
    hub.update(step("lead", "vp-hexi:R1", "INFO_REQUESTED", 30, note="请补充近三天血压记录"))
    provided = hub.update(step("vp-hexi", "vp-hexi:R1", "INFO_PROVIDED", 150))
    assert provided.statuses[0].due_at == T0 + timedelta(minutes=150 + 120)
    accepted = hub.update(step("lead", "vp-hexi:R1", "ACCEPTED", 200))  # past the first 2 h
    assert accepted.answered_in_time is True
    assert hub.records["vp-hexi:R1"].answer_due_at == T0 + timedelta(minutes=270)
