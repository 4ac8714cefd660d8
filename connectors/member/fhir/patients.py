"""The patient of a FHIR resource: its `subject` resolved to a Patient (in the Bundle or
contained), or a logical reference carrying `subject.identifier`.

The identifier's kind comes from `identifier.type.coding.code` (HL7 table 0203, as in
HL7 v2 PID-3: NI, NNCHN, ID, SFZ resident ID card; PPN passport; HKM, TWM, FPR permits;
MR, PI medical record number); an identifier without a type is a medical record number,
so a resident ID card number must carry its type code.
Address: state province, city, district county, line[0..2] township, village, house number
(with one line, it is the house number), country (empty or CHN for China).
Occupation group: the extension `urn:consortium-hub:fhir:occupation-group` (occupation.py).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from connectors.member.fhir.occupation import patient_occupation
from connectors.member.fhir.resources import References, Resource, to_date
from connectors.member.hl7.patient import ID_PREFERENCE, ID_TYPES, person_name, resident_id_problem
from connectors.member.mapping import Rejected, RejectReason, date_not_in_future
from schemas.models import Patient
from schemas.models.common import Address, IdType, Sex
from schemas.reference.messages import text as msg

GENDERS: dict[str, Sex] = {
    "male": Sex.MALE, "female": Sex.FEMALE, "other": Sex.UNKNOWN, "unknown": Sex.UNKNOWN,
}


def identifier_kind(identifier: Any) -> IdType:
    type_codes = [c.code for c in (identifier.type.coding or [])] if identifier.type else []
    for code in type_codes:
        if code and code.upper() in ID_TYPES:
            return ID_TYPES[code.upper()]
    return IdType.OTHER if type_codes else IdType.MEDICAL_RECORD_NUMBER


def best_identifier(identifiers: list[Any], location: str) -> tuple[IdType, str]:
    found: list[tuple[IdType, str]] = []
    for index, identifier in enumerate(identifiers):
        if not identifier.value:
            continue
        kind = identifier_kind(identifier)
        number = identifier.value.strip()
        if kind is IdType.RESIDENT_ID:
            number = number.upper()
            problem = resident_id_problem(number)
            if problem:
                raise Rejected(RejectReason.INVALID_VALUE, problem,
                               f"{location}.identifier[{index}]")
        found.append((kind, number))
    if not found:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_patient_id"),
                       f"{location}.identifier")
    return min(found, key=lambda pair: ID_PREFERENCE.index(pair[0]))


def _name(patient: Resource) -> str | None:
    for name in patient.name or []:
        if name.text:
            return str(name.text)
        built = person_name(name.family or "", "".join(name.given or []))
        if built:
            return built
    return None


def _address(patient: Resource) -> Address | None:
    for address in patient.address or []:
        lines = list(address.line or [])
        if len(lines) == 1:
            township, village, house = "", "", lines[0]
        else:
            township, village, house = [*lines, "", "", ""][:3]
        fields = {"province": address.state, "city": address.city, "county": address.district,
                  "township": township, "village": village, "house_number": house,
                  "country": address.country}
        present = {k: v for k, v in fields.items() if v}
        if present:
            return Address(**present)
    return None


def patient_from_resource(patient: Resource, zone: ZoneInfo, location: str) -> Patient:
    id_type, id_number = best_identifier(list(patient.identifier or []), location)
    phone = next((t.value for t in patient.telecom or [] if t.system == "phone" and t.value),
                 None)
    gender = GENDERS.get(patient.gender or "") if patient.gender else None
    return Patient(
        id_type=id_type, id_number=id_number, name=_name(patient), sex=gender,
        birth_date=date_not_in_future(to_date(patient.birthDate, zone, f"{location}.birthDate"),
                                      f"{location}.birthDate"),
        phone=phone, address=_address(patient),
        occupation=patient_occupation(patient, f"{location}.extension")[0],
    )


def subject_patient(resource: Resource, references: References, zone: ZoneInfo,
                    field: str = "subject") -> Patient:
    """The patient a resource is about, from its `subject` (or `field`) reference."""
    kind = resource.get_resource_type()
    reference = getattr(resource, field, None)
    location = f"{kind}.{field}"
    if reference is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_patient"), location)
    target = references.resolve(reference, resource)
    if target is not None:
        if target.get_resource_type() != "Patient":
            raise Rejected(RejectReason.INVALID_VALUE, msg(
                "connector.not_a_patient", kind=target.get_resource_type()), location)
        return patient_from_resource(target, zone, location)
    if reference.identifier is not None:
        id_type, id_number = best_identifier([reference.identifier], location)
        return Patient(id_type=id_type, id_number=id_number, name=reference.display or None)
    raise Rejected(
        RejectReason.MISSING_FIELD,
        msg("connector.unresolved_patient", reference=reference.reference or "-"), location,
    )
