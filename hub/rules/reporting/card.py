"""Card assembly: what a case's card would say now, what it still lacks, the card, and
whether a later report revises the card in force.

The card is built from the winning report (see Report.precedence): its diagnosis, case
class, subtype, dates and doctor. The patient block is the winner's, with any field it
lacks taken from the case's other reports (the same person, by pseudonym); belonging,
unless a member sent it, is derived from the current address (reporting/belonging.py).
The case class never goes down from what a lab result or an earlier card established, and
a death once reported stays on the card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from hub.rules.reporting.belonging import Home, with_belonging
from hub.rules.reporting.card_fields import missing_fields
from hub.rules.reporting.detection import late_by_seconds, local_date, local_zone
from hub.rules.reporting.state import Case, Report, higher, rank
from schemas.models import DiseaseReportCard
from schemas.models.clinical import CaseClassification, Chronicity
from schemas.models.common import Patient
from schemas.models.outputs import CardKind, ReportAddress
from schemas.reference.diseases import DiseaseCatalogue, DiseaseMatch
from schemas.reference.messages import Text, text
from schemas.reference.registry import Member

# Opens a report's sealed patient block (the agent passes the hub's sealer).
Opener = Callable[[Report], Patient]


@dataclass(frozen=True, slots=True)
class CardView:
    """What the case's card would say now."""

    match: DiseaseMatch
    winner: Report
    patient: Patient
    classification: CaseClassification | None
    chronicity: Chronicity | None
    onset_date: date | None
    death_date: date | None
    missing: list[str]


def merge_patients(patients: Sequence[Patient]) -> Patient:
    """The first patient's fields, each gap filled from the next one that has it."""
    merged: dict[str, object] = {}
    for patient in patients:
        for name, value in patient:
            if merged.get(name) is None and value is not None:
                merged[name] = value
    return Patient.model_validate(merged)


def _subtype_code(case: Case, match_default: str | None) -> str | None:
    """The winner's subtype, unless it is only the default (untyped) and another report,
    or the card already sent, knows better."""
    candidates = [r.subtype_code for r in case.reports]
    if case.current_card is not None:
        candidates.append(case.current_card.subtype_code)
    specific = [c for c in candidates if c is not None and c != match_default]
    return specific[0] if specific else candidates[0]


def card_view(case: Case, catalogue: DiseaseCatalogue, opener: Opener,
              home: Home | None = None) -> CardView:
    """`home`: where the consortium is, to derive belonging from the address."""
    winner = case.basis
    disease = catalogue.get(case.disease_code)
    if disease is None:
        raise ValueError(f"disease {case.disease_code} is no longer in the catalogue")
    subtype = disease.subtype(_subtype_code(case, disease.default_subtype))
    match = catalogue.resolve(disease, subtype, winner.icd10 or "lab")
    card = case.current_card
    classification = higher(
        winner.classification, case.lab_classification, card.classification if card else None
    )
    chronicity = None
    if match.acute_or_chronic:
        told = (r.chronicity for r in case.reports)
        chronicity = next((c for c in told if c not in (None, Chronicity.UNKNOWN)), None)
    onset_date = next((r.onset_date for r in case.reports if r.onset_date), None)
    death_date = winner.death_date or (card.death_date if card else None)
    patient = with_belonging(merge_patients([opener(r) for r in case.reports]), home)
    missing = missing_fields(
        patient, winner, match, classification, chronicity, onset_date, catalogue.card,
        local_date(winner.diagnosed_at, catalogue),
    )
    return CardView(match, winner, patient, classification, chronicity, onset_date,
                    death_date, missing)


def card_number(case: Case, catalogue: DiseaseCatalogue) -> str:
    """The card's number: shared by the initial card and its revisions."""
    opened = case.opened_at.astimezone(local_zone(catalogue.utc_offset_hours))
    return f"{opened:%Y%m%d}-{case.case_id[:8].upper()}"


def build_card(
    case: Case,
    view: CardView,
    *,
    card_id: str,
    kind: CardKind,
    caused_by: str,
    unit: Member | None,
    catalogue: DiseaseCatalogue,
    now: datetime,
    revision_reason: str | None = None,
) -> DiseaseReportCard:
    """The card itself (only for a complete view: identities in clear, for the CDC only)."""
    if view.missing:
        raise ValueError(f"card is incomplete: {view.missing}")
    p, winner, match = view.patient, view.winner, view.match
    assert p.name and p.sex and p.belonging and p.occupation and p.address
    assert view.classification and view.onset_date and winner.icd10
    revision = kind is not CardKind.INITIAL  # a revision, or a deletion
    unit_id = winner.member_id
    return DiseaseReportCard(
        envelope=DiseaseReportCard.new_envelope(
            unit_id, event_id=card_id, occurred_at=now, correlation_id=caused_by
        ),
        card_id=card_id, card_number=card_number(case, catalogue), kind=kind,
        revision_of=case.original_card.card_id if revision and case.original_card else None,
        revision_reason=revision_reason,
        revised_disease_name=(
            f"{match.name}({match.subtype_name})" if match.subtype_name else match.name
        ) if revision else None,
        patient_name=p.name, parent_name=p.parent_name, id_type=p.id_type,
        id_number=p.id_number, sex=p.sex, birth_date=p.birth_date, age_value=p.age_value,
        age_unit=p.age_unit, employer=p.employer, phone=p.phone, belonging=p.belonging,
        address=ReportAddress.model_validate(p.address.model_dump()), occupation=p.occupation,
        case_classification=view.classification, chronicity=view.chronicity,
        onset_date=view.onset_date, diagnosed_at=winner.diagnosed_at,
        death_date=view.death_date, disease_code=match.code, disease_name=match.name,
        subtype=match.subtype_name, disease_class=match.disease_class, icd10=winner.icd10,
        reporting_unit_id=unit_id,
        reporting_unit_name=unit.name if unit else unit_id,
        reporting_unit_phone=unit.phone if unit else None,
        reporting_doctor=winner.doctor, filled_at=now, deadline=case.deadline,
        late_by_seconds=None if revision else late_by_seconds(case.deadline, now),
        remarks=winner.remarks,
    )


def revision_changes(case: Case, view: CardView) -> list[Text]:
    """What the card in force no longer says right, one phrase each; empty: a duplicate.

    A revision is due when the case class rises (suspected to clinical or confirmed), a
    typed subtype differs from the card's (an untyped one never replaces a typed one), the
    patient died of the disease, or another unit's report now outranks the card's unit.
    """
    card = case.current_card
    if card is None:
        return []
    changes: list[Text] = []
    if rank(view.classification) > rank(card.classification):
        assert view.classification is not None
        changes.append(text("revision.classification", before=card.classification,
                            after=view.classification))
    disease = view.match.disease
    subtype = view.match.subtype
    if (
        subtype is not None and subtype.code != card.subtype_code
        and subtype.code != disease.default_subtype
    ):
        before = disease.subtype(card.subtype_code)
        changes.append(text("revision.subtype", before=before.name if before else "-",
                            after=subtype.name))
    if view.death_date is not None and card.death_date is None:
        changes.append(text("revision.death", disease=disease.name, date=view.death_date))
    if view.winner.member_id != card.member_id:
        changes.append(text("revision.unit", before=card.member_id,
                            after=view.winner.member_id))
    return changes
