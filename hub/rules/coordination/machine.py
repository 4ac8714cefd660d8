"""One state machine for every coordination flow, after FHIR R4 Task: who may take which
step from which state, what the step leaves, when the state falls due and how a missed
deadline escalates (level 1: both parties at the deadline; level 2: the office
`office_after` later). Pure: no Faust, no Kafka, no clock of its
own; the flow's words live in its configuration file, never here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hub.rules.coordination.model import (
    HUB_MEMBER,
    MAX_APPLIED,
    MAX_HISTORY,
    REFUSAL_MESSAGES,
    Applied,
    Clock,
    Escalation,
    FlowConfig,
    RefusalCode,
    Refused,
    Role,
    Step,
    Task,
    TimedStep,
)
from schemas.models.coordination import TERMINAL_STATUSES, TaskStatus

__all__ = [
    "LEVEL_OFFICE",
    "LEVEL_PARTIES",
    "Applied",
    "Clock",
    "Escalation",
    "FlowConfig",
    "RefusalCode",
    "Refused",
    "Role",
    "Step",
    "Task",
    "TimedStep",
    "apply",
    "due_at",
    "escalation_due",
    "open_task",
    "roles_of",
    "set_due",
    "timed_step_due",
]

LEVEL_PARTIES = 1  # escalation levels: both parties told
LEVEL_OFFICE = 2  # the consortium's office told
OPENED_ACTION = "OPENED"  # the history entry of the request that opened the task


def open_task(config: FlowConfig, task_id: str, requester: str, performer: str,
              priority: str, at: datetime, event_id: str) -> Task:
    """A new task, requested by `requester` of `performer` at `at` (a zoned time)."""
    if config.priorities and priority not in config.priorities:
        raise ValueError(f"{config.flow}: unknown priority {priority!r}")
    if HUB_MEMBER in (requester, performer):
        raise ValueError(f"{HUB_MEMBER!r} is the hub's own name, not a party's")
    if at.tzinfo is None:
        raise ValueError(f"a task's times carry their zone: {at.isoformat()} has none")
    return Task(task_id=task_id, requester=requester, performer=performer,
                priority=priority, status=TaskStatus.REQUESTED,
                business_status=config.opened_business_status, since=at, opened_at=at,
                applied=(event_id,), history=((OPENED_ACTION, requester, at),))


def roles_of(task: Task, member: str) -> frozenset[Role]:
    """The roles `member` holds on `task` (empty: not a party)."""
    if member == HUB_MEMBER:
        return frozenset({Role.HUB})
    roles = set()
    if member == task.requester:
        roles.add(Role.REQUESTER)
    if member == task.performer:
        roles.add(Role.PERFORMER)
    return frozenset(roles)


def _refused(code: RefusalCode, task: Task, action: str, member: str) -> Refused:
    state = f"{task.status.value}/{task.business_status}"
    return Refused(code=code.value, message=REFUSAL_MESSAGES[code],
                   params={"action": action, "state": state, "member": member})


def _allowed_from(step: Step, task: Task) -> bool:
    return task.status in step.from_statuses and (
        step.from_business is None or task.business_status in step.from_business)


def apply(config: FlowConfig, task: Task, action: str, member: str, at: datetime,
          event_id: str) -> Applied | Refused:
    """`member` takes `action` on `task`: its role comes from the task's parties (neither
    party: refused; 'hub' only for HUB steps); the step must be allowed from the task's
    state. A step naming a business status enters it anew (its clock restarts, the flow's
    deadline is cleared); the escalation level survives only when the deadline does."""
    if event_id in task.applied:
        return Applied(task=task, step=None, repeated=True)
    roles = roles_of(task, member)
    if not roles:
        return _refused(RefusalCode.NOT_A_PARTY, task, action, member)
    step = config.step(action)
    if step is None:
        return _refused(RefusalCode.UNKNOWN_STEP, task, action, member)
    if not roles & step.by:
        return _refused(RefusalCode.ROLE_NOT_ALLOWED, task, action, member)
    if task.status in TERMINAL_STATUSES and not (
            step.after_close and task.status in step.from_statuses):
        return _refused(RefusalCode.TASK_CLOSED, task, action, member)
    if not _allowed_from(step, task):
        return _refused(RefusalCode.STEP_NOT_ALLOWED, task, action, member)
    moved = replace(task, status=step.to_status,
                    applied=(*task.applied, event_id)[-MAX_APPLIED:],
                    history=(*task.history, (action, member, at))[-MAX_HISTORY:])
    if step.business_status is not None:
        moved = replace(moved, business_status=step.business_status, since=at,
                        due_override=None)
    if due_at(config, moved) != due_at(config, task):
        moved = replace(moved, escalation_level=0)
    return Applied(task=moved, step=step)


def set_due(task: Task, due: datetime | None) -> Task:
    """The task with the flow's own deadline for its current state (e.g. an
    appointment plus grace); a new deadline starts its escalations afresh."""
    if due == task.due_override:
        return task
    return replace(task, due_override=due, escalation_level=0)


# ------------------------------------------------------------ the clock (the caller passes now)
def due_at(config: FlowConfig, task: Task) -> datetime | None:
    """When the task's current state falls due; None for a closed task or a state
    without a deadline. The flow's own deadline (due_override) wins over the table."""
    if task.status in TERMINAL_STATUSES:
        return None
    if task.due_override is not None:
        return task.due_override
    limit = config.deadlines.get((task.business_status, task.priority))
    if limit is None:
        return None
    clock = config.deadline_clocks.get(task.business_status, Clock.SINCE)
    start = task.opened_at if clock is Clock.OPENED else task.since
    return start + limit


def escalation_due(config: FlowConfig, task: Task, now: datetime) -> Escalation | None:
    """The next escalation the task owes at `now`, one level at a time (the parties are
    always told before the office, even when a sweep came late); None when nothing is
    owed: not yet due, already escalated that far, closed, or no deadline."""
    due = due_at(config, task)
    if due is None or now < due:
        return None
    reached = LEVEL_OFFICE if now >= due + config.office_after else LEVEL_PARTIES
    if task.escalation_level >= reached:
        return None
    level = task.escalation_level + 1
    return Escalation(task=replace(task, escalation_level=level), level=level, due_at=due)


def timed_step_due(config: FlowConfig, task: Task, now: datetime) -> TimedStep | None:
    """The hub's own step due at `now` (the task has sat in a business status long enough),
    to be applied by the flow as member 'hub'; None when none is due."""
    if task.status in TERMINAL_STATUSES:
        return None
    for timed in config.timed_steps:
        if timed.business_status == task.business_status and now >= task.since + timed.after:
            return timed
    return None
