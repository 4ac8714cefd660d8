"""The coordination machine's clock, configured as two-way referral: every deadline per
priority (times passed in, never read), both escalation levels and no repeat, the
opened-vs-since clock, the flow's own deadline, the hub's timed step; and the checks of a
flow's configuration file."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.rules.coordination import (
    HUB_MEMBER,
    Applied,
    FlowConfigError,
    Task,
    apply,
    due_at,
    escalation_due,
    flow_config,
    open_task,
    set_due,
    shipped_flow,
    timed_step_due,
)
from schemas.models.coordination import TaskStatus
from schemas.reference.coordination import load_flow_table

CONFIG = shipped_flow("referral")
T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
VILLAGE, LEAD = "village-01", "lead"
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
STEP_BY = {"INFO_PROVIDED": VILLAGE, "CANCELLED": VILLAGE, "EXPIRED": HUB_MEMBER}

# business status -> the steps that reach it, whether its clock runs from the opening,
# and its limits (EMERGENCY, URGENT, ROUTINE) from the domain notes
DEADLINES = {
    "requested": ((), True, ("30m", "2h", "24h")),
    "received": (("RECEIVED",), True, ("30m", "2h", "24h")),
    "information-provided": (("INFO_REQUESTED", "INFO_PROVIDED"), False, ("30m", "2h", "24h")),
    "waiting-for-information": (("INFO_REQUESTED",), False, ("2h", "8h", "48h")),
    "accepted": (("ACCEPTED",), False, ("1h", "4h", "24h")),
    "arrived": (("ACCEPTED", "BOOKED", "ARRIVED"), False, ("2d", "7d", "30d")),
}
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def limit(written: str) -> timedelta:
    return timedelta(**{UNITS[written[-1]]: int(written[:-1])})


def walk(priority: str, actions: tuple[str, ...], start: datetime = T0) -> Task:
    """A task opened at `start`, then taken through `actions` an hour apart."""
    task = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, priority, start, "open")
    for n, action in enumerate(actions, start=1):
        result = apply(CONFIG, task, action, STEP_BY.get(action, LEAD), start + n * HOUR,
                       f"e{n}")
        assert isinstance(result, Applied), result
        task = result.task
    return task


@pytest.mark.parametrize(("business", "priority", "written"), [
    (business, priority, written) for business, (_, _, limits) in DEADLINES.items()
    for priority, written in zip(("EMERGENCY", "URGENT", "ROUTINE"), limits, strict=True)])
def test_every_state_falls_due_and_escalates_twice_then_stops(
        business: str, priority: str, written: str) -> None:
    actions, from_opening, _ = DEADLINES[business]
    task = walk(priority, actions)
    assert task.business_status == business
    due = (T0 if from_opening else T0 + len(actions) * HOUR) + limit(written)
    assert due_at(CONFIG, task) == due
    assert escalation_due(CONFIG, task, due - SECOND) is None
    parties = escalation_due(CONFIG, task, due)
    assert parties is not None and parties.level == 1 and parties.due_at == due
    assert parties.task == Task.from_json({**task.to_json(), "escalation_level": 1})
    told = parties.task
    assert escalation_due(CONFIG, told, due + 2 * HOUR - SECOND) is None  # no repeat
    office = escalation_due(CONFIG, told, due + 2 * HOUR)
    assert office is not None and office.level == 2 and office.due_at == due
    assert escalation_due(CONFIG, office.task, due + 30 * timedelta(days=1)) is None


def test_a_late_sweep_tells_the_parties_before_the_office() -> None:
    task = walk("URGENT", ())
    late = T0 + 10 * HOUR
    first = escalation_due(CONFIG, task, late)
    assert first is not None and first.level == 1
    second = escalation_due(CONFIG, first.task, late)
    assert second is not None and second.level == 2
    assert escalation_due(CONFIG, second.task, late) is None


def test_the_answer_limit_counts_from_the_request_even_once_received() -> None:
    task = walk("URGENT", ())
    received = apply(CONFIG, task, "RECEIVED", LEAD, T0 + timedelta(minutes=110), "r")
    assert isinstance(received, Applied)
    assert due_at(CONFIG, received.task) == T0 + 2 * HOUR  # not 110 minutes + 2 hours
    escalated = escalation_due(CONFIG, task, T0 + 2 * HOUR)
    assert escalated is not None
    # The same deadline after the step: the parties are not told twice.
    again = apply(CONFIG, escalated.task, "RECEIVED", LEAD, T0 + 3 * HOUR, "r")
    assert isinstance(again, Applied) and again.task.escalation_level == 1
    assert escalation_due(CONFIG, again.task, T0 + 3 * HOUR) is None
    # A state with its own clock restarts the escalations.
    accepted = apply(CONFIG, again.task, "ACCEPTED", LEAD, T0 + 3 * HOUR, "a")
    assert isinstance(accepted, Applied) and accepted.task.escalation_level == 0
    assert due_at(CONFIG, accepted.task) == T0 + 7 * HOUR


def test_the_flow_times_a_booking_itself() -> None:
    booked = walk("ROUTINE", ("ACCEPTED", "BOOKED"))
    assert due_at(CONFIG, booked) is None  # no deadline in the table for a booking
    appointment = T0 + timedelta(days=5)
    timed = set_due(booked, appointment + timedelta(days=1))
    assert due_at(CONFIG, timed) == appointment + timedelta(days=1)
    assert escalation_due(CONFIG, timed, appointment + timedelta(hours=23)) is None
    escalated = escalation_due(CONFIG, timed, appointment + timedelta(days=1))
    assert escalated is not None and escalated.level == 1
    moved = set_due(escalated.task, appointment + timedelta(days=3))  # rebooked later
    assert moved.escalation_level == 0 and set_due(moved, moved.due_override) is moved
    no_show = apply(CONFIG, moved, "NO_SHOW", LEAD, appointment + timedelta(days=1), "n")
    assert isinstance(no_show, Applied)
    assert no_show.task.due_override is None and due_at(CONFIG, no_show.task) is None


def test_the_flow_deadline_wins_over_the_table() -> None:
    accepted = walk("EMERGENCY", ("ACCEPTED",))
    assert due_at(CONFIG, accepted) == T0 + 2 * HOUR
    assert due_at(CONFIG, set_due(accepted, T0 + 9 * HOUR)) == T0 + 9 * HOUR
    interim = walk("EMERGENCY", ("ACCEPTED", "BOOKED", "ARRIVED"))
    kept = apply(CONFIG, set_due(interim, T0 + 9 * HOUR), "INTERIM_REPORT", LEAD,
                 T0 + 5 * HOUR, "i")
    assert isinstance(kept, Applied) and kept.task.due_override == T0 + 9 * HOUR


def test_a_closed_task_never_falls_due() -> None:
    cancelled = walk("EMERGENCY", ("CANCELLED",))
    assert cancelled.status is TaskStatus.CANCELLED
    assert due_at(CONFIG, cancelled) is None
    assert escalation_due(CONFIG, set_due(cancelled, T0), T0 + 99 * HOUR) is None
    assert timed_step_due(CONFIG, cancelled, T0 + 99 * HOUR) is None


def test_a_no_show_expires_seven_days_later_unless_rebooked() -> None:
    no_show = walk("ROUTINE", ("ACCEPTED", "BOOKED", "NO_SHOW"))
    recorded = T0 + 3 * HOUR
    assert timed_step_due(CONFIG, no_show, recorded + timedelta(days=7) - SECOND) is None
    timed = timed_step_due(CONFIG, no_show, recorded + timedelta(days=7))
    assert timed is not None and timed.action == "EXPIRED"
    expired = apply(CONFIG, no_show, timed.action, HUB_MEMBER, recorded + timedelta(days=7),
                    "expire")
    assert isinstance(expired, Applied)
    assert (expired.task.status, expired.task.business_status) == (TaskStatus.FAILED, "expired")
    assert timed_step_due(CONFIG, expired.task, recorded + timedelta(days=30)) is None
    rebooked = apply(CONFIG, no_show, "REBOOKED", LEAD, recorded + timedelta(days=2), "rb")
    assert isinstance(rebooked, Applied)
    assert timed_step_due(CONFIG, rebooked.task, recorded + timedelta(days=30)) is None


# ------------------------------------------------------------ the configuration's checks

def shipped() -> dict[str, Any]:
    return copy.deepcopy(load_flow_table("referral"))


def step_named(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    return next(step for step in steps if step["action"] == action)


def _set(path: str, value: object) -> Any:
    def change(table: dict[str, Any]) -> None:
        *parents, key = path.split("/")
        target: Any = table
        for part in parents:
            target = step_named(target, part) if part.isupper() else target[part]
        target[key] = value
    return change


@pytest.mark.parametrize(("change", "error"), [
    (_set("steps/ACCEPTED/from", ["REQUESTED", "RECIEVED"]),
     r"steps\[3\] \(ACCEPTED\) from: unknown status 'RECIEVED'"),
    (_set("steps/ACCEPTED/to", "BOOKED"), r"steps\[3\] \(ACCEPTED\) to: unknown status"),
    (_set("steps/ACCEPTED/by", "referrer"), r"\(ACCEPTED\) by: unknown role 'referrer'"),
    (_set("steps/REBOOKED/from_business", ["booked", "noshow"]),
     r"steps\[7\] \(REBOOKED\) from_business: no step reaches \['noshow'\]"),
    (_set("steps/ARRIVED/from", ["ACCEPTED", "COMPLETED"]),
     r"\(ARRIVED\): nothing leaves a closed status"),
    (_set("steps/BOOKED/action", "ACCEPTED"), r"\['ACCEPTED'\] defined twice"),
    (_set("deadlines/accepted/URGENT", "-4h"), r"deadlines.accepted.URGENT: .* negative"),
    (_set("deadlines/accepted/URGENT", "4 hours"), r"deadlines.accepted.URGENT: .* like 30m"),
    (_set("deadlines/accepted/SOON", "4h"), r"deadlines.accepted: unknown priority 'SOON'"),
    (_set("deadlines/accepted/clock", "booked"), r"deadlines.accepted.clock"),
    (_set("deadlines/acepted", {"URGENT": "4h"}), r"deadlines.acepted: no step reaches"),
    (_set("office_after", "-2h"), r"office_after: duration '-2h' is negative"),
    (_set("timed_steps", [{"business_status": "no-show", "after": "7d",
                           "action": "CANCELLED"}]),
     r"timed_steps\[0\]: 'CANCELLED' is not a step the hub takes"),
    (_set("timed_steps", [{"business_status": "booked", "after": "7d",
                           "action": "EXPIRED"}]),
     r"timed_steps\[0\]: EXPIRED is not allowed from 'booked'"),
    (_set("roles", {"requester": "referrer", "sender": "x"}), r"roles: unknown role 'sender'"),
    (_set("steps", {"action": "RECEIVED"}), r"steps: expected a list of tables"),
    (_set("priorities", ["URGENT"]), r"deadlines.requested: unknown priority 'EMERGENCY'"),
    (_set("flow", ""), r"flow: the file must name its flow"),
])
def test_a_configuration_error_names_its_entry(change: Any, error: str) -> None:
    table = shipped()
    change(table)
    with pytest.raises(FlowConfigError, match=error):
        flow_config(table)


def test_the_shipped_file_loads_from_its_bytes_too() -> None:
    assert flow_config(load_flow_table("referral", b'flow = "x"\noffice_after = "1h"\n'
                                       b'[[steps]]\naction = "DONE"\nby = "performer"\n'
                                       b'from = "REQUESTED"\nto = "COMPLETED"\n'
                                       b'business_status = "done"\n')).flow == "x"
    with pytest.raises(ValueError, match="no coordination flow 'nope'"):
        load_flow_table("nope")
