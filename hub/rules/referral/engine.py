"""The referral flow: a request opens a coordination task at its receiver, each party's
step moves it (the machine decides who may take which step), a booking takes a reserved
place, and the watchdog escalates what stalls and takes the hub's timed steps. Each
function returns what to send and what to store; the agent does both, outputs first.

An acceptance that names a booking is two steps, ACCEPTED then BOOKED (two statuses to
both parties), so the parties see the same states whichever way the receiver books. A
booked referral is due (arrival or no-show recorded) one day after the booked start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.rules.coordination import (
    Applied,
    FlowConfig,
    Refused,
    Task,
    apply,
    due_at,
    escalation_due,
    open_task,
    set_due,
    timed_step_due,
)
from hub.rules.referral.admission import (
    check_onward,
    check_request,
    check_update,
    direction_between,
    is_repeat,
    member_name,
)
from hub.rules.referral.capacity import Pool, book, pool_key, publish, release
from hub.rules.referral.outputs import (
    HUB,
    OpenPatient,
    onward_referral_id,
    onward_request,
    overdue_alert,
    overdue_reason,
    receiver_copy,
    reserve_alert,
    statuses,
)
from hub.rules.referral.reasons import step_reason
from hub.rules.referral.record import ReferralRecord, fingerprint
from hub.rules.rejections import Reason, Rejection
from schemas.models import OperatorAlert, deterministic_id
from schemas.models.coordination import TERMINAL_STATUSES, TaskStatus
from schemas.models.referral import (
    Booking,
    CapacityPool,
    ReferralAction,
    ReferralRequest,
    ReferralStatus,
    ReferralUpdate,
    referral_id,
)
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, Text
from schemas.reference.registry import Registry

A = ReferralAction
BOOKING_STEPS = frozenset({A.BOOKED, A.REBOOKED})
RELEASING_STEPS = frozenset({A.CANCELLED, A.REJECTED, A.NO_SHOW, A.REFERRED_ONWARD, A.EXPIRED})
ANSWERS = frozenset({A.ACCEPTED, A.REJECTED, A.REFERRED_ONWARD})
AWAITING_ANSWER = frozenset({TaskStatus.REQUESTED, TaskStatus.RECEIVED})
ARRIVAL_GRACE = timedelta(days=1)  # a booked referral's arrival or no-show is due by then
LoadPool = Callable[[str], Pool | None]


@dataclass(frozen=True, slots=True)
class Context:
    config: FlowConfig
    registry: Registry
    open_patient: OpenPatient
    locale: Locale = DEFAULT_LOCALE


@dataclass
class Outcome:
    record: ReferralRecord | None = None  # to store (None: unchanged)
    pools: list[Pool] = field(default_factory=list)  # changed pools to store
    statuses: list[ReferralStatus] = field(default_factory=list)  # to the parties' out topics
    requests: list[ReferralRequest] = field(default_factory=list)  # to the receiver's HIS
    onward: list[ReferralRequest] = field(default_factory=list)  # back to hub.referrals
    alerts: list[OperatorAlert] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # the actions applied (metrics)
    answered_in_time: bool | None = None  # the receiver's first answer: by its deadline?
    escalation_level: int = 0
    repeated: bool = False


def on_request(existing: ReferralRecord | None, request: ReferralRequest, ctx: Context,
               known: Callable[[str], ReferralRecord | None]) -> Outcome:
    """A new referral: its task opened at the receiver, its status to both parties and
    the request (the patient in clear) to the receiver."""
    if is_repeat(request, existing):
        return Outcome(repeated=True)
    check_request(request, ctx.registry, known)
    sender, at = request.envelope.member_id, request.envelope.occurred_at
    rid = referral_id(sender, request.referral_ref)
    task = open_task(ctx.config, rid, sender, request.to_member, request.priority.value, at,
                     request.envelope.event_id)
    due = due_at(ctx.config, task)
    record = ReferralRecord(
        task=task, referral_ref=request.referral_ref, direction=request.direction,
        kind=request.kind, priority=request.priority, pseudonym=request.patient.key or "",
        sealed_patient=(request.patient.sealed or b"").decode("ascii"),
        request_event_id=request.envelope.event_id, fingerprint=fingerprint(request),
        request=request.model_dump(mode="json"), answer_due_at=due,
        returns_referral=request.returns_referral, onward_of=request.onward_of,
    )
    opened = statuses(record, cause=request.envelope.event_id, action=None, by_member=sender,
                      at=at, due_at=due, open_patient=ctx.open_patient, locale=ctx.locale,
                      reason=Text("referral.opened", {
                          "receiver": member_name(ctx.registry, request.to_member)}))
    return Outcome(record=record, statuses=opened,
                   requests=[receiver_copy(request, ctx.open_patient)], steps=["OPENED"])


def on_pool(existing: Pool | None, event: CapacityPool, ctx: Context) -> Outcome:
    """A receiver publishes a pool: its counts replaced, its bookings kept; the office
    warned when it reserves less than 20%."""
    if existing is not None and existing.publication == event.envelope.event_id:
        return Outcome(repeated=True)
    pool = publish(existing, event)
    owner = member_name(ctx.registry, pool.owner)
    alerts = [reserve_alert(pool, owner, event.envelope.occurred_at, ctx.locale)] \
        if pool.below_minimum else []
    return Outcome(pools=[pool], alerts=alerts)


def _step(ctx: Context, task: Task, action: str, member: str, at: datetime,
          event_id: str) -> Applied:
    result = apply(ctx.config, task, action, member, at, event_id)
    if isinstance(result, Refused):
        raise Rejection(result.code, result.message, **result.params)
    return result


def _booking(update: ReferralUpdate, record: ReferralRecord, load_pool: LoadPool,
             ) -> tuple[list[Pool], Booking] | None:
    """The pools a booking step changes and the booking it makes (None: no booking)."""
    if update.booking is None:
        if update.action in BOOKING_STEPS:
            raise Rejection(Reason.REFERRAL_BOOKING_REQUIRED, "referral.booking_required",
                            action=update.action.value)
        return None
    key = pool_key(record.receiver, update.booking.pool_id)
    target, booking = book(load_pool(key), record.receiver, update.booking,
                           record.referral_id)
    changed = [target]
    old = record.booking
    if old is not None and old.pool_id != update.booking.pool_id:
        previous = load_pool(pool_key(record.receiver, old.pool_id))
        if previous is not None:
            changed.append(release(previous, record.referral_id))
    return changed, booking


def _released(record: ReferralRecord, load_pool: LoadPool) -> list[Pool]:
    """The pool without the referral's place: it ends before the patient came (a place
    used by an arrived patient stays booked, as the reserved-slot use counts it)."""
    if record.booking is None or record.arrived_at is not None:
        return []
    pool = load_pool(pool_key(record.receiver, record.booking.pool_id))
    if pool is None or pool.holder(record.referral_id) is None:
        return []
    return [release(pool, record.referral_id)]


def _marks(record: ReferralRecord, action: A, at: datetime) -> dict[str, object]:
    """The figures' times a step sets (each the first time only)."""
    marks: dict[str, object] = {}
    if action in ANSWERS and record.answered_at is None:
        marks["answered_at"] = at
    if action is A.ARRIVED and record.arrived_at is None:
        marks["arrived_at"] = at
    if action is A.FOLLOWED_UP and record.followed_up_at is None:
        marks["followed_up_at"] = at
    return marks


def on_update(record: ReferralRecord | None, update: ReferralUpdate, ctx: Context,
              load_pool: LoadPool) -> Outcome:
    """A party's step on a referral: refused (Rejection) unless the machine allows it
    and, for a booking, the reserved place is free; else the new state, the changed pools,
    a status per step to both parties and, for a referral onward, the new request."""
    found = check_update(update, record)
    sender, at, event_id = update.envelope.member_id, update.envelope.occurred_at, \
        update.envelope.event_id
    first = _step(ctx, found.task, update.action.value, sender, at, event_id)
    if first.repeated or first.step is None:
        return Outcome(repeated=True)
    if update.action is A.REFERRED_ONWARD:
        check_onward(update, found, ctx.registry)
    applied: list[tuple[A, str, Task]] = [(update.action, event_id, first.task)]
    pools: list[Pool] = []
    changes: dict[str, object] = _marks(found, update.action, at)
    booked = _booking(update, found, load_pool) if update.action in BOOKING_STEPS or (
        update.action is A.ACCEPTED and update.booking is not None) else None
    if booked is not None:
        pools, booking = booked
        task = first.task
        if update.action is A.ACCEPTED:
            task = _step(ctx, task, A.BOOKED.value, sender, at, f"{event_id}/booked").task
            applied.append((A.BOOKED, f"{event_id}/booked", task))
        if booking.starts_at is not None:
            task = set_due(task, booking.starts_at + ARRIVAL_GRACE)
        applied[-1] = (applied[-1][0], applied[-1][1], task)
        changes["booking"] = booking
    elif update.action in RELEASING_STEPS:
        pools = _released(found, load_pool)
    if update.action is A.REFERRED_ONWARD:
        changes["onward_referral_id"] = onward_referral_id(found)
    return _outcome(found, applied, changes, pools, sender, ctx, update=update,
                    reason=step_reason(update.action, update.reason_code, ctx.locale))


def _outcome(found: ReferralRecord, applied: list[tuple[A, str, Task]],
             changes: dict[str, object], pools: list[Pool], by_member: str, ctx: Context,
             update: ReferralUpdate | None = None, reason: Text | str | None = None,
             ) -> Outcome:
    out = Outcome(pools=pools)
    record = found
    for action, cause, task in applied:
        at = task.since
        closing = {"closed_at": at} if task.status in TERMINAL_STATUSES and \
            record.closed_at is None else {}
        record = record.with_task(task, **changes, **closing)
        if record.answered_at is None and task.status in AWAITING_ANSWER:
            # the answer's deadline as the machine keeps it (information provided restarts it)
            record = record.with_task(task, answer_due_at=due_at(ctx.config, task))
        out.statuses += statuses(record, cause=cause, action=action, by_member=by_member,
                                 at=at, due_at=due_at(ctx.config, task),
                                 open_patient=ctx.open_patient, locale=ctx.locale,
                                 update=update, reason=reason)
        out.steps.append(action.value)
    out.record = record
    if found.answered_at is None and record.answered_at is not None:
        due = found.answer_due_at
        out.answered_in_time = due is None or record.answered_at <= due
    if update is not None and update.action is A.REFERRED_ONWARD and update.onward_to:
        level = ctx.registry.get(found.referrer)
        target = ctx.registry.get(update.onward_to)
        assert level is not None and target is not None  # checked: registered members
        out.onward.append(onward_request(record, update,
                                         direction_between(level.level, target.level)))
    return out


def on_tick(record: ReferralRecord, now: datetime, ctx: Context,
            load_pool: LoadPool) -> Outcome:
    """The watchdog's look at one open referral: a timed step that fell due (the hub
    takes it), else a missed deadline escalated one level (1: both parties; 2: the office
    too). Times are the moments things fell due, so a repeat after a crash is the same."""
    if record.is_closed:
        return Outcome()
    task = record.task
    timed = timed_step_due(ctx.config, task, now)
    if timed is not None:
        at = task.since + timed.after
        cause = deterministic_id("referral-timed", record.referral_id, timed.action,
                                 task.since.isoformat())
        result = _step(ctx, task, timed.action, HUB, at, cause)
        if result.step is None:
            return Outcome()
        action = A(timed.action)
        pools = _released(record, load_pool) if action in RELEASING_STEPS else []
        return _outcome(record, [(action, cause, result.task)], {}, pools, HUB, ctx,
                        reason=Text("referral.timed_step", {
                            "action": Label(f"referral.action.{timed.action}"),
                            "status": Label(f"referral.status.{task.business_status}")}))
    escalation = escalation_due(ctx.config, task, now)
    if escalation is None:
        return Outcome()
    at = escalation.due_at
    if escalation.level >= 2:
        at += ctx.config.office_after
    escalated = record.with_task(escalation.task)
    cause = f"escalation|{task.since.isoformat()}|{escalation.level}"
    out = Outcome(record=escalated, escalation_level=escalation.level)
    out.statuses = statuses(escalated, cause=cause, action=None, by_member=HUB, at=at,
                            due_at=escalation.due_at, open_patient=ctx.open_patient,
                            locale=ctx.locale, escalation_level=escalation.level,
                            reason=overdue_reason(record, escalation.due_at, escalation.level))
    if escalation.level >= 2:
        out.alerts.append(overdue_alert(escalated, escalation, at, ctx.locale))
    return out


def past_retention(closed_at: datetime | None, now: datetime, retention: timedelta) -> bool:
    """Whether a referral closed then has stayed its retention: it leaves the table."""
    return closed_at is not None and closed_at + retention < now
