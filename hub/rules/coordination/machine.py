"""INTERFACE STUB (the lead's): the `machine` helper implements it; names and signatures
are agreed with the flows that use it. Pure: no Faust, no Kafka, no clock of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.models.coordination import TaskStatus


class Role(StrEnum):
    REQUESTER = "requester"  # the member that asked (a referral's referrer)
    PERFORMER = "performer"  # the member asked (a referral's receiver)
    HUB = "hub"  # the hub's own steps: expiry, automatic closing


@dataclass(frozen=True, slots=True)
class Step:
    """An allowed transition: `action` taken by one of `by`, from a task in one of
    `from_statuses` (and, if given, one of `from_business`), leaves it in `to_status` with
    `business_status` (None: keep the current business status, e.g. an interim report)."""

    action: str
    by: frozenset[Role]
    from_statuses: frozenset[TaskStatus]
    to_status: TaskStatus
    business_status: str | None
    from_business: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class TimedStep:
    """A step the hub takes itself when a task has sat in `business_status` for `after`
    (e.g. close a booked referral 7 days after a recorded no-show)."""

    business_status: str
    after: timedelta
    action: str


@dataclass(frozen=True, slots=True)
class FlowConfig:
    flow: str
    steps: tuple[Step, ...]
    # (business status, priority) -> how long a task may stay there before it is overdue;
    # a business status without an entry has no deadline.
    deadlines: dict[tuple[str, str], timedelta]
    # after a missed deadline: level 1 (both parties) at once, level 2 (the office) this
    # long after the deadline
    office_after: timedelta
    timed_steps: tuple[TimedStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    """One task's state, as the flow's table stores it (to_json / from_json)."""

    task_id: str
    requester: str
    performer: str
    priority: str
    status: TaskStatus
    business_status: str
    since: datetime  # when it entered its current business status
    opened_at: datetime
    escalation_level: int = 0  # 0 none, 1 parties told, 2 office told (for this state)
    applied: tuple[str, ...] = ()  # event ids of the steps applied (a redelivery is a no-op)
    history: tuple[tuple[str, str, datetime], ...] = ()  # (action, member, at)
    extra: dict[str, Any] = field(default_factory=dict)  # the flow's own fields

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Task:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Applied:
    task: Task
    step: Step | None  # None: a repeat of a step already applied (event id seen): no output
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """A coded reason (a Reason-like code) and a messages.toml key with its parameters."""

    code: str
    message: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Escalation:
    task: Task  # with escalation_level raised
    level: int
    due_at: datetime


def open_task(config: FlowConfig, task_id: str, requester: str, performer: str,
              priority: str, at: datetime, event_id: str) -> Task:
    raise NotImplementedError


def apply(config: FlowConfig, task: Task, action: str, member: str, at: datetime,
          event_id: str) -> Applied | Refused:
    """`member` takes `action` on `task`: its role comes from the task's parties (neither
    party: refused; 'hub' only for HUB steps); the step must be allowed from the task's
    state."""
    raise NotImplementedError


def due_at(config: FlowConfig, task: Task) -> datetime | None:
    raise NotImplementedError


def escalation_due(config: FlowConfig, task: Task, now: datetime) -> Escalation | None:
    raise NotImplementedError


def timed_step_due(config: FlowConfig, task: Task, now: datetime) -> TimedStep | None:
    raise NotImplementedError
