"""What the hub remembers about a patient's notifiable cases, between events.

A `PatientCases` is one table value, keyed by the patient's pseudonym. It holds no identity
in clear: each report keeps the patient block the member sent sealed (a Fernet token), and
only the card assembly opens it. Values travel as JSON (`dump` / `PatientCases.load`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas.models.clinical import (
    CaseClassification,
    Chronicity,
    DiagnosisVerification,
    VisitKind,
)
from schemas.models.common import Occupation
from schemas.models.outputs import CardKind

CLASSIFICATION_RANK: dict[CaseClassification | None, int] = {
    None: 0,
    CaseClassification.EXCLUDED: 0,  # only ever on a card that withdraws the case
    CaseClassification.SUSPECTED: 1,
    CaseClassification.CLINICAL: 2,
    CaseClassification.CARRIER: 3,
    CaseClassification.CONFIRMED: 4,
}


def rank(classification: CaseClassification | None) -> int:
    """Suspected < clinically diagnosed < pathogen carrier < confirmed."""
    return CLASSIFICATION_RANK[classification]


def higher(*classes: CaseClassification | None) -> CaseClassification | None:
    return max(classes, key=rank)


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Report(_State):
    """One member's report of a case: a diagnosis, or a lab result pending one."""

    event_id: str
    member_id: str
    unit_level: int
    is_treating_unit: bool
    from_lab: bool
    sealed: str
    identified_by_id: bool = True
    occupation: Occupation | None = None
    subtype_code: str | None
    icd10: str | None = None
    diagnosis_name: str | None = None
    classification: CaseClassification | None = None
    chronicity: Chronicity | None = None
    visit_kind: VisitKind = VisitKind.INITIAL
    onset_date: date | None = None
    diagnosed_at: datetime
    death_date: date | None = None
    died_of_disease: bool = False
    doctor: str | None = None
    remarks: str | None = None

    def precedence(self) -> tuple[bool, bool, int, int]:
        """Which report a card is built from: a doctor's diagnosis over a lab result,
        then the treating unit's, the higher-level unit's, the higher case class."""
        classification = rank(self.classification)
        return (not self.from_lab, self.is_treating_unit, self.unit_level, classification)


class SentCard(_State):
    """A card already at the CDC: what a later report is compared with."""

    card_id: str
    kind: CardKind
    member_id: str
    basis_event_id: str
    caused_by: str
    classification: CaseClassification
    subtype_code: str | None
    death_date: date | None
    filled_at: datetime
    late_by_seconds: int | None = None


class Case(_State):
    """One course of one notifiable disease of one patient."""

    case_id: str
    disease_code: str
    opened_at: datetime
    deadline: datetime
    reports: list[Report]
    missing: list[str] = []
    lab_classification: CaseClassification | None = None
    cards: list[SentCard] = []
    last_seen: datetime
    reported_elsewhere: bool = False
    warned_at: datetime | None = None
    late_reported_at: datetime | None = None
    late_by_seconds: int | None = None
    withdrawn: DiagnosisVerification | None = None  # refuted or entered in error: closed

    @property
    def basis(self) -> Report:
        """The report the card is built from; reports are kept best first (see cases.py)."""
        return self.reports[0]

    @property
    def is_open(self) -> bool:
        """Still owes the CDC its card (and so is watched against its deadline)."""
        return not self.cards and not self.reported_elsewhere and self.withdrawn is None

    @property
    def original_card(self) -> SentCard | None:
        return self.cards[0] if self.cards else None

    @property
    def current_card(self) -> SentCard | None:
        return self.cards[-1] if self.cards else None


class PatientCases(_State):
    key: str
    partition: int | None = None
    cases: list[Case] = []
    seen: list[str] = []

    @classmethod
    def load(cls, value: Any) -> PatientCases:
        return cls.model_validate(value)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def prune(self, cutoff: datetime) -> None:
        """Forget cases not seen since `cutoff` (cards themselves stay 3 years at the CDC)."""
        self.cases = [c for c in self.cases if c.last_seen >= cutoff]

    def latest_case(self, report: Report, disease_code: str) -> Case | None:
        """The patient's latest live (not withdrawn) case of a disease. Without an ID number
        the pseudonym is name, sex, birth date and address; the card's rule adds the
        occupation group."""
        same = [
            c for c in self.cases if c.disease_code == disease_code and c.withdrawn is None
            and (report.identified_by_id or c.basis.occupation == report.occupation)
        ]
        return max(same, key=lambda c: c.opened_at) if same else None
