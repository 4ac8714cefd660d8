"""One read request's state as the `remote-read-tasks` table stores it: the coordination
task (hub.rules.coordination; requester the examining member, performer the reading
member) and what the reader rules, outputs and figures need. Only the pseudonym and the
sealed patient block: never an identity in clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from hub.rules.coordination import Task
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.coordination import TERMINAL_STATUSES, TaskStatus
from schemas.models.remote_read import PatientSetting, Reader, ReadModality, ReadReport, ReadRequest

_TIMES = ("images_at", "report_due_at", "info_requested_at", "preliminary_at", "final_at",
          "closed_at")
_READERS = ("claimant", "writer")


def fingerprint(request: ReadRequest) -> str:
    """What makes two requests the same: every field but the envelope, and the patient by
    pseudonym (the sealed block differs each time it is sealed)."""
    body = request.model_dump_json(exclude={"envelope", "patient"})
    return hashlib.sha256(f"{request.patient.key}|{body}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ReadRecord:
    task: Task
    accession: str
    modality: ReadModality
    priority: OrderPriority
    setting: PatientSetting
    complex_study: bool
    item_code: str | None
    local_code: str
    item_name: str | None
    study_ref: str  # the study UID, else the ECG record / slide reference, else accession
    pseudonym: str
    sealed_patient: str  # opened only for the two members
    request_event_id: str
    fingerprint: str
    first_reader: str  # the centre the route named first
    backup: str | None  # where a late read is re-routed (None: nowhere, or already there)
    limit: str  # the report limit the request runs on ("4wh"), for the figures
    request: dict[str, Any]  # the pseudonymous request, sent on to a backup centre
    images_at: datetime | None = None  # the report clock's start
    report_due_at: datetime | None = None
    paused_s: int = 0  # seconds spent waiting for the examining member's information
    info_requested_at: datetime | None = None
    claimant: Reader | None = None
    writer: Reader | None = None
    report: ReadReport | None = None  # the latest report
    report_refs: tuple[str, ...] = ()  # every report_ref issued, oldest first
    preliminary_at: datetime | None = None
    final_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def request_id(self) -> str:
        return self.task.task_id

    @property
    def examining(self) -> str:
        return self.task.requester

    @property
    def reading(self) -> str:
        return self.task.performer

    @property
    def is_closed(self) -> bool:
        """Nothing owed any more (a final report may still be amended)."""
        return self.task.status in TERMINAL_STATUSES

    @property
    def is_final(self) -> bool:
        return self.task.status is TaskStatus.COMPLETED

    def sealed(self) -> Patient:
        return Patient(key=self.pseudonym, sealed=self.sealed_patient.encode("ascii"))

    def with_task(self, task: Task, **changes: Any) -> ReadRecord:
        return replace(self, task=task, **changes)

    def to_json(self) -> dict[str, Any]:
        read: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "task":
                continue
            if f.name in _TIMES:
                value = None if value is None else value.astimezone(UTC).isoformat()
            elif f.name in _READERS or f.name == "report":
                value = None if value is None else value.model_dump(mode="json")
            elif f.name == "report_refs":
                value = list(value)
            elif isinstance(value, ReadModality | OrderPriority | PatientSetting):
                value = value.value
            read[f.name] = value
        return {"task": self.task.to_json(), "read": read}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ReadRecord:
        read = dict(value["read"])
        for name in _TIMES:
            if read.get(name) is not None:
                read[name] = datetime.fromisoformat(read[name]).astimezone(UTC)
        for name in _READERS:
            if read.get(name) is not None:
                read[name] = Reader.model_validate(read[name])
        if read.get("report") is not None:
            read["report"] = ReadReport.model_validate(read["report"])
        read["report_refs"] = tuple(read.get("report_refs", ()))
        read["modality"] = ReadModality(read["modality"])
        read["priority"] = OrderPriority(read["priority"])
        read["setting"] = PatientSetting(read["setting"])
        return cls(task=Task.from_json(value["task"]), **read)


def closed_since(value: dict[str, Any]) -> datetime | None:
    """When a stored read request closed (None: open), without loading it."""
    closed = value["read"].get("closed_at")
    return None if closed is None else datetime.fromisoformat(closed).astimezone(UTC)


def stored_task(value: dict[str, Any]) -> Task:
    """A stored read request's coordination task, without loading the rest."""
    return Task.from_json(value["task"])


def stored_modality(value: dict[str, Any]) -> str:
    return str(value["read"]["modality"])
