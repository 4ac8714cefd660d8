"""The referrals of the crash workload (issue 26): eleven referrals between the workload's
members through their steps, one chunk at a time, and what a run leaves of them.

The centres refer patients up to the lead hospital, which books them in the specialist
slots it reserved, records arrivals, a no-show and its rebooking, interim and final
outcomes, and returns one patient down; the city-east centre books the downward ones
from a counted pool and records the follow-up. Two acceptances race for one slot in one
chunk (the first wins: one member's steps stay in order on its topic), a referrer cancels
and the slot it freed is taken by a rebooking, a third member's step is refused, and one
step is sent twice. mch's connector keys everything by one constant, so its referrals
reach the flow forwarded through hub.referrals.

A referral's steps come from two members, whose topics the hub reads side by side: each
chunk holds at most one member's steps on a referral, after the chunks that made them
legal (the workload waits for a chunk to be processed before the next). Every time is near
the run's start and every priority routine, so no deadline (24 h at the least) falls due
while the tests run: the watchdog's sweeps change nothing, in every run alike."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from benchmarks.workload import patient_number
from schemas.codec import AvroCodec
from schemas.models import Event
from schemas.models.referral import Booking, ReferralStatus
from tests.factories import capacity_pool, referral_request, referral_update

CODEC = AvroCodec()
LEAD, EAST = "lead", "chc-east"
SLOT_POOL, COUNT_POOL = "crash-card", "crash-rehab"
UP = {"R1": EAST, "R2": "chc-west", "R3": "thc-river", "R4": "mch", "R5": "chc-west",
      "R6": EAST, "R7": "thc-river", "R8": "mch"}  # referral ref -> its referrer
TABLES = ("referral-tasks", "referral-pools")
# What the plan leaves, by the referral rules: each slot's holder (R4's no-show freed S4,
# R5's cancel freed S5 for R6's rebooking, which freed S6) and each referral's state
EXPECTED_SLOTS = {"S1": "chc-east:R1", "S2": "chc-west:R2", "S3": "thc-river:R3",
                  "S5": "chc-east:R6", "S7": "thc-river:R7", "S8": "mch:R4", "S9": "mch:R8"}
EXPECTED_STATES = {
    "chc-east:R1": "completed", "chc-west:R2": "completed", "thc-river:R3": "completed",
    "mch:R4": "arrived", "chc-west:R5": "cancelled", "chc-east:R6": "arrived",
    "thc-river:R7": "booked", "mch:R8": "booked", "lead:D1": "followed-up",
    "lead:D2": "rejected", "lead:D3": "booked"}


def _up(ref: str) -> str:
    return f"{UP[ref]}:{ref}"


def _down(ref: str) -> str:
    return f"{LEAD}:{ref}"


def referral_chunks(now: datetime, chunks: int) -> list[list[tuple[str, Event]]]:
    """The referral events of each chunk, (sender, event), in the order sent."""
    slot_at = now + timedelta(days=2)
    slots = [(f"S{i}", slot_at + timedelta(minutes=30 * i)) for i in range(1, 11)]
    at = iter(now + timedelta(seconds=s) for s in range(1000))

    def step(member: str, referral: str, action: str, slot: str | None = None,
             **fields: Any) -> tuple[str, Event]:
        to = EAST if referral.startswith(f"{LEAD}:") else LEAD
        booking = None
        if slot == "counted":
            booking = Booking(pool_id=COUNT_POOL, starts_at=slot_at)
        elif slot is not None:
            booking = Booking(pool_id=SLOT_POOL, slot_id=slot)
        return member, referral_update(member, referral, to, action, at=next(at),
                                       booking=booking, **fields)

    def request(member: str, ref: str, n: int, **fields: Any) -> tuple[str, Event]:
        to = EAST if member == LEAD else LEAD
        return member, referral_request(member, to, ref, at=next(at),
                                        patient=patient_number(n), **fields)

    twice = step(LEAD, _up("R2"), "INTERIM_REPORT", note="降压方案调整中")
    plan: list[list[tuple[str, Event]]] = [
        [(LEAD, capacity_pool(LEAD, SLOT_POOL, total=40, reserved=10, slots=slots,
                              at=next(at))),
         (EAST, capacity_pool(EAST, COUNT_POOL, total=20, reserved=5, at=next(at),
                              resource="BED", resource_code="REHAB",
                              resource_name="康复科床位")),
         *(request(member, ref, 300 + i) for i, (ref, member) in enumerate(UP.items())),
         request(LEAD, "D1", 320, direction="DOWN", kind="REHABILITATION"),
         request(LEAD, "D2", 321, direction="DOWN", kind="REHABILITATION")],
        [step(LEAD, _up("R1"), "ACCEPTED", "S1"), step(LEAD, _up("R2"), "ACCEPTED", "S2"),
         step(LEAD, _up("R3"), "RECEIVED"), step(LEAD, _up("R3"), "ACCEPTED", "S3"),
         step(LEAD, _up("R4"), "ACCEPTED", "S4"), step(LEAD, _up("R5"), "ACCEPTED", "S5"),
         step(LEAD, _up("R6"), "ACCEPTED", "S6"),
         step(LEAD, _up("R7"), "ACCEPTED", "S1"),  # S1 is R1's: refused
         step(LEAD, _up("R8"), "INFO_REQUESTED", note="请补充近三月血压记录"),
         step(EAST, _down("D1"), "ACCEPTED", "counted"),
         step(EAST, _down("D2"), "REJECTED", reason_code="NO_BED")],
        [step(LEAD, _up("R1"), "ARRIVED", encounter_ref="ZY-1"),
         step(LEAD, _up("R2"), "ARRIVED", encounter_ref="ZY-2"),
         step(LEAD, _up("R3"), "ARRIVED", encounter_ref="ZY-3"),
         step(LEAD, _up("R4"), "NO_SHOW"), step(LEAD, _up("R7"), "ACCEPTED", "S7"),
         step("chc-west", _up("R5"), "CANCELLED", note="患者要求取消"),
         step("mch", _up("R8"), "INFO_PROVIDED", note="已上传血压记录"),
         step(EAST, _down("D1"), "ARRIVED", encounter_ref="MZ-1")],
        [step(LEAD, _up("R1"), "COMPLETED", downward_plan="社区随访，继续降压治疗"),
         twice, step(LEAD, _up("R6"), "REBOOKED", "S5"),  # the slot R5's cancel freed
         step(LEAD, _up("R4"), "REBOOKED", "S8"), step(LEAD, _up("R8"), "ACCEPTED", "S9"),
         step(EAST, _down("D1"), "FOLLOWED_UP", encounter_ref="SF-1")],
        [twice, step(LEAD, _up("R4"), "ARRIVED", encounter_ref="ZY-4"),
         step(LEAD, _up("R6"), "ARRIVED", encounter_ref="ZY-6"),
         step(LEAD, _up("R2"), "COMPLETED"),
         request(LEAD, "D3", 300, direction="DOWN", kind="REHABILITATION",
                 returns_referral=_up("R1"))],
        [step(EAST, _down("D3"), "ACCEPTED", "counted"),
         step(LEAD, _up("R3"), "COMPLETED"),
         step("chc-west", _up("R1"), "CANCELLED")],  # not its referral: refused
    ]
    assert len(plan) <= chunks
    return plan + [[] for _ in range(chunks - len(plan))]


def referral_statuses(
    on_topics: dict[str, list[tuple[bytes | None, bytes]]],
) -> dict[str, dict[str, Counter[bytes]]]:
    """Per out topic (its messages as read): each ReferralStatus's status_id, and how
    often each distinct message carrying it was written."""
    found: dict[str, dict[str, Counter[bytes]]] = {}
    for topic, messages in on_topics.items():
        by_status: dict[str, Counter[bytes]] = {}
        for _, raw in messages:
            event = CODEC.decode(raw)
            if isinstance(event, ReferralStatus):
                by_status.setdefault(event.status_id, Counter())[raw] += 1
        found[topic] = by_status
    return found


def normalized(table: str, state: dict[str, Any]) -> dict[str, Any]:
    """A referral table's state without what differs between runs: the sealed patient
    block (freshly encrypted each time)."""
    if table != "referral-tasks":
        return state
    out = {}
    for key, value in state.items():
        referral = dict(value["referral"], sealed_patient="")
        request = dict(referral["request"])
        request["patient"] = dict(request["patient"], sealed=None)
        out[key] = {**value, "referral": dict(referral, request=request)}
    return out


def slot_holders(pools: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(pool, slot) -> the referral holding it, from the pools' final state."""
    return {(key, slot): holder for key, pool in pools.items()
            for slot, holder in pool["bookings"].items()}


def status_differences(reference: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]],
                       ) -> dict[str, Any]:
    """Per out topic, the statuses (by status id, each with its copies) the reference run
    sent and the run did not, the run sent and the reference did not, sent in more than
    one version, or sent differently; only the topics that differ."""
    differences: dict[str, Any] = {}
    for topic, expected in reference.items():
        seen = got[topic]
        missing = sorted(set(expected) - set(seen))
        extra = sorted(set(seen) - set(expected))
        versions = {sid: len(copies) for sid, copies in seen.items() if len(copies) > 1}
        changed = sorted(sid for sid in set(expected) & set(seen)
                         if set(seen[sid]) != set(expected[sid]))
        if missing or extra or versions or changed:
            differences[topic] = {"missing": missing, "extra": extra,
                                  "versions": versions, "differ": changed}
    return differences


def assert_referrals_same(reference: dict[str, Any], got: dict[str, Any]) -> None:
    """Every status the reference run sent to a party is on that party's out topic, every
    copy of it the same message (a repeat after a kill, never a second version), and no
    other; each slot holds the one referral it held in the reference run."""
    differences = status_differences(reference["referral_statuses"], got["referral_statuses"])
    pools = got["tables"]["referral-pools"]
    if slot_holders(pools) != slot_holders(reference["tables"]["referral-pools"]):
        differences["slots"] = (slot_holders(reference["tables"]["referral-pools"]),
                                slot_holders(pools))
    assert differences == {}, differences
