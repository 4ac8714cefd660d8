"""What mapping an HL7 message needs besides the message: who the member is, its code
maps, its time zone and the patient cache; and how event ids are derived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import hl7

from connectors.member.hl7.message import Hl7Message, get, parse_timestamp
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, Rejected, RejectReason, not_in_future
from schemas.models import Event, deterministic_id
from schemas.reference.messages import text


@dataclass(frozen=True, slots=True)
class Coded:
    """A coded element (CE/CWE): the member's code and the LOINC one, if either is sent."""

    local: str
    loinc: str
    text: str
    system: str


def coded(segment: hl7.Segment, field: int, repetition: int = 1) -> Coded:
    """CE-1..3 and the alternate CE-4..6; a triplet whose system is LN is the LOINC code."""
    local = loinc = text = system = ""
    for offset in (0, 3):
        code = get(segment, field, 1 + offset, repetition)
        name = get(segment, field, 2 + offset, repetition)
        coding_system = get(segment, field, 3 + offset, repetition)
        if not code:
            continue
        if coding_system.upper() in ("LN", "LOINC"):
            loinc = loinc or code
        elif not local:
            local, system = code, coding_system
        text = text or name
    return Coded(local, loinc, text, system)


@dataclass(frozen=True, slots=True)
class MappingContext:
    member_id: str
    codes: CodeMapper
    zone: ZoneInfo
    patients: PatientCache

    def event_id(self, message: Hl7Message, *parts: str) -> str:
        """Deterministic from the message: a resend of it (same MSH-3, MSH-4 and MSH-10)
        gives the same ids, so the hub drops the duplicates."""
        h = message.header
        return deterministic_id(
            self.member_id, "hl7", h.sending_app, h.sending_facility, h.control_id, *parts
        )

    def time(self, segment: hl7.Segment, field: int, index: int | None = None) -> datetime | None:
        name = str(segment[0][0])
        location = f"{name}[{index}]-{field}" if index is not None else f"{name}-{field}"
        at = parse_timestamp(get(segment, field, 1), self.zone, location)
        return not_in_future(at, location) if at is not None else None

    def first_time(
        self, message: Hl7Message, *candidates: tuple[hl7.Segment | None, int]
    ) -> datetime:
        """The first timestamp present among the candidates, else MSH-7 (required)."""
        for segment, field in candidates:
            if segment is not None:
                at = self.time(segment, field)
                if at is not None:
                    return at
        msh = message.first("MSH")
        at = self.time(msh, 7) if msh is not None else None
        if at is None:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_message_time"), "MSH-7")
        return at


EventList = list[Event]
