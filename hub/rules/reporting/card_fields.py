"""What a card still lacks: its mandatory fields, and the fields the national card asks
for only in some cases (the parent's name of a child, the acute or chronic course of
hepatitis B or C and schistosomiasis, an occupation group that fits the patient's age)."""

from __future__ import annotations

import re
from datetime import date

from hub.rules.reporting.state import Report
from schemas.models.clinical import CaseClassification, Chronicity
from schemas.models.common import AgeUnit, IdType, Patient, Sex
from schemas.reference.diseases import CardRules, DiseaseMatch
from schemas.reference.messages import Locale

RESIDENT_ID = re.compile(r"^(\d{17}[\dX]|\d{15})$")
# Documents that identify a person; a hospital's own record number does not.
CARD_ID_TYPES = frozenset(IdType) - {IdType.MEDICAL_RECORD_NUMBER}


def valid_id_number(id_type: IdType | None, id_number: str | None) -> bool:
    """A usable ID document number. A resident ID must have the 18- (or old 15-) character
    form; its check digit is not enforced, so a typo still reaches the CDC on time."""
    number = (id_number or "").strip().upper()
    if not number or (id_type is not None and id_type not in CARD_ID_TYPES):
        return False
    return id_type is not IdType.RESIDENT_ID or RESIDENT_ID.match(number) is not None


def age_in_years(patient: Patient, on: date) -> int | None:
    """Whole years of age on `on`: from the birth date, else from the age the member gave
    (an age in months or days is under one year); None when neither is known."""
    born = patient.birth_date
    if born is not None:
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if patient.age_value is None or patient.age_unit is None:
        return None
    if patient.age_unit is AgeUnit.YEAR:
        return patient.age_value
    per_year = 12 if patient.age_unit is AgeUnit.MONTH else 365
    return patient.age_value // per_year


def _patient_gaps(patient: Patient, rules: CardRules, on: date) -> list[str]:
    missing: list[str] = []
    if not (patient.name or "").strip():
        missing.append("patient_name")
    age = age_in_years(patient, on)
    if age is not None and age <= rules.parent_name_max_age and not (
        patient.parent_name or ""
    ).strip():
        missing.append("parent_name")
    if not valid_id_number(patient.id_type, patient.id_number):
        missing.append("id_number")
    if patient.sex in (None, Sex.UNKNOWN):
        missing.append("sex")
    if age is None:
        missing.append("birth_date")
    if patient.belonging is None:
        missing.append("belonging")
    for part in rules.required_address_parts:
        if not (getattr(patient.address, part, None) or "").strip():
            missing.append(f"address.{part}")
    if patient.occupation is None or (
        age is not None and not rules.occupation_fits(patient.occupation, age)
    ):
        missing.append("occupation")
    return missing


def lacks(missing: list[str], locale: Locale) -> list[str]:
    """What a case's card lacks, as people read it (`id_number` -> 有效证件号)."""
    return [locale.label(name) for name in missing]


def missing_fields(
    patient: Patient,
    winner: Report,
    match: DiseaseMatch,
    classification: CaseClassification | None,
    chronicity: Chronicity | None,
    onset_date: date | None,
    rules: CardRules,
    diagnosed_on: date,
) -> list[str]:
    """Every card field that is empty (or, for the occupation group, does not fit the
    patient's age on the diagnosis date), one by one, in the card's order."""
    missing = _patient_gaps(patient, rules, diagnosed_on)
    if classification is None:
        missing.append("case_classification")
    if match.acute_or_chronic and chronicity in (None, Chronicity.UNKNOWN):
        missing.append("chronicity")
    if onset_date is None:
        missing.append("onset_date")
    if winner.from_lab:
        missing.append("diagnosis")
    if match.disease.subtypes and match.subtype is None:
        missing.append("subtype")
    return missing
