"""The `referral-tasks` table of a busy consortium, made by the referral rules themselves:
`open_referrals` open referrals in a realistic mix of states and priorities, each taken
there by the steps a member would send (hub.rules.referral.engine), dated so that a share
of them is overdue at `NOW`, with the reserved pools their bookings took.

The mix (what a county's referral desk holds at one moment): most referrals go up from
the centres and village points to the lead hospital, a quarter come back down; most are
routine. A referral waits for an answer, for information, for its booking, for the patient
to come, or for the outcome after arrival; `overdue_share` of them are past their state's
deadline by up to a third of it again (some past the office's escalation too)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet

from benchmarks.workload import patient_number
from hub.rules.coordination import due_at, shipped_flow
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.referral.capacity import Pool, pool_key
from hub.rules.referral.engine import Context, Outcome, on_request, on_update
from hub.rules.referral.record import ReferralRecord
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.referral import (
    Booking,
    ReferralDirection,
    ReferralKind,
    ReferralRequest,
    ReferralUpdate,
    ResourceKind,
)
from schemas.reference.registry import load_registry

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
STEP_GAP = timedelta(minutes=40)  # between one referral's seeding steps
BOOKED_AHEAD = timedelta(days=3)  # an appointment this long after its booking
# The state an open referral waits in: the receiver's steps that took it there, and how
# many of a county's open referrals wait there.
PROFILES: tuple[tuple[tuple[str, ...], float], ...] = (
    ((), 0.25),  # requested: no answer yet
    (("RECEIVED",), 0.15),
    (("RECEIVED", "INFO_REQUESTED"), 0.05),  # waiting for the referrer
    (("INFO_REQUESTED", "INFO_PROVIDED"), 0.03),
    (("ACCEPTED",), 0.07),  # accepted, not yet booked
    (("ACCEPTED+BOOKING",), 0.25),  # booked: waiting for the patient
    (("ACCEPTED+BOOKING", "NO_SHOW"), 0.03),  # closed by the hub 7 days on
    (("ACCEPTED+BOOKING", "ARRIVED"), 0.15),  # the outcome is owed
    (("ACCEPTED+BOOKING", "ARRIVED", "INTERIM_REPORT"), 0.02),
)
PRIORITIES = ((OrderPriority.EMERGENCY, 0.03), (OrderPriority.URGENT, 0.15),
              (OrderPriority.ROUTINE, 0.82))
UP_FROM = ("chc-east", "chc-west", "thc-river", "mch")  # centres refer up to the lead
DOWN_TO = UP_FROM  # and the lead returns patients to them
DEPARTMENTS = ("CARD", "NEUR", "ENDO", "ORTH", "RESP")


@dataclass
class ReferralTable:
    """The table as the agent stores it (Faust's JSON keys and values) and the pools."""

    sealer: Sealer  # the key the patients' blocks open with
    rows: list[tuple[bytes, bytes]] = field(default_factory=list)
    pools: dict[str, Pool] = field(default_factory=dict)
    profile_counts: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    seconds: float = 0.0


def sealer_and_patient() -> tuple[Sealer, Patient]:
    """A key and one patient sealed with it (every referral carries a sealed block like it;
    the watchdog opens it only for the statuses it sends)."""
    sealer = Sealer(Fernet.generate_key())
    return sealer, pseudonymous(patient_number(1), b"bench-secret", sealer, issuer="chc-east")


def _template(sealed: Patient) -> ReferralRequest:
    return ReferralRequest(
        envelope=ReferralRequest.new_envelope("chc-east", occurred_at=NOW),
        patient=sealed, referral_ref="R0", direction=ReferralDirection.UP,
        to_member="lead", to_service="CARD", to_service_name="心血管内科",
        kind=ReferralKind.OUTPATIENT, reason="血压控制不佳，三种降压药联用仍>160/100mmHg",
        icd10="I10.x00", diagnosis_name="原发性高血压", requested_at=NOW,
        referring_doctor="王医生")


class Seeder:
    """Takes each referral through its steps with the engine (the patient left sealed:
    seeding opens nothing)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sealer, self.sealed = sealer_and_patient()
        self.template = _template(self.sealed)
        self.config = shipped_flow("referral")
        self.ctx = Context(self.config, load_registry(), lambda patient: patient)
        self.pools: dict[str, Pool] = {}

    def _pool(self, receiver: str, department: str, day: datetime) -> str:
        pool_id = f"{department}-{day:%Y%m%d}"
        key = pool_key(receiver, pool_id)
        if key not in self.pools:
            start = day.replace(hour=0, minute=0, second=0, microsecond=0)
            self.pools[key] = Pool(
                owner=receiver, pool_id=pool_id, resource=ResourceKind.SPECIALIST_SLOT,
                resource_code=department, resource_name=f"{department} 专家号",
                period_start=start, period_end=start + timedelta(days=1), total=100_000,
                reserved=20_000, publication=f"pool-{key}")
        return pool_id

    def _keep(self, out: Outcome) -> ReferralRecord:
        for pool in out.pools:
            self.pools[pool.key] = pool
        assert out.record is not None, "a seeding step changed nothing"
        return out.record

    def referral(self, n: int, steps: tuple[str, ...], priority: OrderPriority,
                 opened: datetime) -> ReferralRecord:
        down = self.rng.random() < 0.25
        sender, receiver = ("lead", self.rng.choice(DOWN_TO)) if down \
            else (self.rng.choice(UP_FROM), "lead")
        department = self.rng.choice(DEPARTMENTS)
        request = self.template.model_copy(update={
            "envelope": ReferralRequest.new_envelope(sender, occurred_at=opened),
            "patient": self.sealed.model_copy(update={"key": f"{n:032x}"}),
            "referral_ref": f"R{n}", "to_member": receiver, "to_service": department,
            "direction": ReferralDirection.DOWN if down else ReferralDirection.UP,
            "kind": ReferralKind.REHABILITATION if down else ReferralKind.OUTPATIENT,
            "priority": priority, "requested_at": opened})
        record = self._keep(on_request(None, request, self.ctx, lambda _: None))
        at = opened
        for step in steps:
            at += STEP_GAP
            action, _, booking = step.partition("+")
            booked = Booking(pool_id=self._pool(receiver, department, at + BOOKED_AHEAD),
                             starts_at=at + BOOKED_AHEAD) if booking else None
            by = sender if action == "INFO_PROVIDED" else receiver
            update = ReferralUpdate(
                envelope=ReferralUpdate.new_envelope(by, occurred_at=at),
                referral_id=record.referral_id, to_member=receiver,
                action=action, booking=booked,
                encounter_ref=f"E{n}" if action == "ARRIVED" else None)
            record = self._keep(on_update(record, update, self.ctx, self.pools.get))
        return record


def _weighted(rng: random.Random, choices: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def _time_to_due(seeder: Seeder, steps: tuple[str, ...], priority: OrderPriority,
                 ) -> timedelta:
    """From opening to the moment the final state falls due (a timed step counts as
    due): the same for every referral of this profile and priority."""
    record = seeder.referral(-1, steps, priority, NOW)
    due = due_at(seeder.config, record.task)
    if due is None:
        timed = [t for t in seeder.config.timed_steps
                 if t.business_status == record.task.business_status]
        assert timed, f"{record.task.business_status}: neither deadline nor timed step"
        due = record.task.since + timed[0].after
    return due - NOW


def build(open_referrals: int, overdue_share: float = 0.08, seed: int = 26) -> ReferralTable:
    """The table, each row as the agent's Faust table writes it to its store."""
    started = time.monotonic()
    seeder = Seeder(seed)
    rng = random.Random(seed + 1)
    table = ReferralTable(seeder.sealer)
    spans: dict[tuple[tuple[str, ...], OrderPriority], timedelta] = {}
    for n in range(open_referrals):
        steps = _weighted(rng, PROFILES)
        priority = _weighted(rng, PRIORITIES)
        span = spans.get((steps, priority))
        if span is None:
            span = spans[steps, priority] = _time_to_due(seeder, steps, priority)
        late = rng.random() < overdue_share
        # on time: due within the span still to come; late: due up to a third of it ago
        fraction = rng.uniform(1.0, 4 / 3) if late else rng.uniform(0.05, 0.95)
        record = seeder.referral(n, steps, priority, NOW - span * fraction)
        table.overdue += late
        name = "/".join(steps) or "REQUESTED"
        table.profile_counts[name] = table.profile_counts.get(name, 0) + 1
        table.rows.append((json.dumps(record.referral_id).encode(),
                           json.dumps(record.to_json()).encode()))
    table.pools = seeder.pools
    table.seconds = round(time.monotonic() - started, 1)
    return table
