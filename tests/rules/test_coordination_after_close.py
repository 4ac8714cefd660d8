"""The machine's one exception to "nothing leaves a closed status": a step the flow's file
lists with `after_close = true` (remote diagnosis: an amended report after the final one),
closed to closed. Every other step of a closed task is refused as before; referral keeps
no such step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.rules.coordination import (
    Applied,
    FlowConfig,
    FlowConfigError,
    RefusalCode,
    Refused,
    Task,
    apply,
    flow_config,
    open_task,
    shipped_flow,
)
from schemas.models.coordination import TaskStatus

T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
FLOW: dict[str, Any] = {
    "flow": "amendable", "office_after": "1h",
    "steps": [
        {"action": "DONE", "by": "performer", "from": "REQUESTED", "to": "COMPLETED",
         "business_status": "final"},
        {"action": "AMENDED", "by": "performer", "from": "COMPLETED", "to": "COMPLETED",
         "business_status": "amended", "after_close": True},
        {"action": "CANCELLED", "by": "requester", "from": "REQUESTED", "to": "CANCELLED",
         "business_status": "cancelled"},
    ],
}


def closed_task() -> tuple[Task, FlowConfig]:
    config = flow_config(FLOW)
    task = open_task(config, "t1", "village", "lead", "ROUTINE", T0, "e0")
    done = apply(config, task, "DONE", "lead", T0 + timedelta(hours=1), "e1")
    assert isinstance(done, Applied) and done.task.status is TaskStatus.COMPLETED
    return done.task, config


def test_a_step_listed_after_close_is_taken_from_the_closed_status() -> None:
    task, config = closed_task()
    amended = apply(config, task, "AMENDED", "lead", T0 + timedelta(hours=2), "e2")
    assert isinstance(amended, Applied)
    assert (amended.task.status, amended.task.business_status) == (TaskStatus.COMPLETED,
                                                                   "amended")
    again = apply(config, amended.task, "AMENDED", "lead", T0 + timedelta(hours=3), "e3")
    assert isinstance(again, Applied)


def test_other_steps_of_a_closed_task_are_still_refused() -> None:
    task, config = closed_task()
    refused = apply(config, task, "CANCELLED", "village", T0 + timedelta(hours=2), "e2")
    assert isinstance(refused, Refused) and refused.code == RefusalCode.TASK_CLOSED


def test_a_closed_source_without_after_close_is_a_configuration_error() -> None:
    steps = [dict(s) for s in FLOW["steps"]]
    del steps[1]["after_close"]
    with pytest.raises(FlowConfigError, match="after_close = true"):
        flow_config({**FLOW, "steps": steps})


def test_an_after_close_step_may_not_reopen_the_task() -> None:
    steps = [dict(s) for s in FLOW["steps"]]
    steps[1]["to"] = "IN_PROGRESS"
    with pytest.raises(FlowConfigError, match="does not reopen"):
        flow_config({**FLOW, "steps": steps})


def test_referral_lists_no_step_after_close() -> None:
    assert not any(step.after_close for step in shipped_flow("referral").steps)


def test_remote_read_amends_after_the_final_report_only() -> None:
    config = shipped_flow("remote_read")
    amendable = {s.action for s in config.steps if s.after_close}
    assert amendable == {"AMENDED_REPORT", "CORRECTED_REPORT"}
