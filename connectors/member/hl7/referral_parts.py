"""The parts of a referral message (REF/RRI) the referral mapper reads: the providers
(PRD) and the members they name, the hub's Z-segments (ZRF step, ZRD document, ZRI
insurance), documents sent as OBX reference pointers, and notes.

A member is named in a PRD by, in this order: PRD-7 (PLN-1 of any repetition), PRD-10
(XON-10 organisation id, then XON-1 name), PRD-4.4 (the location's facility), PRD-3.1 (the
first address line, where Chinese HIS often write the hospital). Each is read as a member id
of the registry or that member's name, ignoring case, '-', '_' and spaces: CHCEAST, chc_east
and 城东社区卫生服务中心 all name chc-east.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import hl7

from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.message import Hl7Message, get, parse_timestamp, repetitions
from connectors.member.mapping import Rejected, RejectReason
from connectors.settings import get_settings
from schemas.models.referral import Booking, DocumentKind, DocumentRef, InsuranceContinuity
from schemas.reference.messages import text
from schemas.reference.registry import Registry, load_registry

REFERRING_ROLES = frozenset({"RP"})
REFERRED_TO_ROLES = frozenset({"RT", "IR"})  # IR: "intended recipient" (HL7 Australia)
ZRF_FIELDS = 12  # what a member sends; the hub writes 20 (referral_out.py)
_FOLD = re.compile(r"[\s_\-]+")


@dataclass(frozen=True, slots=True)
class Provider:
    segment: hl7.Segment
    index: int  # 1-based among the message's PRD, for error locations

    def at(self, field: int) -> str:
        return f"PRD[{self.index}]-{field}"


def provider(message: Hl7Message, roles: frozenset[str]) -> Provider | None:
    for index, prd in enumerate(message.segments("PRD"), start=1):
        if get(prd, 1, 1).upper() in roles:
            return Provider(prd, index)
    return None


@cache
def packaged_registry() -> Registry:
    return load_registry(get_settings().registry_file)


def registry_of(ctx: MappingContext) -> Registry:
    """The registry the connector follows (hub.reference), else its packaged one."""
    registry = getattr(ctx.codes.tables(), "registry", None)
    return registry if isinstance(registry, Registry) else packaged_registry()


def member_named(registry: Registry, name: str) -> str | None:
    key = _FOLD.sub("", name).lower()
    if not key:
        return None
    for member in registry.members:
        if key in (_FOLD.sub("", member.id).lower(), _FOLD.sub("", member.name).lower()):
            return member.id
    return None


def member_of(registry: Registry, found: Provider | None, *, required: bool = False) -> str | None:
    """The member a PRD names, or None. PRD-7 often holds the doctor's own number, so
    values that name no member are refused only where the member is `required`."""
    if found is None:
        return None
    prd = found.segment
    candidates = [(get(prd, 7, 1, rep), found.at(7)) for rep in range(1, repetitions(prd, 7) + 1)]
    candidates += [(get(prd, 10, 10), found.at(10)), (get(prd, 10, 1), found.at(10)),
                   (get(prd, 4, 4), found.at(4)), (get(prd, 3, 1), found.at(3))]
    given = [(value, location) for value, location in candidates if value]
    for value, _ in given:
        member = member_named(registry, value)
        if member is not None:
            return member
    if required and given:
        values = ", ".join(dict.fromkeys(value for value, _ in given))
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.referral_unknown_facility", values=values), given[0][1])
    return None


@dataclass(frozen=True, slots=True)
class StepFields:
    """ZRF as a member sends it (the layout is in docs/member-integration.md)."""

    action: str = ""
    pool_id: str = ""
    slot_id: str = ""
    slot_start: str = ""
    encounter: str = ""
    onward_member: str = ""
    reason_code: str = ""
    note: str = ""
    downward_plan: str = ""
    location: str = ""
    direction: str = ""
    returns_referral: str = ""


def step_fields(message: Hl7Message) -> StepFields:
    zrf = message.first("ZRF")
    if zrf is None:
        return StepFields()
    return StepFields(*(get(zrf, n) for n in range(1, ZRF_FIELDS + 1)))


def booking(ctx: MappingContext, step: StepFields) -> Booking | None:
    if not step.pool_id:
        if step.slot_id or step.slot_start:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_pool"),
                           "ZRF-2")
        return None
    starts_at = parse_timestamp(step.slot_start, ctx.zone, "ZRF-4")  # a booking is ahead
    return Booking(pool_id=step.pool_id, slot_id=step.slot_id or None, starts_at=starts_at,
                   location=step.location or None)


def _kind(code: str) -> DocumentKind:
    return DocumentKind.__members__.get(code.strip().upper(), DocumentKind.OTHER)


def unknown_document_kinds(message: Hl7Message) -> tuple[Rejected, ...]:
    """ACK warnings (ERR severity W) for documents taken as OTHER because their kind was
    not understood: the document is kept, the HIS is told which value."""
    found = [(get(zrd, 2), f"ZRD[{n}]-2") for n, zrd in enumerate(message.segments("ZRD"), 1)]
    found += [(get(obx, 3, 1), f"OBX[{n}]-3") for n, obx in enumerate(message.segments("OBX"), 1)
              if get(obx, 2).upper() == "RP" and get(obx, 5, 3).upper() != "DICOM"]
    return tuple(Rejected(RejectReason.UNMAPPED_CODE,
                          text("connector.referral_document_kind", code=code), location)
                 for code, location in found
                 if code and code.strip().upper() not in DocumentKind.__members__)


def documents(ctx: MappingContext, message: Hl7Message) -> list[DocumentRef]:
    """ZRD|set id|kind|reference|title|issued at, and OBX of type RP (reference pointer:
    OBX-5 pointer^application^type; OBX-3 the kind or the title; type DICOM: a study)."""
    found: list[DocumentRef] = []
    for index, zrd in enumerate(message.segments("ZRD"), start=1):
        reference = get(zrd, 3)
        if not reference:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_document"),
                           f"ZRD[{index}]-3")
        found.append(DocumentRef(kind=_kind(get(zrd, 2)), reference=reference,
                                 title=get(zrd, 4) or None,
                                 issued_at=ctx.time(zrd, 5, index)))
    for index, obx in enumerate(message.segments("OBX"), start=1):
        if get(obx, 2).upper() != "RP":
            continue
        reference = get(obx, 5, 1)
        if not reference:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.referral_no_document"),
                           f"OBX[{index}]-5")
        kind = _kind(get(obx, 3, 1))
        if kind is DocumentKind.OTHER and get(obx, 5, 3).upper() == "DICOM":
            kind = DocumentKind.DICOM_STUDY
        found.append(DocumentRef(kind=kind, reference=reference,
                                 title=get(obx, 3, 2) or None,
                                 issued_at=ctx.time(obx, 14, index)))
    return found


def insurance(message: Hl7Message) -> InsuranceContinuity | None:
    """ZRI|insurance type|insured region|insured number|first admission|first settlement|
    deductible paid; without ZRI: IN1-2 and IN1-36, and an inpatient PV1's visit number."""
    zri, in1, pv1 = message.first("ZRI"), message.first("IN1"), message.first("PV1")
    values: dict[str, str] = {}
    if in1 is not None:
        values |= {"insurance_type": get(in1, 2), "insured_number": get(in1, 36)}
    if pv1 is not None and get(pv1, 2).upper() == "I":
        values["first_admission_ref"] = get(pv1, 19)
    if zri is not None:
        names = ("insurance_type", "insured_region", "insured_number", "first_admission_ref",
                 "first_settlement_ref", "deductible_paid")
        values |= {name: get(zri, n) for n, name in enumerate(names, start=1) if get(zri, n)}
    present = {k: v for k, v in values.items() if v}
    if not present:
        return None
    paid = present.pop("deductible_paid", None)
    try:
        amount = float(paid) if paid is not None else None
    except ValueError:
        raise Rejected(RejectReason.INVALID_VALUE,
                       text("connector.not_number", value=paid, kind="NM"), "ZRI-6") from None
    return InsuranceContinuity(**present, deductible_paid=amount)


def notes(message: Hl7Message, topic: str = "") -> str:
    """NTE-3 texts; with a topic, those whose NTE-4 (comment type) names it if any do
    (NTE-4 ^REASON_FOR_CONSULTATION, as HAPI's referral example has it)."""
    segments = message.segments("NTE")
    if topic:
        typed = [nte for nte in segments
                 if topic in (get(nte, 4, 1) + get(nte, 4, 2)).upper()]
        segments = typed or segments
    return "\n".join(t for t in (get(nte, 3) for nte in segments) if t)
