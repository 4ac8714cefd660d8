"""The events reporting emits besides cards: feedback to members and late reports to the
CDC. Every id derives from what caused it, so a redelivery repeats it exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.rules.reporting.state import Case, PatientCases
from schemas.models import DiseaseReportCard, Feedback, LateReport, deterministic_id
from schemas.models.outputs import CardKind, FeedbackStatus
from schemas.reference.diseases import DiseaseCatalogue
from schemas.reference.messages import DEFAULT_LOCALE, Locale


@dataclass
class Outcome:
    """A patient's new state and what to send because of one event or one watchdog pass.
    `cards` pairs each card with its case id, the key that keeps revisions in order."""

    state: PatientCases
    cards: list[tuple[str, DiseaseReportCard]] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    late_reports: list[LateReport] = field(default_factory=list)
    changed: bool = True


def card_id_for(case_id: str, kind: CardKind, caused_by: str) -> str:
    """A case has one initial card, whichever report completes it; each revision is
    named by the report that caused it."""
    if kind is CardKind.INITIAL:
        return deterministic_id("disease-card", case_id, kind.value)
    return deterministic_id("disease-card", case_id, kind.value, caused_by)


def reporting_feedback(
    member_id: str,
    in_reply_to: str,
    status: FeedbackStatus,
    now: datetime,
    *,
    id_parts: tuple[str, ...] = (),
    missing_fields: list[str] | None = None,
    card_id: str | None = None,
    reason_code: str | None = None,
    reason: str | None = None,
    details: dict[str, str] | None = None,
) -> Feedback:
    """Feedback with the same id scheme as hub.runtime.emit.feedback."""
    event_id = deterministic_id("feedback", in_reply_to, status.value, *id_parts)
    return Feedback(
        envelope=Feedback.new_envelope(
            member_id, event_id=event_id, occurred_at=now, correlation_id=in_reply_to
        ),
        in_reply_to=in_reply_to, status=status, reason_code=reason_code, reason=reason,
        missing_fields=list(missing_fields or []), card_id=card_id, details=details or {},
    )


def case_details(case: Case, catalogue: DiseaseCatalogue) -> dict[str, str]:
    disease = catalogue.get(case.disease_code)
    return {
        "case_id": case.case_id,
        "disease_code": case.disease_code,
        "disease_name": disease.name if disease else case.disease_code,
        "deadline": case.deadline.isoformat(timespec="seconds"),
    }


def late_report(case: Case, catalogue: DiseaseCatalogue, late_by: int, now: datetime,
                locale: Locale = DEFAULT_LOCALE) -> LateReport:
    """A case past its limit still without a complete card, for the CDC: with the fields
    that held the card up, as codes and as people read them."""
    basis = case.basis
    disease = catalogue.get(case.disease_code)
    subtype = disease.subtype(basis.subtype_code) if disease else None
    if disease is None:
        raise ValueError(f"disease {case.disease_code} is no longer in the catalogue")
    match = catalogue.resolve(disease, subtype, basis.icd10 or "lab")
    return LateReport(
        envelope=LateReport.new_envelope(
            basis.member_id, event_id=deterministic_id("late-report", case.case_id),
            occurred_at=now, correlation_id=basis.event_id,
        ),
        case_id=case.case_id, reporting_unit_id=basis.member_id, disease_code=match.code,
        disease_name=match.name, disease_class=match.disease_class,
        diagnosed_at=case.opened_at, deadline=case.deadline, late_by_seconds=late_by,
        missing_fields=list(case.missing), lacks=[locale.label(m) for m in case.missing],
    )
