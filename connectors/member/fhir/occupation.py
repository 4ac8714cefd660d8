"""Report-card fields a FHIR member sends besides Patient and Condition: the occupation
group (人群分类).

- An Observation (mapping.py) whose code is LOINC 11341-5 (history of occupation, the profile
  odh-PastOrPresentJob of HL7's Occupational Data for Health IG; 21843-8 usual occupation
  too), its `subject` the patient and its valueCodeableConcept (or valueString) the
  occupation: a coding of GB/T 2261.4 (system `urn:consortium-hub:gbt-2261.4`), a group of
  the card (system `urn:consortium-hub:occupation-group`, code NURSERY_CHILD ...), or only
  the text (农民, 散居儿童, ...). It gives no event: the patient is kept in the local patient
  cache with the group, and the Condition that follows (in the Bundle, or later) carries it.
- The Patient extension `urn:consortium-hub:fhir:occupation-group` with the same values.

An occupation that maps to no group is kept as no group (the card will ask for it) and the
answer carries a warning naming the value. The onset date is Condition.onset[x]
(records.py).
"""

from __future__ import annotations

from typing import Any

from connectors.member.fhir.resources import LOINC, Resource, codings
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.common import Occupation
from schemas.reference.messages import text
from schemas.reference.occupations import occupations

OCCUPATION_EXTENSION = "urn:consortium-hub:fhir:occupation-group"


def is_occupation_observation(resource: Resource) -> bool:
    if resource.get_resource_type() != "Observation":
        return False
    return any(system == LOINC and occupations().is_occupation_loinc(code)
               for system, code, _ in codings(resource.code))


def occupation_of(concept: Any, words: str | None,
                  location: str) -> tuple[Occupation | None, Rejected | None]:
    """The group of a CodeableConcept (its codings, then its text) or of plain words."""
    codes = occupations()
    found = [(code, display, system) for system, code, display in codings(concept)]
    concept_text = (getattr(concept, "text", None) or "") if concept is not None else ""
    for code, display, system in found:
        group = codes.group(code, display, system)
        if group is not None:
            return group, None
    for words_given in (concept_text, words or ""):
        group = codes.group("", words_given) if words_given else None
        if group is not None:
            return group, None
    shown = ", ".join("|".join(p for p in (s, c, d) if p) for c, d, s in found)
    shown = shown or concept_text or (words or "")
    if not shown:
        return None, None
    return None, Rejected(RejectReason.UNMAPPED_CODE,
                          text("connector.occupation_unmapped", value=shown), location)


def patient_occupation(patient: Resource,
                       location: str) -> tuple[Occupation | None, Rejected | None]:
    """The occupation group of the Patient extension, if it carries one."""
    for extension in getattr(patient, "extension", None) or []:
        if extension.url == OCCUPATION_EXTENSION:
            concept = extension.valueCodeableConcept
            if concept is None and extension.valueCoding is not None:
                concept = _Concept(extension.valueCoding)
            return occupation_of(concept, extension.valueString, location)
    return None, None


class _Concept:
    """A single Coding seen as a CodeableConcept."""

    def __init__(self, coding: Any) -> None:
        self.coding = [coding]
        self.text = None

