"""The data of the coordination machine: a flow's configuration (its steps, deadlines and
timed steps) and one task's state, as a flow's table stores it. Pure values: the machine
(machine.py) and the clock (deadlines.py) work on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.models.coordination import TaskStatus

# How many event ids and history entries a task keeps: a redelivery comes soon after the
# original, and a task's whole life is a dozen steps, so the bound only stops a runaway.
MAX_APPLIED = 64
MAX_HISTORY = 64


class Role(StrEnum):
    REQUESTER = "requester"  # the member that asked
    PERFORMER = "performer"  # the member asked to do it
    HUB = "hub"  # the hub's own steps: expiry, automatic closing


HUB_MEMBER = "hub"  # the member name the hub's own steps are taken under


class Clock(StrEnum):
    """What a deadline counts from."""

    SINCE = "since"  # entering the business status (the default)
    OPENED = "opened"  # the task's opening: the limit survives intermediate steps


@dataclass(frozen=True, slots=True)
class Step:
    """An allowed transition: `action` taken by one of `by`, from a task in one of
    `from_statuses` (and, if given, one of `from_business`), leaves it in `to_status` with
    `business_status` (None: keep the current business status, e.g. an interim report).
    `after_close`: the step is allowed from the closed statuses it names (e.g. an amended
    report after the final one); every other step is refused once a task is closed."""

    action: str
    by: frozenset[Role]
    from_statuses: frozenset[TaskStatus]
    to_status: TaskStatus
    business_status: str | None
    from_business: frozenset[str] | None = None
    after_close: bool = False


@dataclass(frozen=True, slots=True)
class TimedStep:
    """A step the hub takes itself when a task has sat in `business_status` for `after`."""

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
    # business status -> what its deadline counts from (absent: Clock.SINCE)
    deadline_clocks: dict[str, Clock] = field(default_factory=dict)
    opened_business_status: str = "requested"
    priorities: tuple[str, ...] = ()  # empty: any priority string
    role_names: dict[Role, str] = field(default_factory=dict)  # the flow's word for each

    def step(self, action: str) -> Step | None:
        return next((s for s in self.steps if s.action == action), None)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a task's times carry their zone: {moment.isoformat()} has none")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat()


def _parse(value: str) -> datetime:
    return _utc(datetime.fromisoformat(value))


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
    escalation_level: int = 0  # 0 none, 1 parties told, 2 office told (for this deadline)
    applied: tuple[str, ...] = ()  # event ids of the last steps (a redelivery is a no-op)
    history: tuple[tuple[str, str, datetime], ...] = ()  # (action, member, at), the last ones
    extra: dict[str, Any] = field(default_factory=dict)  # the flow's own fields (JSON values)
    # the flow's deadline for the current state (e.g. an appointment plus grace): used
    # instead of the configured one; cleared when the task enters another state
    due_override: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "requester": self.requester,
            "performer": self.performer,
            "priority": self.priority,
            "status": self.status.value,
            "business_status": self.business_status,
            "since": _iso(self.since),
            "opened_at": _iso(self.opened_at),
            "escalation_level": self.escalation_level,
            "applied": list(self.applied),
            "history": [[action, member, _iso(at)] for action, member, at in self.history],
            "extra": dict(self.extra),
            "due_override": None if self.due_override is None else _iso(self.due_override),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Task:
        override = value.get("due_override")
        return cls(
            task_id=value["task_id"],
            requester=value["requester"],
            performer=value["performer"],
            priority=value["priority"],
            status=TaskStatus(value["status"]),
            business_status=value["business_status"],
            since=_parse(value["since"]),
            opened_at=_parse(value["opened_at"]),
            escalation_level=int(value.get("escalation_level", 0)),
            applied=tuple(value.get("applied", ())),
            history=tuple((action, member, _parse(at))
                          for action, member, at in value.get("history", ())),
            extra=dict(value.get("extra", {})),
            due_override=None if override is None else _parse(override),
        )


class RefusalCode(StrEnum):
    NOT_A_PARTY = "NOT_A_PARTY"  # neither the requester, the performer nor the hub
    UNKNOWN_STEP = "UNKNOWN_STEP"  # the flow has no such action
    ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"  # a party, but the step is the other's
    TASK_CLOSED = "TASK_CLOSED"  # the task is in a terminal status
    STEP_NOT_ALLOWED = "STEP_NOT_ALLOWED"  # not from the task's status / business status


# messages.toml keys, parameters {member}, {action}, {state} ("STATUS/business status")
REFUSAL_MESSAGES: dict[RefusalCode, str] = {
    RefusalCode.NOT_A_PARTY: "coordination.not_a_party",
    RefusalCode.UNKNOWN_STEP: "coordination.unknown_step",
    RefusalCode.ROLE_NOT_ALLOWED: "coordination.role_not_allowed",
    RefusalCode.TASK_CLOSED: "coordination.task_closed",
    RefusalCode.STEP_NOT_ALLOWED: "coordination.step_not_allowed",
}


@dataclass(frozen=True, slots=True)
class Applied:
    task: Task
    step: Step | None  # None: a repeat of a step already applied (event id seen): no output
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """A coded reason (a RefusalCode value) and a messages.toml key with its parameters."""

    code: str
    message: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Escalation:
    task: Task  # with escalation_level raised
    level: int
    due_at: datetime
