"""Remote diagnosis in HL7 v2 (远程诊断): the examining member's RIS sends ORM^O01 or
OMI^O23 (a request, images available, cancelled), the reading centre's RIS sends ORU^R01 or
MDM^T02 (reports, critical values) and ORM^O01 (claims), to ReadRequest, ReadUpdate and
CriticalValueUpdate. The member guide (docs/member-integration.md, 远程诊断) is the profile.

Which messages are remote reads: every OMI^O23; an ORM^O01, ORU^R01, MDM^T02 or ACK^R01
carrying a ZRR or ZCV segment (an empty `ZRR|` will do); and one whose placer order number
(OBR-2, else ORC-2, else TXA-14) is a hub read request id `<member>:<accession>` of another
member, as the hub's ORM to the centre writes it and the centre's RIS echoes it. Any other ORM and
ORU stays an order or a result for recognition (orders.py, results.py).

Which side: the message is the reading centre's when its placer number names another
member's request, or ZRR-2 (else MSH-6) names another member whose study it is; otherwise
it is the examining member's, and its request id is `<this member>:<accession>`, the
accession being IPC-1, else OBR-18, else OBR-3, else ORC-3, else OBR-2.
"""

from __future__ import annotations

from dataclasses import dataclass

import hl7

from connectors.member.hl7.context import EventList, MappingContext
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.referral_parts import member_named, registry_of
from connectors.member.hl7.remote_read_reports import critical_values, report_update
from connectors.member.hl7.remote_read_request import examining_update, read_request
from connectors.member.hl7.remote_read_terms import step_fields
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.remote_read import read_request_id
from schemas.reference.messages import text

ALWAYS = frozenset({("OMI", "O23")})
WITH_Z_SEGMENT = frozenset({("ORM", "O01"), ("ORU", "R01"), ("MDM", "T02"), ("ACK", "R01")})
REMOTE_READ_TYPES: tuple[tuple[str, str], ...] = (("OMI", "O23"), ("ACK", "R01"))
NEW_ORDER = "NW"


def _kind(message: Hl7Message) -> tuple[str, str]:
    return message.header.message_type.upper(), message.header.trigger.upper()


def _placer(message: Hl7Message) -> str:
    """OBR-2, else ORC-2, else an MDM's TXA-14 (placer order number)."""
    for name, field in (("OBR", 2), ("ORC", 2), ("TXA", 14)):
        segment = message.first(name)
        if segment is not None and get(segment, field):
            return get(segment, field)
    return ""


def _hub_request(ctx: MappingContext, message: Hl7Message) -> tuple[str, str] | None:
    """(examining member, accession) when the placer number is a hub read request id."""
    member, sep, accession = _placer(message).partition(":")
    if sep and accession and registry_of(ctx).get(member) is not None:
        return member, accession
    return None


def is_remote_read(ctx: MappingContext, message: Hl7Message) -> bool:
    kind = _kind(message)
    if kind in ALWAYS:
        return True
    if kind not in WITH_Z_SEGMENT:
        return False
    if message.first("ZRR") is not None or message.first("ZCV") is not None:
        return True
    named = _hub_request(ctx, message)
    return named is not None and named[0] != ctx.member_id


@dataclass(frozen=True, slots=True)
class Side:
    request_id: str
    reading: bool  # the message is the reading centre's
    examining_member: str


def side_of(ctx: MappingContext, message: Hl7Message) -> Side:
    named = _hub_request(ctx, message)
    if named is not None:
        member, accession = named
        return Side(read_request_id(member, accession), member != ctx.member_id, member)
    registry = registry_of(ctx)
    step = step_fields(message.first("ZRR"))
    other = ""
    if step.examining_member:
        other = member_named(registry, step.examining_member) or ""
        if not other:
            raise Rejected(RejectReason.UNMAPPED_CODE, text(
                "connector.remote_read_unknown_member", value=step.examining_member), "ZRR-2")
    accession, location = _accession(message, reading=bool(other and other != ctx.member_id))
    if not accession:
        zcv = message.first("ZCV")
        accession, location = (get(zcv, 7) if zcv is not None else ""), "ZCV-7"
    if not accession:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.remote_read_no_accession"),
                       "OBR-18")
    if ":" in accession:  # a hub request id of this member, sent back as it was received
        member, _, accession = accession.partition(":")
        other = member if registry.get(member) is not None else other
    if other and other != ctx.member_id:
        return Side(read_request_id(other, accession), True, other)
    if ":" in accession or not accession.strip():
        raise Rejected(RejectReason.INVALID_VALUE, text(
            "connector.remote_read_bad_accession", value=accession), location)
    return Side(read_request_id(ctx.member_id, accession), False, ctx.member_id)


def _accession(message: Hl7Message, *, reading: bool) -> tuple[str, str]:
    obr, orc, ipc = message.first("OBR"), message.first("ORC"), message.first("IPC")
    candidates: list[tuple[hl7.Segment | None, int, str]] = [
        (ipc, 1, "IPC-1"), (obr, 18, "OBR-18"), (obr, 3, "OBR-3"), (orc, 3, "ORC-3"),
        (obr, 2, "OBR-2"), (orc, 2, "ORC-2")]
    if reading:  # the centre's own numbers (OBR-3) are not the examining member's accession
        candidates = [c for c in candidates if c[2] in ("IPC-1", "OBR-18", "OBR-2", "ORC-2")]
    for segment, field, location in candidates:
        value = get(segment, field) if segment is not None else ""
        if value:
            return value, location
    return "", "OBR-18"


def map_remote_read(ctx: MappingContext, message: Hl7Message) -> EventList:
    side = side_of(ctx, message)
    kind = _kind(message)
    events: EventList = []
    obr = message.first("OBR")
    if side.reading:
        if (obr is not None and kind in (("ORU", "R01"), ("ORM", "O01"))) or kind == ("MDM", "T02"):
            events.append(report_update(ctx, message, side.request_id))
        events += critical_values(ctx, message, side.request_id, reading=True)
        return events
    orc = message.first("ORC")
    if obr is not None and orc is not None and kind in (("ORM", "O01"), ("OMI", "O23")):
        if get(orc, 1).upper() == NEW_ORDER:
            events.append(read_request(ctx, message, side.request_id))
        else:
            events.append(examining_update(ctx, message, side.request_id))
    elif obr is not None and kind in (("ORU", "R01"), ("MDM", "T02")) \
            and message.first("ZCV") is None:  # a report that names no other member's study
        raise Rejected(RejectReason.MISSING_FIELD,
                       text("connector.remote_read_report_no_request"), "OBR-2")
    events += critical_values(ctx, message, side.request_id, reading=False)
    if not events:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.remote_read_nothing"), "ORC")
    return events
