"""The notifiable disease catalogue: which diagnoses and lab results are reportable, as
which disease and subtype, in which class and within which limit. The data is
`diseases.toml` beside this module; this module only loads, checks and indexes it."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.models.clinical import AbnormalFlag, CaseClassification, Chronicity
from schemas.models.common import Occupation
from schemas.models.outputs import DiseaseClass
from schemas.reference import DATA_DIR, Source, source_text

ICD_RANGE = re.compile(r"^([A-Z])(\d{2})-([A-Z])(\d{2})$")
ICD_PREFIX = re.compile(r"^[A-Z]\d{2}(\.\d{1,4})?$")
ICD_HEAD = re.compile(r"[A-Z0-9.]*")
ADDRESS_PARTS = ("province", "city", "county", "township", "village", "house_number")


def normalize_icd(code: str) -> str:
    """The comparable form of a code: upper case, no dots, cut at the first character that
    is not part of a code (a dagger, an asterisk, a space)."""
    head = ICD_HEAD.match(code.strip().upper())
    return head.group(0).replace(".", "") if head else ""


def expand_icd(entry: str) -> list[str]:
    """"B20-B24" -> B20, B21, ..., B24; a single prefix stays as it is."""
    span = ICD_RANGE.match(entry)
    if span is None:
        if not ICD_PREFIX.match(entry):
            raise ValueError(f"{entry!r} is neither an ICD-10 prefix nor a range of categories")
        return [entry]
    first_letter, first, last_letter, last = span.groups()
    if first_letter != last_letter or int(first) > int(last):
        raise ValueError(f"ICD-10 range {entry!r} is not one letter, low to high")
    return [f"{first_letter}{n:02d}" for n in range(int(first), int(last) + 1)]


def _has_prefix(code: str, prefixes: tuple[str, ...]) -> bool:
    norm = normalize_icd(code)
    return any(norm.startswith(normalize_icd(p)) for p in prefixes)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Limit(_Frozen):
    """A reporting limit: hours from diagnosis, or working days (of the working calendar,
    schemas.reference.calendar)."""

    hours: int | None = None
    working_days: int | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Limit:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("a limit is either hours or working_days")
        return self


class LabTrigger(_Frozen):
    items: tuple[str, ...]
    flags: tuple[AbnormalFlag, ...] = (AbnormalFlag.POSITIVE,)
    methods: tuple[str, ...] = ()
    classification: CaseClassification = CaseClassification.CONFIRMED
    subtype: str | None = None

    def matches(self, item_code: str, flag: AbnormalFlag | None, method: str | None) -> bool:
        if item_code.upper() not in {i.upper() for i in self.items} or flag not in self.flags:
            return False
        return not self.methods or (method or "").upper() in {m.upper() for m in self.methods}


class Subtype(_Frozen):
    code: str
    name: str
    icd10: tuple[str, ...] = ()
    disease_class: DiseaseClass | None = Field(default=None, alias="class")
    chronic: bool | None = None
    acute_or_chronic: bool | None = None
    acute_icd10: tuple[str, ...] = ()
    chronic_icd10: tuple[str, ...] = ()


class Disease(_Frozen):
    code: str
    name: str
    name_en: str
    disease_class: DiseaseClass = Field(alias="class")
    chronic: bool = False
    acute_or_chronic: bool = False
    effective_from: date | None = None
    icd10: tuple[str, ...] = ()
    default_subtype: str | None = None
    subtypes: tuple[Subtype, ...] = ()
    lab: tuple[LabTrigger, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Disease:
        codes = {s.code for s in self.subtypes}
        if self.default_subtype is not None and self.default_subtype not in codes:
            raise ValueError(f"{self.code}: default subtype {self.default_subtype} is not listed")
        if self.subtypes and self.icd10 and self.default_subtype is None:
            raise ValueError(f"{self.code}: disease-level codes need a default_subtype")
        for trigger in self.lab:
            if trigger.subtype is not None and trigger.subtype not in codes:
                raise ValueError(f"{self.code}: lab trigger of unknown subtype {trigger.subtype}")
        return self

    def subtype(self, code: str | None) -> Subtype | None:
        return next((s for s in self.subtypes if s.code == code), None)

    def in_force(self, on: date | None) -> bool:
        return on is None or self.effective_from is None or self.effective_from <= on


class DiseaseMatch(_Frozen):
    """A reportable condition: the disease, its subtype, and what that makes of it."""

    disease: Disease
    subtype: Subtype | None
    disease_class: DiseaseClass
    limit: Limit
    trigger: str = Field(description="The ICD-10 prefix or lab item that matched")
    classification: CaseClassification | None = Field(
        default=None, description="Set by lab triggers: what the result alone establishes"
    )

    @property
    def code(self) -> str:
        return self.disease.code

    @property
    def name(self) -> str:
        return self.disease.name

    @property
    def subtype_name(self) -> str | None:
        return self.subtype.name if self.subtype else None

    @property
    def chronic(self) -> bool:
        if self.subtype is not None and self.subtype.chronic is not None:
            return self.subtype.chronic
        return self.disease.chronic

    @property
    def acute_or_chronic(self) -> bool:
        if self.subtype is not None and self.subtype.acute_or_chronic is not None:
            return self.subtype.acute_or_chronic
        return self.disease.acute_or_chronic

    def chronicity_of(self, icd10: str | None) -> Chronicity | None:
        """Acute or chronic as the code tells it, when the catalogue knows."""
        if icd10 is None or self.subtype is None:
            return None
        if _has_prefix(icd10, self.subtype.chronic_icd10):
            return Chronicity.CHRONIC
        if _has_prefix(icd10, self.subtype.acute_icd10):
            return Chronicity.ACUTE
        return None


class AgeBand(_Frozen):
    """The occupation groups that fit a patient of min_age to max_age whole years."""

    min_age: int
    max_age: int
    groups: tuple[Occupation, ...]


class CardRules(_Frozen):
    required_address_parts: tuple[str, ...] = ("province", "city", "county")
    parent_name_max_age: int = 14
    occupation_by_age: tuple[AgeBand, ...] = ()
    child_only_groups: tuple[Occupation, ...] = ()

    def occupation_fits(self, occupation: Occupation, age_years: int) -> bool:
        """Whether the group is plausible at that age (see diseases.toml)."""
        for band in self.occupation_by_age:
            if band.min_age <= age_years <= band.max_age:
                return occupation in band.groups
        last = max((b.max_age for b in self.occupation_by_age), default=-1)
        return age_years <= last or occupation not in self.child_only_groups

    @model_validator(mode="after")
    def _known_parts(self) -> CardRules:
        unknown = set(self.required_address_parts) - set(ADDRESS_PARTS)
        if unknown:
            raise ValueError(f"unknown address parts: {sorted(unknown)}")
        return self


class DiseaseCatalogue(_Frozen):
    version: str
    new_course_after_days: int = 30
    utc_offset_hours: int = 8
    limits: dict[DiseaseClass, Limit]
    card: CardRules = CardRules()
    diseases: tuple[Disease, ...]

    @model_validator(mode="after")
    def _check(self) -> DiseaseCatalogue:
        missing = set(DiseaseClass) - set(self.limits)
        if missing:
            raise ValueError(f"no limit for classes {sorted(missing)}")
        codes = [d.code for d in self.diseases]
        codes += [s.code for d in self.diseases for s in d.subtypes]
        dupes = {c for c in codes if codes.count(c) > 1}
        if dupes:
            raise ValueError(f"duplicate disease or subtype codes: {sorted(dupes)}")
        _ = self._icd_index  # raises on a prefix listed twice
        return self

    @cached_property
    def _icd_index(self) -> dict[str, tuple[Disease, Subtype | None, str]]:
        index: dict[str, tuple[Disease, Subtype | None, str]] = {}
        for disease in self.diseases:
            owners: list[tuple[tuple[str, ...], Subtype | None]] = [
                (disease.icd10, disease.subtype(disease.default_subtype))
            ]
            owners += [(s.icd10, s) for s in disease.subtypes]
            for entries, subtype in owners:
                for entry in entries:
                    for prefix in expand_icd(entry):
                        key = normalize_icd(prefix)
                        if key in index:
                            raise ValueError(f"ICD-10 prefix {prefix} is listed twice")
                        index[key] = (disease, subtype, prefix)
        return index

    def get(self, code: str) -> Disease | None:
        return next((d for d in self.diseases if d.code == code), None)

    def resolve(
        self,
        disease: Disease,
        subtype: Subtype | None,
        trigger: str,
        classification: CaseClassification | None = None,
    ) -> DiseaseMatch:
        disease_class = (subtype.disease_class if subtype else None) or disease.disease_class
        return DiseaseMatch(
            disease=disease, subtype=subtype, disease_class=disease_class,
            limit=self.limits[disease_class], trigger=trigger, classification=classification,
        )

    def match_icd(self, code: str, on: date | None = None) -> DiseaseMatch | None:
        """The reportable condition of a diagnosis code; the longest listed prefix wins.
        `on`: the diagnosis date, so a disease is matched only once it is notifiable."""
        norm = normalize_icd(code)
        for length in range(len(norm), 2, -1):
            hit = self._icd_index.get(norm[:length])
            if hit is not None and hit[0].in_force(on):
                return self.resolve(*hit)
        return None

    def match_lab(
        self,
        item_code: str | None,
        flag: AbnormalFlag | None,
        method: str | None = None,
        on: date | None = None,
    ) -> DiseaseMatch | None:
        """The condition a lab result alone establishes (pending the doctor's diagnosis)."""
        if not item_code:
            return None
        for disease in self.diseases:
            if not disease.in_force(on):
                continue
            for trigger in disease.lab:
                if trigger.matches(item_code, flag, method):
                    subtype = disease.subtype(trigger.subtype or disease.default_subtype)
                    return self.resolve(disease, subtype, item_code, trigger.classification)
        return None


def load_disease_catalogue(path: Source | None = None) -> DiseaseCatalogue:
    data: dict[str, Any] = tomllib.loads(source_text(path, DATA_DIR / "diseases.toml"))
    return DiseaseCatalogue.model_validate(data)
