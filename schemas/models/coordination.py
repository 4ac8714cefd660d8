"""Words shared by every coordination flow (two-way referral, remote diagnosis): the state
of a task one member asks another to do, after FHIR R4 Task.status. Flow-specific steps
(booked, arrived, claimed, ...) are a task's business status, never new states."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    REQUESTED = "REQUESTED"
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


# Nothing moves a task out of these.
TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset({
    TaskStatus.REJECTED, TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED,
})
