"""The hub's referral events as HL7 v2 messages for a member's HIS (delivered over MLLP by
`deliver-feedback`; the HIS answers each with an ACK).

ReferralRequest (on the receiver's out topic: a referral made to it) → REF^I12:
    RF1|P|<S/A/R>|<kind>^<中文>^HUB|||<referral number>^<referrer>|<requested at>|
        <requested by>||<ICD-10>^<reason>^I10|<referral id>^HUB
    PRD|RP|<doctor>||^^^<referrer>^^^^^<its name>|<phone>||<referrer>^HUB
    PRD|RT|||<department>^^^<receiver>^^^^^<department name>|||<receiver>^HUB
    PID (the patient in clear: only the two parties read these topics), DG1, ZRD per
    document, ZRI (insurance), ZRF (11 direction, 12 the upward referral a downward one
    returns, 19 referral id, 20 the referral it carries onward), NTE (the reason).
ReferralStatus (to each party on its own out topic) → RRI^I12:
    RF1-1 A (accepted, in progress, completed), P (requested, received, on hold), R
    (rejected), E (cancelled, failed); RF1-11 the hub's referral id; PRD RP/RT; PID; ZRD;
    ZRF with every field (1-12 as a member sends them, 13 task status, 14 business status,
    15 due at, 16 escalation level, 17 the reason in the reader's language, 18 by whom,
    19 referral id, 20 the onward referral's id); NTE the reason and note.

Times are Beijing time (the connector's zone) with their offset. MSH-10 comes from the
event id, so a redelivery carries the same control id.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from connectors.member.hl7.ack import escape
from connectors.member.hl7.feedback import hub_message
from connectors.member.hl7.referral_parts import packaged_registry
from schemas.models import Event
from schemas.models.clinical import OrderPriority
from schemas.models.common import IdType, Patient, Sex
from schemas.models.coordination import TaskStatus
from schemas.models.referral import (
    Booking,
    DocumentRef,
    InsuranceContinuity,
    ReferralKind,
    ReferralRequest,
    ReferralStatus,
)

STATUS_CODES: dict[TaskStatus, str] = {
    TaskStatus.REQUESTED: "P", TaskStatus.RECEIVED: "P", TaskStatus.ON_HOLD: "P",
    TaskStatus.ACCEPTED: "A", TaskStatus.IN_PROGRESS: "A", TaskStatus.COMPLETED: "A",
    TaskStatus.REJECTED: "R", TaskStatus.CANCELLED: "E", TaskStatus.FAILED: "E",
}
PRIORITY_CODES = {OrderPriority.EMERGENCY: "S", OrderPriority.URGENT: "A",
                  OrderPriority.ROUTINE: "R"}
KIND_NAMES = {ReferralKind.OUTPATIENT: "门诊", ReferralKind.ADMISSION: "住院",
              ReferralKind.EXAMINATION: "检查", ReferralKind.REHABILITATION: "康复"}
ID_TYPE_CODES = {IdType.RESIDENT_ID: "ID", IdType.PASSPORT: "PPN",
                 IdType.HK_MACAO_PERMIT: "HKM", IdType.TAIWAN_PERMIT: "TWM",
                 IdType.FOREIGN_PERMANENT_RESIDENT: "FPR",
                 IdType.MEDICAL_RECORD_NUMBER: "MR", IdType.OTHER: "OTHER"}
SEX_CODES = {Sex.MALE: "M", Sex.FEMALE: "F", Sex.UNKNOWN: "U"}


def _ts(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S%z") if at is not None else ""


def _day(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day is not None else ""


def _e(value: object) -> str:
    return "" if value is None else escape(str(value))


def _line(name: str, *fields: str) -> str:
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return "|".join([name, *values])


def _location(member_id: str, service: str | None = None,
              service_name: str | None = None) -> str:
    """PRD-4 (PL): the department (PL-1), the member as its facility (PL-4), and the
    department's name or else the member's (PL-9)."""
    known = packaged_registry().get(member_id)
    name = service_name or (known.name if known else "")
    return f"{_e(service)}^^^{_e(member_id)}^^^^^{_e(name)}"


def _providers(referrer: str, receiver: str, doctor: str | None = None,
               phone: str | None = None, service: str | None = None,
               service_name: str | None = None) -> list[str]:
    return [
        _line("PRD", "RP", _e(doctor), "", _location(referrer), _e(phone), "",
              f"{_e(referrer)}^HUB"),
        _line("PRD", "RT", "", "", _location(receiver, service, service_name), "", "",
              f"{_e(receiver)}^HUB"),
    ]


def _pid(patient: Patient) -> str:
    identifier = ""
    if patient.id_number:
        code = ID_TYPE_CODES.get(patient.id_type or IdType.OTHER, "OTHER")
        identifier = f"{_e(patient.id_number)}^^^^{code}"
    address = ""
    if patient.address is not None:
        a = patient.address
        address = "^".join(_e(v) for v in (a.house_number, a.village, a.city, a.province, "",
                                           a.country, "H", a.township, a.county))
    return _line("PID", "1", "", identifier, "", _e(patient.name), "", _day(patient.birth_date),
                 SEX_CODES.get(patient.sex, "") if patient.sex else "", "", "", address, "",
                 _e(patient.phone))


def _documents(documents: list[DocumentRef], zone: ZoneInfo) -> list[str]:
    return [_line("ZRD", str(n), d.kind.value, _e(d.reference), _e(d.title),
                  _ts(d.issued_at, zone)) for n, d in enumerate(documents, start=1)]


def _insurance(insurance: InsuranceContinuity | None) -> list[str]:
    if insurance is None:
        return []
    paid = insurance.deductible_paid
    return [_line("ZRI", _e(insurance.insurance_type), _e(insurance.insured_region),
                  _e(insurance.insured_number), _e(insurance.first_admission_ref),
                  _e(insurance.first_settlement_ref), "" if paid is None else f"{paid:g}")]


def _booking(booking: Booking | None, zone: ZoneInfo) -> tuple[str, str, str, str]:
    if booking is None:
        return "", "", "", ""
    return (_e(booking.pool_id), _e(booking.slot_id), _ts(booking.starts_at, zone),
            _e(booking.location))


def _kind(kind: ReferralKind) -> str:
    return f"{kind.value}^{KIND_NAMES[kind]}^HUB"


def request_segments(request: ReferralRequest, zone: ZoneInfo) -> list[str]:
    referrer = request.envelope.member_id
    hub_id = f"{_e(referrer)}:{_e(request.referral_ref)}"
    rf1 = _line("RF1", "P", PRIORITY_CODES[request.priority], _kind(request.kind), "", "",
                f"{_e(request.referral_ref)}^{_e(referrer)}", _ts(request.requested_at, zone),
                _day(request.requested_by), "",
                f"{_e(request.icd10)}^{_e(request.reason)}^I10", f"{hub_id}^HUB")
    zrf = _line("ZRF", *[""] * 10, request.direction.value, _e(request.returns_referral),
                *[""] * 6, hub_id, _e(request.onward_of))
    return [
        rf1,
        *_providers(referrer, request.to_member, request.referring_doctor,
                    request.referring_phone, request.to_service, request.to_service_name),
        _pid(request.patient),
        _line("DG1", "1", "", f"{_e(request.icd10)}^{_e(request.diagnosis_name)}^I10", "",
              _ts(request.requested_at, zone), "W"),
        *_documents(request.documents, zone), *_insurance(request.insurance), zrf,
        _line("NTE", "1", "", _e(request.reason)),
    ]


def status_segments(status: ReferralStatus, zone: ZoneInfo) -> list[str]:
    _, _, number = status.referral_id.partition(":")
    pool, slot, starts, location = _booking(status.booking, zone)
    rf1 = _line("RF1", STATUS_CODES[status.status], PRIORITY_CODES[status.priority],
                _kind(status.kind), "", "", f"{_e(number)}^{_e(status.referrer_id)}",
                _ts(status.at, zone), "", "", "", f"{_e(status.referral_id)}^HUB")
    zrf = _line(
        "ZRF", status.action.value if status.action else "", pool, slot, starts,
        _e(status.encounter_ref), _e(status.onward_to), _e(status.reason_code), _e(status.note),
        _e(status.downward_plan), location, status.direction.value,
        _e(status.returns_referral), status.status.value, _e(status.business_status),
        _ts(status.due_at, zone), str(status.escalation_level), _e(status.reason),
        _e(status.by_member), _e(status.referral_id), _e(status.onward_referral_id))
    said = "；".join(t for t in (status.reason, status.note) if t)
    return [rf1, *_providers(status.referrer_id, status.receiver_id), _pid(status.patient),
            *_documents(status.documents, zone), zrf,
            *([_line("NTE", "1", "", _e(said))] if said else [])]


def render_referral(event: Event, member_id: str, *, charset_label: str = "UNICODE UTF-8",
                    zone: ZoneInfo | None = None) -> bytes:
    """REF^I12 for a ReferralRequest, RRI^I12 for a ReferralStatus, in MSH-18's charset."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    if isinstance(event, ReferralRequest):
        body, message_type = request_segments(event, zone), "REF^I12^REF_I12"
    elif isinstance(event, ReferralStatus):
        body, message_type = status_segments(event, zone), "RRI^I12^RRI_I12"
    else:
        raise TypeError(f"no referral message for {type(event).__name__}")
    return hub_message(event, message_type, member_id, body, charset_label=charset_label,
                       zone=zone)
