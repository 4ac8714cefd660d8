"""One state machine for every coordination flow (a task one member asks another to do),
after FHIR R4 Task. A flow is configured by a data file
(`schemas/reference/coordination/<flow>.toml`, checked by config.py): its steps, who may
take each, a deadline per state and priority, escalation and the hub's own timed steps.
No flow's words live here: the same machine serves every such flow."""

from hub.rules.coordination.config import FlowConfigError, duration, flow_config, shipped_flow
from hub.rules.coordination.machine import (
    LEVEL_OFFICE,
    LEVEL_PARTIES,
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
    apply,
    due_at,
    escalation_due,
    open_task,
    roles_of,
    set_due,
    timed_step_due,
)
from hub.rules.coordination.model import HUB_MEMBER

__all__ = [
    "HUB_MEMBER",
    "LEVEL_OFFICE",
    "LEVEL_PARTIES",
    "Applied",
    "Clock",
    "Escalation",
    "FlowConfig",
    "FlowConfigError",
    "RefusalCode",
    "Refused",
    "Role",
    "Step",
    "Task",
    "TimedStep",
    "apply",
    "due_at",
    "duration",
    "escalation_due",
    "flow_config",
    "open_task",
    "roles_of",
    "set_due",
    "shipped_flow",
    "timed_step_due",
]
