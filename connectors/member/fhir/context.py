"""What mapping a FHIR resource needs besides the resource, and how event ids are made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from connectors.member.fhir.resources import Resource, content_key, to_datetime
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, Rejected, RejectReason, not_in_future
from schemas.models import deterministic_id
from schemas.reference.messages import text as msg

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FhirContext:
    member_id: str
    codes: CodeMapper
    zone: ZoneInfo
    patients: PatientCache

    def event_id(self, resource: Resource, *parts: str) -> str:
        """deterministic_id(member, "fhir", type, key): the key is the resource's first
        identifier, else its id, else a hash of its content, so a resend of the same
        resource gives the same id and the hub drops the duplicate."""
        return deterministic_id(self.member_id, "fhir", resource.get_resource_type(),
                                content_key(resource), *parts)

    def first_time(self, resource: Resource, *fields: str) -> datetime:
        """The first of the resource's time fields that is present (one is required)."""
        kind = resource.get_resource_type()
        for field in fields:
            value = getattr(resource, field, None)
            if field.endswith("Period") and value is not None:
                value = value.start
            at = to_datetime(value, self.zone, f"{kind}.{field}")
            if at is not None:
                return not_in_future(at, f"{kind}.{field}")
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_time",
                                                       fields=" / ".join(fields)),
                       f"{kind}.{fields[0]}")


def status_of(resource: Resource, table: dict[str, T]) -> T:
    status = str(resource.status or "")
    if status not in table:
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.status", status=status, accepted=", ".join(table)),
                       f"{resource.get_resource_type()}.status")
    return table[status]
