"""Two-way referral: requests, parties' steps and reserved pools in (hub.referrals, keyed by
the receiving member); a ReferralStatus per step to both parties' out. topics, the request
itself to its receiver, referrals onward back to hub.referrals, the office's alerts on
hub.alerts. The rules are in hub.rules.referral on the coordination machine; this module
only moves data.

A receiver's referrals and reserved pools share its key, so the one worker that owns its
partition books a slot as a local read-modify-write. The tables survive restarts through
their changelogs, and hold no identity in clear (the sealed patient block only):

- `referral-tasks`: referral id ("<referrer>:<ref>") -> ReferralRecord.to_json():
  {"task": coordination Task JSON, "referral": {direction, kind, priority, pseudonym,
  sealed_patient, request (pseudonymous), booking, answer_due_at, answered_at, arrived_at,
  followed_up_at, closed_at, onward_referral_id, ...}}
- `referral-pools`: "<owner>|<pool_id>" -> Pool.to_json(): {counts, slots,
  bookings {slot: referral id}, counted [referral ids], publication}

Outputs go out before the state that remembers them is written: a crash in between
repeats them, byte for byte (ids and times derive from the input), rather than losing them.
A timer escalates overdue referrals and takes the hub's timed steps (no-show expiry), and
drops closed referrals past HUB_REFERRAL_CLOSED_RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub import metrics
from hub.agents.base import Meta, hub_agent
from hub.rules.coordination import shipped_flow
from hub.rules.referral.board import Board, board
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
from hub.rules.referral.figures import CONSORTIUM_ZONE, Period, PeriodFigures, office_figures
from hub.rules.referral.record import ReferralRecord, closed_since
from hub.rules.rejections import Reason, Rejection
from hub.runtime import channels, table_sweep, table_writes
from hub.runtime.app import app
from hub.runtime.emit import publish
from hub.runtime.services import runtime
from schemas import topics
from schemas.models import Event
from schemas.models.referral import (
    CapacityPool,
    ReferralAction,
    ReferralRequest,
    ReferralUpdate,
    referral_id,
)
from schemas.partitioning import partition_of_key, referral_ordering_key

AGENT = "referral"

tasks = app.Table("referral-tasks", default=None, partitions=topics.INTERNAL_PARTITIONS,
                  options=runtime.settings.rocksdb_options())
pools = app.Table("referral-pools", default=None, partitions=topics.INTERNAL_PARTITIONS,
                  options=runtime.settings.rocksdb_options())
# One writer at a time: the agent and the watchdog read, send, then write a referral.
_writing = asyncio.Lock()
SWEEP_BATCH = 200  # referrals judged between yields to the event loop


def context() -> Context:
    return Context(shipped_flow("referral"), runtime.registry, runtime.sealer.open_patient,
                   runtime.locale)


def home_partition(receiver: str) -> int:
    """The partition a receiver's referrals and pools live on."""
    return partition_of_key(referral_ordering_key(receiver))


def load_record(rid: str) -> ReferralRecord | None:
    value = tasks.get(rid)
    return ReferralRecord.from_json(value) if value is not None else None


def load_pool(key: str) -> Pool | None:
    value = pools.get(key)
    return Pool.from_json(value) if value is not None else None


async def _send(out: Outcome) -> None:
    for status in out.statuses:
        await publish(channels.out(status.envelope.member_id), status.referral_id, status)
    for request in out.requests:
        rid = referral_id(request.envelope.member_id, request.referral_ref)
        await publish(channels.out(request.to_member), rid, request)
    for onward in out.onward:
        await publish(channels.referrals, onward.to_member, onward,
                      partition=home_partition(onward.to_member))
    for alert in out.alerts:
        await publish(channels.alerts, alert.kind, alert)


async def _store(out: Outcome, partition: int) -> None:
    for pool in out.pools:
        await table_writes.put(pools, partition, pool.key, pool.to_json())
    if out.record is not None:
        await table_writes.put(tasks, partition, out.record.referral_id,
                               out.record.to_json())


def _count(out: Outcome) -> None:
    record = out.record
    if record is None:
        return
    direction = record.direction.value
    for step in out.steps:
        metrics.REFERRAL_STEPS.labels(direction, step).inc()
        if step == ReferralAction.ARRIVED:
            metrics.REFERRALS_ARRIVED.labels(direction).inc()
    if out.answered_in_time is not None:
        metrics.REFERRAL_ANSWERS.labels("in_time" if out.answered_in_time else "late").inc()
    if out.escalation_level:
        metrics.REFERRAL_ESCALATIONS.labels(str(out.escalation_level)).inc()


def _handle(event: Event, ctx: Context) -> Outcome:
    if isinstance(event, ReferralRequest):
        rid = referral_id(event.envelope.member_id, event.referral_ref)
        return on_request(load_record(rid), event, ctx, load_record)
    if isinstance(event, ReferralUpdate):
        try:
            return on_update(load_record(event.referral_id), event, ctx, load_pool)
        except Rejection as refused:
            if refused.code == Reason.SLOT_TAKEN:
                metrics.REFERRAL_SLOT_CONFLICTS.labels(event.to_member).inc()
            raise
    if isinstance(event, CapacityPool):
        key = f"{event.envelope.member_id}|{event.pool_id}"
        return on_pool(load_pool(key), event, ctx)
    raise Rejection(Reason.INVALID_EVENT, "referral.not_referral_event",
                    schema=event.avro_name())


@hub_agent(channels.referrals, name=AGENT)
async def referral(event: Event, meta: Meta) -> None:
    async with _writing:
        out = _handle(event, context())
        if out.repeated:
            metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
            return
        await _send(out)  # the state write marking it applied waits for these
        await _store(out, meta.partition)
        _count(out)


def _owned_partitions() -> set[int]:
    assigned = app.assignor.assigned_actives()
    return {tp.partition for tp in assigned if tp.topic == topics.REFERRALS.name}


def owned_records() -> list[ReferralRecord]:
    owned = _owned_partitions()
    found = (ReferralRecord.from_json(value) for value in list(tasks.values()))
    return [record for record in found if home_partition(record.receiver) in owned]


def owned_pools() -> list[Pool]:
    owned = _owned_partitions()
    found = (Pool.from_json(value) for value in list(pools.values()))
    return [pool for pool in found if home_partition(pool.owner) in owned]


def figures(by: Period = "month") -> list[PeriodFigures]:
    """The office's figures over the referrals and pools this worker owns, per period in
    the consortium's zone."""
    return office_figures(owned_records(), owned_pools(), by, _zone())


def referral_board(member: str | None = None) -> Board:
    """The board of one member (None: the office's) over what this worker owns."""
    return board(member, owned_records(), owned_pools(), shipped_flow("referral"),
                 runtime.now())


def _zone() -> ZoneInfo:
    zone = runtime.locale.zone
    return zone if isinstance(zone, ZoneInfo) else CONSORTIUM_ZONE


async def _pools_pass(now: datetime, retention: timedelta) -> None:
    """Drop pools past their period and the retention; gauge the current ones."""
    places: dict[tuple[str, str], list[int]] = {}
    for pool in owned_pools():
        if pool.period_end + retention < now:
            await table_writes.delete(pools, home_partition(pool.owner), pool.key)
        elif pool.period_end > now:
            counts = places.setdefault((pool.owner, pool.resource_code), [0, 0])
            counts[0] += pool.booked
            counts[1] += pool.free
    for (member, resource), (booked, free) in places.items():
        metrics.REFERRAL_RESERVED_PLACES.labels(member, resource, "booked").set(booked)
        metrics.REFERRAL_RESERVED_PLACES.labels(member, resource, "free").set(free)


def _quiet(value: dict[str, Any], now: datetime, ctx: Context) -> str | None:
    """The direction of an open referral with nothing due, judged on the value the pass
    read; None when something is due (it is judged again under the lock)."""
    record = ReferralRecord.from_json(value)
    if on_tick(record, now, ctx, load_pool).record is not None:
        return None
    return record.direction.value


async def _tick_one(key: str, partition: int, now: datetime, ctx: Context,
                    retention: timedelta) -> str | None:
    """Judge one referral under the writing lock (the agent interleaves between them);
    its direction if it is still open."""
    async with _writing:
        value = tasks.get(key)
        if value is None:
            return None
        closed_at = closed_since(value)
        if closed_at is not None:  # most of the table: judged without loading it
            if past_retention(closed_at, now, retention):
                await table_writes.delete(tasks, partition, key)
            return None
        record = ReferralRecord.from_json(value)
        out = on_tick(record, now, ctx, load_pool)
        if out.record is not None:
            await _send(out)
            await _store(out, partition)
            _count(out)
            record = out.record
        return None if record.is_closed else record.direction.value


async def referral_watchdog() -> None:
    """Escalate what is overdue, take the hub's timed steps, drop old closed referrals.
    Judged on the values one pass reads; only a referral with something to do is read
    again and changed under the writing lock, one at a time, giving way to the flow every
    SWEEP_BATCH of them."""
    if not table_sweep.ready():
        return
    now = runtime.now()
    ctx = context()
    owned = _owned_partitions()
    retention = timedelta(days=runtime.settings.referral_closed_retention_days)
    open_by_direction: dict[str, int] = {}
    for seen, (partition, key, value) in enumerate(table_sweep.owned_entries(
            tasks, owned, lambda _, value: home_partition(value["task"]["performer"])), start=1):
        if seen % SWEEP_BATCH == 0:
            await asyncio.sleep(0)
            if not table_sweep.ready():
                return  # partitions are moving: the next sweep starts afresh
        closed_at = closed_since(value)  # most of the table: judged without loading it
        if closed_at is not None:
            if past_retention(closed_at, now, retention):
                await _tick_one(key, partition, now, ctx, retention)  # drops it
            continue
        direction = _quiet(value, now, ctx)
        if direction is None:
            direction = await _tick_one(key, partition, now, ctx, retention)
        if direction is not None:
            open_by_direction[direction] = open_by_direction.get(direction, 0) + 1
    for direction in ("UP", "DOWN", "LATERAL"):
        metrics.REFERRALS_OPEN.labels(direction).set(open_by_direction.get(direction, 0))
    await _pools_pass(now, retention)


app.timer(interval=runtime.settings.referral_sweep_seconds)(referral_watchdog)
