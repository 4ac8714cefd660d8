"""A diagnosis taken back: refuted (ruled out) or entered in error.

It applies to the patient's latest live case of the same disease (pseudonym and disease
code, as every report of a case; hub.rules.reporting.state.PatientCases.latest_case):

- card at the CDC, refuted: a revision card (订正) with the case classification EXCLUDED
  (排除病例);
- card at the CDC, entered in error: a DELETION card (删除) naming the card withdrawn;
- either card carries the new diagnosis date (when it was taken back) and fill date, and a
  deadline counted from the new diagnosis date by the disease's limit;
- no card yet (incomplete, or a chronic follow-up reported elsewhere): the case is closed,
  nothing is owed the CDC, and its members are told (WITHDRAWN).

A withdrawn case takes no further reports: the same disease diagnosed again later opens a
new case. A taking back with no live case to take back changes nothing but is remembered
as seen.
"""

from __future__ import annotations

from datetime import datetime

from hub.rules.reporting.card import build_card, card_view
from hub.rules.reporting.cases import Context, prepared
from hub.rules.reporting.detection import Detection
from hub.rules.reporting.outputs import Outcome, card_id_for, case_details, reporting_feedback
from hub.rules.reporting.state import Case, PatientCases, Report, SentCard
from schemas.models.clinical import CaseClassification, DiagnosisVerification
from schemas.models.outputs import CardKind, FeedbackStatus
from schemas.reference.messages import text

KINDS = {DiagnosisVerification.REFUTED: CardKind.REVISION,
         DiagnosisVerification.ENTERED_IN_ERROR: CardKind.DELETION}
REASONS = {DiagnosisVerification.REFUTED: "report.refuted",
           DiagnosisVerification.ENTERED_IN_ERROR: "report.entered_in_error"}


def on_withdrawal(
    state: PatientCases | None,
    key: str,
    detection: Detection,
    ctx: Context,
    now: datetime,
    partition: int | None = None,
) -> Outcome:
    """Apply a refuted or erroneous diagnosis to a patient's cases."""
    if not detection.takes_back:
        raise ValueError("the diagnosis is not taken back")
    out = prepared(state, key, detection.report, ctx, now, partition)
    if not out.changed:
        return out
    report = detection.report
    case = out.state.latest_case(report, detection.match.code)
    if case is None:
        return out
    case.withdrawn = detection.verification
    case.last_seen = max(case.last_seen, report.diagnosed_at)
    case.missing = []
    if case.cards:
        _withdraw_card(case, detection, ctx, now, out)
    else:
        _close_unsent(case, report, detection.verification, ctx, now, out)
    return out


def _withdraw_card(
    case: Case, detection: Detection, ctx: Context, now: datetime, out: Outcome
) -> None:
    report, verification = detection.report, detection.verification
    kind = KINDS[verification]
    card_id = card_id_for(case.case_id, kind, report.event_id)
    view = card_view(case, ctx.catalogue, ctx.opener)
    disease = view.match.name
    reason = ctx.locale.render(text(REASONS[verification], disease=disease,
                                    doctor=report.doctor or report.member_id))
    in_force = case.current_card
    assert in_force is not None
    built = build_card(
        case, view, card_id=card_id, kind=kind, caused_by=report.event_id,
        unit=ctx.registry.get(view.winner.member_id), catalogue=ctx.catalogue, now=now,
        revision_reason=reason,
    )
    classification = (CaseClassification.EXCLUDED if verification is
                      DiagnosisVerification.REFUTED else built.case_classification)
    card = built.model_copy(update={
        "case_classification": classification, "diagnosed_at": report.diagnosed_at,
        "deadline": detection.deadline(ctx.catalogue, ctx.calendar),
        "reporting_doctor": report.doctor or built.reporting_doctor,
    })
    case.cards.append(SentCard(
        card_id=card_id, kind=kind, member_id=card.reporting_unit_id,
        basis_event_id=report.event_id, caused_by=report.event_id,
        classification=classification, subtype_code=in_force.subtype_code,
        death_date=card.death_date, filled_at=now,
    ))
    out.cards.append((case.case_id, card))
    details = {**case_details(case, ctx.catalogue), "card_number": card.card_number,
               "revision_of": card.revision_of or ""}
    for member_id, in_reply_to in _told(report, in_force.member_id,
                                        in_force.basis_event_id).items():
        out.feedback.append(reporting_feedback(
            member_id, in_reply_to, FeedbackStatus.REVISED, now, id_parts=(card_id,),
            card_id=card_id, reason_code=verification.value, reason=reason, details=details,
        ))


def _close_unsent(
    case: Case, report: Report, verification: DiagnosisVerification, ctx: Context,
    now: datetime, out: Outcome,
) -> None:
    disease = ctx.catalogue.get(case.disease_code)
    reason = ctx.locale.render(text("report.closed_unsent",
                                    disease=disease.name if disease else case.disease_code))
    for member_id, in_reply_to in _told(report, case.basis.member_id,
                                        case.basis.event_id).items():
        out.feedback.append(reporting_feedback(
            member_id, in_reply_to, FeedbackStatus.WITHDRAWN, now, id_parts=(case.case_id,),
            reason_code=verification.value, reason=reason,
            details=case_details(case, ctx.catalogue),
        ))


def _told(report: Report, holder: str, holder_event: str) -> dict[str, str]:
    """The member that took the diagnosis back and the unit whose report made the case,
    each answered once (member -> the event id answered)."""
    replies = {report.member_id: report.event_id}
    replies.setdefault(holder, holder_event)
    return replies
