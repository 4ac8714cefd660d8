"""A coordination flow's configuration, read from its data file
(`schemas/reference/coordination/<flow>.toml`, parsed by schemas.reference.coordination)
and checked here: every status, role, priority and business status a step, deadline or
timed step names must exist, durations are written "30m", "2h", "7d" and never negative.
An error names the entry it is about (`steps[3] (ACCEPTED): ...`)."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import Any

from hub.rules.coordination.model import Clock, FlowConfig, Role, Step, TimedStep
from schemas.models.coordination import TERMINAL_STATUSES, TaskStatus
from schemas.reference.coordination import load_flow_table

_DURATION = re.compile(r"^\s*(-?)\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class FlowConfigError(ValueError):
    """A flow's configuration file says something the machine cannot run."""


def duration(value: object, where: str) -> timedelta:
    """"30m", "2h", "7d" as a timedelta."""
    found = _DURATION.match(value) if isinstance(value, str) else None
    if found is None:
        raise FlowConfigError(f"{where}: {value!r} is not a duration like 30m, 2h or 7d")
    if found.group(1):
        raise FlowConfigError(f"{where}: duration {value!r} is negative")
    return timedelta(**{_UNITS[found.group(3)]: int(found.group(2))})


def _names(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise FlowConfigError(f"{where}: expected a name or a non-empty list of names")
    return items


def _statuses(value: object, where: str) -> frozenset[TaskStatus]:
    known = {s.value for s in TaskStatus}
    names = _names(value, where)
    for name in names:
        if name not in known:
            raise FlowConfigError(f"{where}: unknown status {name!r} (one of {sorted(known)})")
    return frozenset(TaskStatus(name) for name in names)


def _roles(value: object, where: str) -> frozenset[Role]:
    known = {r.value for r in Role}
    names = _names(value, where)
    for name in names:
        if name not in known:
            raise FlowConfigError(f"{where}: unknown role {name!r} (one of {sorted(known)})")
    return frozenset(Role(name) for name in names)


def _step(raw: dict[str, Any], where: str) -> Step:
    action = raw.get("action")
    if not isinstance(action, str) or not action:
        raise FlowConfigError(f"{where}: a step needs an action")
    where = f"{where} ({action})"
    unknown = set(raw) - {"action", "by", "from", "from_business", "to", "business_status",
                          "after_close"}
    if unknown:
        raise FlowConfigError(f"{where}: unknown keys {sorted(unknown)}")
    after_close = raw.get("after_close", False)
    if not isinstance(after_close, bool):
        raise FlowConfigError(f"{where}: after_close must be true or false")
    sources = _statuses(raw.get("from"), f"{where} from")
    closed = sources & TERMINAL_STATUSES
    if closed and not after_close:
        raise FlowConfigError(f"{where}: nothing leaves a closed status {sorted(closed)} "
                              "(unless the step says after_close = true)")
    if not isinstance(raw.get("to"), str):
        raise FlowConfigError(f"{where} to: expected one status")
    (target,) = _statuses(raw["to"], f"{where} to")
    if after_close and (not closed or target not in closed):
        raise FlowConfigError(f"{where}: an after_close step goes from a closed status to "
                              "a closed status (it amends, it does not reopen)")
    business = raw.get("business_status")
    if business is not None and not isinstance(business, str):
        raise FlowConfigError(f"{where}: business_status must be a name")
    from_business = raw.get("from_business")
    return Step(action=action, by=_roles(raw.get("by"), f"{where} by"),
                from_statuses=sources, to_status=target, business_status=business,
                after_close=after_close,
                from_business=None if from_business is None
                else frozenset(_names(from_business, f"{where} from_business")))


def _tables(parsed: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = parsed.get(key, [])
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise FlowConfigError(f"{key}: expected a list of tables ([[{key}]])")
    return found


def _deadlines(raw: dict[str, Any], priorities: tuple[str, ...]
               ) -> tuple[dict[tuple[str, str], timedelta], dict[str, Clock]]:
    limits: dict[tuple[str, str], timedelta] = {}
    clocks: dict[str, Clock] = {}
    for business, table in raw.items():
        where = f"deadlines.{business}"
        if not isinstance(table, dict):
            raise FlowConfigError(f"{where}: expected a table of priorities")
        for key, value in table.items():
            if key == "clock":
                if value not in {c.value for c in Clock}:
                    raise FlowConfigError(f"{where}.clock: {value!r} is not since or opened")
                clocks[business] = Clock(value)
            elif priorities and key not in priorities:
                raise FlowConfigError(f"{where}: unknown priority {key!r}")
            else:
                limits[(business, key)] = duration(value, f"{where}.{key}")
    return limits, clocks


def flow_config(parsed: dict[str, Any]) -> FlowConfig:
    """The checked configuration of a flow from its parsed data file."""
    flow = parsed.get("flow")
    if not isinstance(flow, str) or not flow:
        raise FlowConfigError("flow: the file must name its flow")
    opened = parsed.get("opened_business_status", "requested")
    if not isinstance(opened, str) or not opened:
        raise FlowConfigError("opened_business_status: expected a name")
    raw_priorities = parsed.get("priorities")  # absent: any priority the flow sends
    priorities = () if raw_priorities is None else tuple(_names(raw_priorities, "priorities"))
    steps = tuple(_step(raw, f"steps[{i}]") for i, raw in enumerate(_tables(parsed, "steps")))
    if not steps:
        raise FlowConfigError(f"{flow}: no steps")
    actions = [s.action for s in steps]
    twice = sorted({a for a in actions if actions.count(a) > 1})
    if twice:
        raise FlowConfigError(f"steps: {twice} defined twice")
    reached = {opened} | {s.business_status for s in steps if s.business_status is not None}
    for i, step in enumerate(steps):
        undefined = (step.from_business or frozenset()) - reached
        if undefined:
            raise FlowConfigError(
                f"steps[{i}] ({step.action}) from_business: no step reaches {sorted(undefined)}")
    deadlines = parsed.get("deadlines", {})
    if not isinstance(deadlines, dict):
        raise FlowConfigError("deadlines: expected a table per business status")
    limits, clocks = _deadlines(deadlines, priorities)
    for business in {b for b, _ in limits} | set(clocks):
        if business not in reached:
            raise FlowConfigError(f"deadlines.{business}: no step reaches {business!r}")
    timed = tuple(_timed(raw, f"timed_steps[{i}]", steps, reached)
                  for i, raw in enumerate(_tables(parsed, "timed_steps")))
    return FlowConfig(
        flow=flow, steps=steps, deadlines=limits,
        office_after=duration(parsed.get("office_after"), "office_after"),
        timed_steps=timed, deadline_clocks=clocks, opened_business_status=opened,
        priorities=priorities, role_names=_role_names(parsed.get("roles", {})))


def _role_names(raw: object) -> dict[Role, str]:
    if not isinstance(raw, dict):
        raise FlowConfigError("roles: expected a table role = name")
    _roles(list(raw) or [Role.HUB.value], "roles")
    return {Role(role): str(name) for role, name in raw.items()}


def _timed(raw: dict[str, Any], where: str, steps: tuple[Step, ...],
           reached: set[str]) -> TimedStep:
    business, action = raw.get("business_status"), raw.get("action")
    if business not in reached:
        raise FlowConfigError(f"{where}: no step reaches business status {business!r}")
    step = next((s for s in steps if s.action == action), None)
    if step is None or Role.HUB not in step.by:
        raise FlowConfigError(f"{where}: {action!r} is not a step the hub takes")
    if step.from_business is not None and business not in step.from_business:
        raise FlowConfigError(f"{where}: {action} is not allowed from {business!r}")
    return TimedStep(business_status=str(business),
                     after=duration(raw.get("after"), f"{where}.after"), action=str(action))


@cache
def shipped_flow(flow: str) -> FlowConfig:
    """The configuration of `flow` as shipped in schemas/reference/coordination."""
    return flow_config(load_flow_table(flow))
