"""The patient of an HL7 message (PID, and NK1 for a child's parent) as a `Patient`.

PID-3 identifier type codes (CX-5): ID, NI, NNCHN and SFZ (身份证) are the resident ID card
number; PPN a passport; HKM/TWM the Hong Kong-Macao and Taiwan permits; FPR a foreign
permanent resident card; MR and PI the medical record number; an identifier without a type
code is taken as the medical record number too. With several identifiers the most
authoritative one is used, in that order. A resident ID number must pass its check digit.
PID-7/PID-8 missing are taken from the resident ID number (birth date, sex digit).

PID-11 (XAD) to the report card's address: XAD-4 province, XAD-3 city, XAD-9 county,
XAD-8 township, XAD-2 village, XAD-1 house number, XAD-6 country (empty or CHN for China;
the hub derives the card's 病人属于 from these parts).
"""

from __future__ import annotations

import re
from datetime import date

import hl7

from connectors.member.hl7.message import get, parse_date, repetitions
from connectors.member.mapping import Rejected, RejectReason, date_not_in_future
from schemas.models import Patient
from schemas.models.common import Address, IdType, Sex
from schemas.reference.messages import Text, text

ID_TYPES: dict[str, IdType] = {
    "ID": IdType.RESIDENT_ID, "NI": IdType.RESIDENT_ID, "NNCHN": IdType.RESIDENT_ID,
    "SFZ": IdType.RESIDENT_ID, "PPN": IdType.PASSPORT, "HKM": IdType.HK_MACAO_PERMIT,
    "TWM": IdType.TAIWAN_PERMIT, "FPR": IdType.FOREIGN_PERMANENT_RESIDENT,
    "MR": IdType.MEDICAL_RECORD_NUMBER, "PI": IdType.MEDICAL_RECORD_NUMBER,
    "": IdType.MEDICAL_RECORD_NUMBER,
}
ID_PREFERENCE: tuple[IdType, ...] = (
    IdType.RESIDENT_ID, IdType.PASSPORT, IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT,
    IdType.FOREIGN_PERMANENT_RESIDENT, IdType.MEDICAL_RECORD_NUMBER, IdType.OTHER,
)
# HL7 table 0001, and GB/T 2261.1 digits that Chinese HIS often send instead.
SEXES: dict[str, Sex] = {
    "M": Sex.MALE, "F": Sex.FEMALE, "U": Sex.UNKNOWN, "O": Sex.UNKNOWN, "A": Sex.UNKNOWN,
    "N": Sex.UNKNOWN, "1": Sex.MALE, "2": Sex.FEMALE, "0": Sex.UNKNOWN, "9": Sex.UNKNOWN,
}
PARENT_RELATIONSHIPS = frozenset({"MTH", "FTH", "PAR", "GRD"})
_RESIDENT_ID = re.compile(r"^(\d{17}[\dX]|\d{15})$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_CJK = re.compile(r"[\u3400-\u9fff]")


def resident_id_problem(number: str) -> Text | None:
    """Why a resident ID card number is not valid, or None if it is."""
    if not _RESIDENT_ID.match(number):
        return text("connector.resident_id_form")
    if len(number) == 18:
        expected = _CHECK[sum(int(d) * w for d, w in zip(number, _WEIGHTS, strict=False)) % 11]
        if number[17] != expected:
            return text("connector.resident_id_check", expected=expected)
    return None


def identifiers(pid: hl7.Segment) -> list[tuple[IdType, str]]:
    """Every PID-3 identifier with the type its CX-5 code names, best first."""
    found: list[tuple[IdType, str]] = []
    for rep in range(1, repetitions(pid, 3) + 1):
        number = get(pid, 3, 1, rep)
        if not number:
            continue
        id_type = ID_TYPES.get(get(pid, 3, 5, rep).upper(), IdType.OTHER)
        if id_type is IdType.RESIDENT_ID:
            number = number.upper()
            problem = resident_id_problem(number)
            if problem:
                raise Rejected(RejectReason.INVALID_VALUE, problem, f"PID-3[{rep}]")
        found.append((id_type, number))
    return sorted(found, key=lambda pair: ID_PREFERENCE.index(pair[0]))


def person_name(family: str, given: str) -> str | None:
    """Chinese names are family name then given name without a space."""
    if _CJK.search(family + given):
        return (family + given) or None
    return " ".join(part for part in (given, family) if part) or None


def _from_resident_id(number: str) -> tuple[date | None, Sex | None]:
    if len(number) != 18:
        return None, None
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None, None
    return born, Sex.MALE if int(number[16]) % 2 else Sex.FEMALE


def _address(pid: hl7.Segment) -> Address | None:
    parts = {
        "province": get(pid, 11, 4), "city": get(pid, 11, 3), "county": get(pid, 11, 9),
        "township": get(pid, 11, 8), "village": get(pid, 11, 2), "house_number": get(pid, 11, 1),
        "country": get(pid, 11, 6),
    }
    present = {k: v for k, v in parts.items() if v}
    return Address(**present) if present else None


def patient_from_pid(pid: hl7.Segment | None, nk1: list[hl7.Segment] | None = None) -> Patient:
    if pid is None:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_pid"), "PID")
    ids = identifiers(pid)
    if not ids:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_patient_id"), "PID-3")
    id_type, id_number = ids[0]
    sex_code = get(pid, 8).upper()
    if sex_code and sex_code not in SEXES:
        raise Rejected(RejectReason.UNMAPPED_CODE, text("connector.sex", code=sex_code), "PID-8")
    sex = SEXES.get(sex_code)
    birth_date = date_not_in_future(parse_date(get(pid, 7), "PID-7"), "PID-7")
    if id_type is IdType.RESIDENT_ID:
        id_birth, id_sex = _from_resident_id(id_number)
        birth_date, sex = birth_date or id_birth, sex or id_sex
    parent = None
    for segment in nk1 or ():
        if get(segment, 3).upper() in PARENT_RELATIONSHIPS:
            parent = person_name(get(segment, 2, 1), get(segment, 2, 2))
            break
    phone = get(pid, 13, 1) or get(pid, 13, 12) or get(pid, 13, 7)
    return Patient(
        id_type=id_type, id_number=id_number,
        name=person_name(get(pid, 5, 1), get(pid, 5, 2)), parent_name=parent,
        sex=sex, birth_date=birth_date, phone=phone or None, address=_address(pid),
    )
