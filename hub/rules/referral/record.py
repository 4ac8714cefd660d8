"""One referral's state as the `referral-tasks` table stores it: the coordination task
(hub.rules.coordination) and what the referral's outputs and figures need. Only the
pseudonym and the sealed patient block: never an identity in clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hub.rules.coordination import Task
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.coordination import TERMINAL_STATUSES
from schemas.models.referral import Booking, ReferralDirection, ReferralKind, ReferralRequest


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def fingerprint(request: ReferralRequest) -> str:
    """What makes two requests the same referral: every field but the envelope, and the
    patient by pseudonym (the sealed block differs each time it is sealed)."""
    body = request.model_dump_json(exclude={"envelope", "patient"})
    return hashlib.sha256(f"{request.patient.key}|{body}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ReferralRecord:
    task: Task
    referral_ref: str
    direction: ReferralDirection
    kind: ReferralKind
    priority: OrderPriority
    pseudonym: str
    sealed_patient: str  # the sealed patient block (ASCII), opened only for the parties
    request_event_id: str
    fingerprint: str
    request: dict[str, Any]  # the pseudonymous request, for a referral onward
    answer_due_at: datetime | None = None  # when the receiver had to answer
    returns_referral: str | None = None
    onward_of: str | None = None
    onward_referral_id: str | None = None
    booking: Booking | None = None
    answered_at: datetime | None = None  # first accepted, rejected or referred onward
    arrived_at: datetime | None = None
    followed_up_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def referral_id(self) -> str:
        return self.task.task_id

    @property
    def referrer(self) -> str:
        return self.task.requester

    @property
    def receiver(self) -> str:
        return self.task.performer

    @property
    def is_closed(self) -> bool:
        return self.task.status in TERMINAL_STATUSES

    def sealed(self) -> Patient:
        """The pseudonymous patient with its sealed block, for the sealer to open."""
        return Patient(key=self.pseudonym, sealed=self.sealed_patient.encode("ascii"))

    def with_task(self, task: Task, **changes: Any) -> ReferralRecord:
        return replace(self, task=task, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.to_json(),
            "referral": {
                "referral_ref": self.referral_ref, "direction": self.direction.value,
                "kind": self.kind.value, "priority": self.priority.value,
                "pseudonym": self.pseudonym, "sealed_patient": self.sealed_patient,
                "request_event_id": self.request_event_id, "fingerprint": self.fingerprint,
                "request": self.request, "answer_due_at": _iso(self.answer_due_at),
                "returns_referral": self.returns_referral, "onward_of": self.onward_of,
                "onward_referral_id": self.onward_referral_id,
                "booking": None if self.booking is None else self.booking.model_dump(
                    mode="json"),
                "answered_at": _iso(self.answered_at), "arrived_at": _iso(self.arrived_at),
                "followed_up_at": _iso(self.followed_up_at),
                "closed_at": _iso(self.closed_at),
            },
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ReferralRecord:
        r = value["referral"]
        booking = r.get("booking")
        return cls(
            task=Task.from_json(value["task"]), referral_ref=r["referral_ref"],
            direction=ReferralDirection(r["direction"]), kind=ReferralKind(r["kind"]),
            priority=OrderPriority(r["priority"]), pseudonym=r["pseudonym"],
            sealed_patient=r["sealed_patient"], request_event_id=r["request_event_id"],
            fingerprint=r["fingerprint"], request=r["request"],
            answer_due_at=_time(r.get("answer_due_at")),
            returns_referral=r.get("returns_referral"), onward_of=r.get("onward_of"),
            onward_referral_id=r.get("onward_referral_id"),
            booking=None if booking is None else Booking.model_validate(booking),
            answered_at=_time(r.get("answered_at")), arrived_at=_time(r.get("arrived_at")),
            followed_up_at=_time(r.get("followed_up_at")),
            closed_at=_time(r.get("closed_at")),
        )


def closed_since(value: dict[str, Any]) -> datetime | None:
    """When a stored referral closed (None: open), without loading it (the watchdog's
    pass over the whole table)."""
    return _time(value["referral"].get("closed_at"))
