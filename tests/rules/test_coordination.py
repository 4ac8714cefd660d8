"""The coordination machine (hub/rules/coordination) configured as two-way referral
(schemas/reference/coordination/referral.toml): every allowed step, a refusal from every
state, the party checks, idempotency and the task's stored form. Deadlines, escalation,
timed steps and the configuration's checks: test_coordination_clock.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hub.rules.coordination import (
    HUB_MEMBER,
    Applied,
    RefusalCode,
    Refused,
    Role,
    Step,
    Task,
    apply,
    open_task,
    shipped_flow,
)
from schemas.models.coordination import TERMINAL_STATUSES, TaskStatus
from schemas.reference.messages import DEFAULT_LOCALE, Locale, catalogue, text

CONFIG = shipped_flow("referral")
T0 = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
VILLAGE, LEAD, OTHER = "village-01", "lead", "chc-east"
MEMBER_OF = {Role.REQUESTER: VILLAGE, Role.PERFORMER: LEAD, Role.HUB: HUB_MEMBER}
S = TaskStatus

# The lead's decisions (issue 26): action -> (by, from statuses, from business, to, business)
EXPECTED = {
    "RECEIVED": ("performer", {S.REQUESTED}, None, S.RECEIVED, "received"),
    "INFO_REQUESTED": ("performer", {S.REQUESTED, S.RECEIVED}, None, S.ON_HOLD,
                       "waiting-for-information"),
    "INFO_PROVIDED": ("requester", {S.ON_HOLD}, {"waiting-for-information"}, S.RECEIVED,
                      "information-provided"),
    "ACCEPTED": ("performer", {S.REQUESTED, S.RECEIVED}, None, S.ACCEPTED, "accepted"),
    "REJECTED": ("performer", {S.REQUESTED, S.RECEIVED, S.ON_HOLD}, None, S.REJECTED,
                 "rejected"),
    "REFERRED_ONWARD": ("performer", {S.REQUESTED, S.RECEIVED, S.ON_HOLD}, None, S.REJECTED,
                        "referred-onward"),
    "BOOKED": ("performer", {S.ACCEPTED}, None, S.ACCEPTED, "booked"),
    "REBOOKED": ("performer", {S.ACCEPTED}, {"booked", "no-show"}, S.ACCEPTED, "booked"),
    "ARRIVED": ("performer", {S.ACCEPTED}, None, S.IN_PROGRESS, "arrived"),
    "NO_SHOW": ("performer", {S.ACCEPTED}, {"booked"}, S.ACCEPTED, "no-show"),
    "INTERIM_REPORT": ("performer", {S.IN_PROGRESS}, None, S.IN_PROGRESS, None),
    "COMPLETED": ("performer", {S.IN_PROGRESS}, None, S.COMPLETED, "completed"),
    "FOLLOWED_UP": ("performer", {S.IN_PROGRESS}, None, S.COMPLETED, "followed-up"),
    "CANCELLED": ("requester", set(S) - TERMINAL_STATUSES, None, S.CANCELLED, "cancelled"),
    "EXPIRED": ("hub", {S.REQUESTED, S.RECEIVED, S.ACCEPTED},
                {"requested", "received", "information-provided", "no-show"}, S.FAILED,
                "expired"),
}

# Every state a task can be in: the opening one and every one a step leaves.
STATES = sorted({(S.REQUESTED, CONFIG.opened_business_status)} | {
    (step.to_status, step.business_status) for step in CONFIG.steps
    if step.business_status is not None})


def task_in(status: TaskStatus, business: str) -> Task:
    opened = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, "URGENT", T0, "open-1")
    return replace(opened, status=status, business_status=business)


def allowed(step: Step, status: TaskStatus, business: str) -> bool:
    return status in step.from_statuses and (
        step.from_business is None or business in step.from_business)


def test_the_referral_file_says_what_the_lead_decided() -> None:
    found = {step.action: (*sorted(step.by), step.from_statuses, step.from_business,
                           step.to_status, step.business_status) for step in CONFIG.steps}
    assert found == {action: (by, frozenset(sources), None if business is None
                              else frozenset(business), to, leaves)
                     for action, (by, sources, business, to, leaves) in EXPECTED.items()}
    assert CONFIG.role_names == {Role.REQUESTER: "referrer", Role.PERFORMER: "receiver"}


@pytest.mark.parametrize(("action", "status", "business"), [
    (step.action, status, business) for step in CONFIG.steps for status, business in STATES
    if allowed(step, status, business)])
def test_every_allowed_step_leaves_its_state(action: str, status: TaskStatus,
                                              business: str) -> None:
    step = CONFIG.step(action)
    assert step is not None
    (role,) = step.by
    task = task_in(status, business)
    at = T0 + timedelta(hours=3)
    result = apply(CONFIG, task, action, MEMBER_OF[role], at, "step-1")
    assert isinstance(result, Applied) and result.step == step and not result.repeated
    moved = result.task
    assert moved.status is step.to_status
    assert moved.business_status == (step.business_status or business)
    assert moved.since == (at if step.business_status else task.since)
    assert moved.history[-1] == (action, MEMBER_OF[role], at)
    assert moved.applied == ("open-1", "step-1")


@pytest.mark.parametrize(("status", "business"), STATES)
def test_every_state_refuses_the_steps_it_does_not_allow(status: TaskStatus,
                                                         business: str) -> None:
    task = task_in(status, business)
    refused = [step for step in CONFIG.steps if not allowed(step, status, business)]
    assert refused
    code = RefusalCode.TASK_CLOSED if status in TERMINAL_STATUSES \
        else RefusalCode.STEP_NOT_ALLOWED
    for step in refused:
        (role,) = step.by
        result = apply(CONFIG, task, step.action, MEMBER_OF[role], T0, "step-1")
        assert isinstance(result, Refused), step.action
        assert result.code == code
        assert result.params == {"action": step.action, "state": f"{status}/{business}",
                                 "member": MEMBER_OF[role]}


def test_accepting_a_cancelled_referral_is_refused_as_closed() -> None:
    opened = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, "URGENT", T0, "open-1")
    cancelled = apply(CONFIG, opened, "CANCELLED", VILLAGE, T0 + timedelta(minutes=5), "c")
    assert isinstance(cancelled, Applied)
    refused = apply(CONFIG, cancelled.task, "ACCEPTED", LEAD, T0 + timedelta(minutes=6), "a")
    assert isinstance(refused, Refused) and refused.code == "TASK_CLOSED"
    assert DEFAULT_LOCALE.render(text(refused.message, **refused.params)) == (
        "任务已结束（CANCELLED/cancelled），lead 不能再执行 ACCEPTED")


@pytest.mark.parametrize(("action", "member", "code"), [
    ("ACCEPTED", OTHER, RefusalCode.NOT_A_PARTY),  # a third member answering
    ("CANCELLED", OTHER, RefusalCode.NOT_A_PARTY),
    ("ACCEPTED", VILLAGE, RefusalCode.ROLE_NOT_ALLOWED),  # the referrer accepting
    ("REJECTED", VILLAGE, RefusalCode.ROLE_NOT_ALLOWED),
    ("CANCELLED", LEAD, RefusalCode.ROLE_NOT_ALLOWED),  # the receiver cancelling
    ("ACCEPTED", HUB_MEMBER, RefusalCode.ROLE_NOT_ALLOWED),  # the hub answers for nobody
    ("EXPIRED", LEAD, RefusalCode.ROLE_NOT_ALLOWED),  # only the hub expires
    ("EXPIRED", VILLAGE, RefusalCode.ROLE_NOT_ALLOWED),
    ("TELEPORTED", LEAD, RefusalCode.UNKNOWN_STEP),
])
def test_only_the_right_party_takes_a_step(action: str, member: str,
                                           code: RefusalCode) -> None:
    task = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, "URGENT", T0, "open-1")
    result = apply(CONFIG, task, action, member, T0 + timedelta(minutes=1), "step-1")
    assert isinstance(result, Refused) and result.code == code
    assert result.params["member"] == member and result.params["action"] == action


def test_a_third_member_is_refused_even_on_a_closed_task() -> None:
    closed = task_in(S.CANCELLED, "cancelled")
    result = apply(CONFIG, closed, "ACCEPTED", OTHER, T0, "step-1")
    assert isinstance(result, Refused) and result.code == "NOT_A_PARTY"


def test_every_refusal_has_its_text_in_both_languages() -> None:
    task = task_in(S.REQUESTED, "requested")
    result = apply(CONFIG, task, "ACCEPTED", OTHER, T0, "step-1")
    assert isinstance(result, Refused)
    assert DEFAULT_LOCALE.render(text(result.message, **result.params)) == (
        "chc-east 不是此任务的任何一方，不能执行 ACCEPTED（任务状态 REQUESTED/requested）")
    assert Locale.of("en", "Asia/Shanghai").render(text(result.message, **result.params)) == (
        "chc-east is not a party to this task and cannot take ACCEPTED "
        "(task state REQUESTED/requested)")
    keys = {f"coordination.{code.value.lower()}" for code in RefusalCode}
    assert keys <= set(catalogue().messages)


def test_a_repeated_event_is_applied_once() -> None:
    task = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, "URGENT", T0, "open-1")
    first = apply(CONFIG, task, "ACCEPTED", LEAD, T0 + timedelta(minutes=9), "acc-1")
    assert isinstance(first, Applied)
    booked = apply(CONFIG, first.task, "BOOKED", LEAD, T0 + timedelta(minutes=10), "book-1")
    assert isinstance(booked, Applied)
    for event_id in ("acc-1", "open-1", "book-1"):  # late redeliveries, even of an older step
        again = apply(CONFIG, booked.task, "ACCEPTED", LEAD, T0 + timedelta(hours=1), event_id)
        assert again == Applied(task=booked.task, step=None, repeated=True)


def test_a_task_remembers_a_bounded_number_of_steps() -> None:
    task = task_in(S.IN_PROGRESS, "arrived")
    for n in range(100):
        result = apply(CONFIG, task, "INTERIM_REPORT", LEAD, T0 + timedelta(minutes=n), f"i{n}")
        assert isinstance(result, Applied)
        task = result.task
    assert len(task.applied) == 64 and task.applied[-1] == "i99" and "i35" not in task.applied
    assert len(task.history) == 64 and task.history[-1][0] == "INTERIM_REPORT"
    assert task.business_status == "arrived" and task.since == T0  # an interim report keeps it


def test_a_task_stores_as_json_and_reads_back_exactly() -> None:
    beijing = timezone(timedelta(hours=8))
    task = open_task(CONFIG, "village-01:R1", VILLAGE, LEAD, "EMERGENCY",
                     datetime(2026, 12, 7, 9, 30, 15, 250000, tzinfo=beijing), "open-1")
    accepted = apply(CONFIG, task, "ACCEPTED", LEAD, T0 + timedelta(minutes=20), "acc-1")
    assert isinstance(accepted, Applied)
    stored = replace(accepted.task, escalation_level=1, extra={"pool_id": "card-2026-12"},
                     due_override=T0 + timedelta(days=2))
    written = json.loads(json.dumps(stored.to_json()))
    assert written["opened_at"] == "2026-12-07T01:30:15.250000+00:00"
    assert written["status"] == "ACCEPTED" and written["applied"] == ["open-1", "acc-1"]
    assert Task.from_json(written) == stored
    assert Task.from_json(written).to_json() == written
    plain = Task.from_json(json.loads(json.dumps(task.to_json())))
    assert plain == task and plain.due_override is None and plain.opened_at.tzinfo is UTC


def test_open_task_refuses_what_it_cannot_keep() -> None:
    with pytest.raises(ValueError, match="priority"):
        open_task(CONFIG, "x:1", VILLAGE, LEAD, "WHENEVER", T0, "open-1")
    with pytest.raises(ValueError, match="zone"):
        open_task(CONFIG, "x:1", VILLAGE, LEAD, "URGENT", T0.replace(tzinfo=None), "open-1")
    with pytest.raises(ValueError, match="hub"):
        open_task(CONFIG, "x:1", HUB_MEMBER, LEAD, "URGENT", T0, "open-1")


def test_the_machine_holds_no_flow_words() -> None:
    """Remote diagnosis reuses it: the referral's words live only in its data file."""
    package = Path(__file__).resolve().parents[2] / "hub" / "rules" / "coordination"
    sources = sorted(package.glob("*.py"))
    assert {p.name for p in sources} >= {"machine.py", "model.py", "config.py"}
    for source in sources:
        body = source.read_text(encoding="utf-8").lower()
        for word in ("referral", "referrer", "referred", "转诊", "booked", "no-show"):
            assert word not in body, (source.name, word)

