"""Patient identity and demographics, shared by the clinical events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Code, PersonName, Record, ShortText


class IdType(StrEnum):
    RESIDENT_ID = "RESIDENT_ID"
    PASSPORT = "PASSPORT"
    HK_MACAO_PERMIT = "HK_MACAO_PERMIT"
    TAIWAN_PERMIT = "TAIWAN_PERMIT"
    FOREIGN_PERMANENT_RESIDENT = "FOREIGN_PERMANENT_RESIDENT"
    MEDICAL_RECORD_NUMBER = "MEDICAL_RECORD_NUMBER"
    OTHER = "OTHER"


# Documents that name one person wherever they are shown. Any other ID (a hospital's
# record number, IdType.OTHER) is unique only inside the member that issued it.
NATIONAL_ID_TYPES: frozenset[IdType] = frozenset({
    IdType.RESIDENT_ID, IdType.PASSPORT, IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT,
    IdType.FOREIGN_PERMANENT_RESIDENT,
})


def normalized_id(id_type: IdType | str, id_number: str, *, issuer: str) -> str:
    """An ID as the hub reads it: the pseudonym is made of this text, and the members'
    ordering key too, so one person is one pseudonym and one partition whoever wrote it.

    A national ID reads the same from every member (issuer is ignored), so it matches a
    person across members. A record number names the member that issued it (the event's
    envelope.member_id): record number 555-44-4444 at two hospitals is two people. Member
    ids hold no ':' (the registry's MEMBER_ID), so the text is unambiguous."""
    kind = IdType(id_type)
    number = id_number.strip().upper()
    if kind in NATIONAL_ID_TYPES:
        return f"{kind.value}:{number}"
    if not issuer:
        raise ValueError(f"a {kind.value} is only known with the member that issued it")
    return f"{kind.value}@{issuer}:{number}"


class Sex(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    UNKNOWN = "UNKNOWN"


class AgeUnit(StrEnum):
    YEAR = "YEAR"
    MONTH = "MONTH"
    DAY = "DAY"


class Belonging(StrEnum):
    """Where the patient belongs (病人属于), as on the report card."""

    THIS_COUNTY = "THIS_COUNTY"
    OTHER_COUNTY_THIS_CITY = "OTHER_COUNTY_THIS_CITY"
    OTHER_CITY_THIS_PROVINCE = "OTHER_CITY_THIS_PROVINCE"
    OTHER_PROVINCE = "OTHER_PROVINCE"
    HK_MACAO_TAIWAN = "HK_MACAO_TAIWAN"
    FOREIGN = "FOREIGN"


class Occupation(StrEnum):
    """The 18 occupation groups of the report card."""

    NURSERY_CHILD = "NURSERY_CHILD"
    SCATTERED_CHILD = "SCATTERED_CHILD"
    STUDENT = "STUDENT"
    TEACHER = "TEACHER"
    CHILDCARE_WORKER = "CHILDCARE_WORKER"
    CATERING_FOOD = "CATERING_FOOD"
    COMMERCIAL_SERVICE = "COMMERCIAL_SERVICE"
    MEDICAL_STAFF = "MEDICAL_STAFF"
    WORKER = "WORKER"
    MIGRANT_WORKER = "MIGRANT_WORKER"
    FARMER = "FARMER"
    HERDSMAN = "HERDSMAN"
    FISHERMAN = "FISHERMAN"
    CADRE_CLERK = "CADRE_CLERK"
    RETIRED = "RETIRED"
    HOUSEWORK_UNEMPLOYED = "HOUSEWORK_UNEMPLOYED"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class Address(Record):
    """Current address: where the patient lives at onset."""

    province: ShortText | None = None
    city: ShortText | None = None
    county: ShortText | None = None
    township: ShortText | None = None
    village: ShortText | None = None
    house_number: ShortText | None = None
    country: ShortText | None = Field(
        default=None, description="ISO 3166 code or name; empty for an address in China")


class Patient(Record):
    """The patient of a clinical event.

    On a member's `in.` topic the member fills the identity (`id_type`, `id_number`)
    and whatever demographics it has; `key` and `sealed` must be empty.
    Past intake, every personal field is empty: `key` is the keyed pseudonym and
    `sealed` the encrypted patient block for steps that need it (the report card).
    """

    id_type: IdType | None = None
    id_number: Code | None = None
    key: Code | None = Field(default=None, description="Keyed pseudonym; set by the hub only")
    sealed: bytes | None = Field(default=None, max_length=65_536,
                                 description="Encrypted patient block; hub only")
    name: PersonName | None = None
    parent_name: PersonName | None = Field(
        default=None, description="For children aged 14 or under"
    )
    sex: Sex | None = None
    birth_date: date | None = None
    age_value: int | None = None
    age_unit: AgeUnit | None = None
    employer: ShortText | None = Field(default=None, description="Employer or school")
    phone: Code | None = None
    belonging: Belonging | None = None
    address: Address | None = None
    occupation: Occupation | None = None

    PERSONAL_FIELDS: ClassVar[tuple[str, ...]] = (
        "id_number", "name", "parent_name", "birth_date", "employer", "phone", "address",
    )
