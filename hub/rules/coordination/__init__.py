"""One state machine for every coordination flow (a task one member asks another to do:
a referral, a remote read), after FHIR R4 Task. A flow is configured by a data file
(`schemas/reference/coordination/<flow>.toml`): its steps, who may take each, a deadline
per state and priority, escalation and automatic closing. No flow's words live here."""

from hub.rules.coordination.machine import (
    Applied,
    Escalation,
    FlowConfig,
    Refused,
    Role,
    Step,
    Task,
    TimedStep,
    apply,
    due_at,
    escalation_due,
    open_task,
    timed_step_due,
)

__all__ = [
    "Applied",
    "Escalation",
    "FlowConfig",
    "Refused",
    "Role",
    "Step",
    "Task",
    "TimedStep",
    "apply",
    "due_at",
    "escalation_due",
    "open_task",
    "timed_step_due",
]
