"""Referral traffic for the mix, deterministic per seed: the centres refer patients up to
the lead hospital, the lead returns some down, and each receiver answers, books a place
from the pool it reserved (published first, like the opening stock counts), records the
arrival and closes the loop; a few are rejected or cancelled by their referrer.

A referral's events come from two members (the referrer's topic and the receiver's), which
the hub reads side by side: nothing orders the receiver's answer after the request across
the two topics. So a step is only drawn for a referral requested at least `LAG` referral
events earlier (a minute of a county's referrals at the mix's share), and each referral's
steps are spread as far apart again."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.models import Event
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.referral import (
    Booking,
    CapacityPool,
    ReferralAction,
    ReferralDirection,
    ReferralKind,
    ReferralRequest,
    ReferralUpdate,
    ResourceKind,
)

LEAD = "lead"
CENTRES = ("chc-east", "chc-west", "thc-river", "mch")
POOL_ID = "bench-card"  # every receiver's reserved specialist slots, one pool each
LAG = 30
PRIORITIES = (OrderPriority.ROUTINE, OrderPriority.URGENT, OrderPriority.EMERGENCY)
A = ReferralAction
UP_PATH = (A.ACCEPTED, A.ARRIVED, A.COMPLETED)
DOWN_PATH = (A.ACCEPTED, A.ARRIVED, A.FOLLOWED_UP)
REJECTED_PATH = (A.RECEIVED, A.REJECTED)
CANCELLED_PATH = (A.RECEIVED, A.CANCELLED)  # the referrer's cancel, on its own topic


@dataclass
class _Open:
    """A referral the traffic has requested and the steps it has still to send."""

    referral_id: str
    referrer: str
    receiver: str
    steps: deque[ReferralAction]


def capacity_pool(receiver: str, now: datetime) -> CapacityPool:
    """A month of a receiver's specialist slots, 20% of them reserved for referrals."""
    return CapacityPool(
        envelope=CapacityPool.new_envelope(receiver, occurred_at=now), pool_id=POOL_ID,
        resource=ResourceKind.SPECIALIST_SLOT, resource_code="CARD",
        resource_name="心血管内科专家号", period_start=now - timedelta(days=1),
        period_end=now + timedelta(days=30), total=100_000, reserved=20_000)


class ReferralTraffic:
    def __init__(self, rng: random.Random, patient: Callable[[random.Random], Patient],
                 ) -> None:
        self.rng = rng
        self.patient = patient
        self.waiting: deque[_Open] = deque()
        self._sequence = 0

    def pools(self, now: datetime) -> Iterator[Event]:
        """Every receiver's pool, before any referral books from it."""
        for receiver in (LEAD, *CENTRES):
            yield capacity_pool(receiver, now)

    def next(self, now: datetime) -> Event:
        if len(self.waiting) < LAG or self.rng.random() < 0.4:
            return self.request(now)
        referral = self.waiting.popleft()
        action = referral.steps.popleft()
        if referral.steps:
            self.waiting.append(referral)
        sender = referral.referrer if action is A.CANCELLED else referral.receiver
        booking = Booking(pool_id=POOL_ID, starts_at=now + timedelta(days=2)) \
            if action is A.ACCEPTED else None
        return ReferralUpdate(
            envelope=ReferralUpdate.new_envelope(sender, occurred_at=now),
            referral_id=referral.referral_id, to_member=referral.receiver, action=action,
            booking=booking,
            reason_code="NO_CAPACITY" if action is A.REJECTED else None,
            encounter_ref=f"E{referral.referral_id}" if action is A.ARRIVED else None,
            downward_plan="继续降压治疗，社区随访" if action is A.COMPLETED else None)

    def request(self, now: datetime) -> Event:
        self._sequence += 1
        down = self.rng.random() < 0.2
        referrer, receiver = (LEAD, self.rng.choice(CENTRES)) if down \
            else (self.rng.choice(CENTRES), LEAD)
        draw = self.rng.random()
        path = REJECTED_PATH if draw < 0.1 else CANCELLED_PATH if draw < 0.15 \
            else DOWN_PATH if down else UP_PATH
        ref = f"RB-{self._sequence}"
        self.waiting.append(_Open(f"{referrer}:{ref}", referrer, receiver, deque(path)))
        priority = self.rng.choices(PRIORITIES, [0.82, 0.15, 0.03])[0]
        return ReferralRequest(
            envelope=ReferralRequest.new_envelope(referrer, occurred_at=now),
            patient=self.patient(self.rng), referral_ref=ref,
            direction=ReferralDirection.DOWN if down else ReferralDirection.UP,
            to_member=receiver, to_service="CARD", to_service_name="心血管内科",
            priority=priority,
            kind=ReferralKind.REHABILITATION if down else ReferralKind.OUTPATIENT,
            reason="血压控制不佳，三种降压药联用仍>160/100mmHg" if not down
            else "病情稳定，转回社区康复及慢病随访",
            icd10="I10.x00", diagnosis_name="原发性高血压", requested_at=now,
            referring_doctor="王医生")
