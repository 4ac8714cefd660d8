"""One patient's notifiable cases: which case a report belongs to, and whether it makes
a card, a revision (订正), a duplicate or an incomplete report.

The rules, as the hub applies them:

- One case per patient (pseudonym) and disease and course. The pseudonym comes from the
  ID number, or without one from name, sex, birth date and address (hub.rules.privacy); without
  one the occupation group must match too. So the card's two duplicate rules hold here.
- A second course: a non-chronic disease reported again on an INITIAL visit whose onset
  (or, without one, diagnosis) date is more than `new_course_after_days` (diseases.toml)
  after the case was last seen opens a new case, hence a new card. A FOLLOW_UP visit never
  does. A chronic disease (hepatitis B, tuberculosis, schistosomiasis) has one case: only
  the first diagnosis gets a card; a follow-up visit with no case on record means it was
  reported before the hub knew of it, so it only gets DUPLICATE.
- A case without a complete card stays open: each report gets INCOMPLETE naming what is
  missing, and the deadline keeps running. A lab result alone opens a case pending the
  doctor's diagnosis; once a card is out, only diagnoses revise it.
- The card is built from the best report (`_ordered`): a diagnosis over a lab result, then
  the treating unit's, the higher-level unit's, the higher case class; among equals the
  unit whose card is out, then the latest report.
- Once a card is out, a report that raises the case class, names a new (typed) subtype,
  reports death from the disease, or makes another unit's report the kept one, produces a
  REVISION of the original card; anything else is a DUPLICATE naming the card in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.rules.reporting.belonging import Home
from hub.rules.reporting.card import CardView, Opener, build_card, card_view, revision_changes
from hub.rules.reporting.detection import Detection, local_date
from hub.rules.reporting.outputs import Outcome, card_id_for, case_details, reporting_feedback
from hub.rules.reporting.state import Case, PatientCases, Report, SentCard, higher
from schemas.models import Feedback, deterministic_id
from schemas.models.clinical import VisitKind
from schemas.models.outputs import CardKind, FeedbackStatus
from schemas.reference.calendar import WorkingCalendar
from schemas.reference.diseases import DiseaseCatalogue
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, text
from schemas.reference.registry import Registry

MAX_REPORTS = 4  # the best reports of a case kept to build its card from
MAX_SEEN = 64  # event ids remembered per patient, so a redelivered event changes nothing


@dataclass(frozen=True, slots=True)
class Context:
    catalogue: DiseaseCatalogue
    registry: Registry
    opener: Opener
    retention_days: int
    calendar: WorkingCalendar  # the working days a foodborne card's limit counts
    locale: Locale = DEFAULT_LOCALE  # language and zone of the reasons people read

    @property
    def home(self) -> Home | None:
        return Home.of(self.registry.consortium)


def _ordered(case: Case, reports: list[Report]) -> list[Report]:
    holder = case.current_card.member_id if case.current_card else None
    ranked = sorted(
        reports, key=lambda r: (*r.precedence(), r.member_id == holder, r.diagnosed_at),
        reverse=True,
    )
    return ranked[:MAX_REPORTS]


def find_case(
    state: PatientCases, detection: Detection, catalogue: DiseaseCatalogue
) -> Case | None:
    report = detection.report
    latest = state.latest_case(report, detection.match.code)
    if latest is None or detection.match.chronic or report.visit_kind is VisitKind.FOLLOW_UP:
        return latest
    started = report.onset_date or local_date(report.diagnosed_at, catalogue)
    gap = (started - local_date(latest.last_seen, catalogue)).days
    return None if gap > catalogue.new_course_after_days else latest


def open_case(
    key: str, detection: Detection, catalogue: DiseaseCatalogue, calendar: WorkingCalendar
) -> Case:
    report = detection.report
    chronic_follow_up = (
        detection.match.chronic and report.visit_kind is VisitKind.FOLLOW_UP
        and not report.from_lab
    )
    return Case(
        case_id=deterministic_id("disease-case", key, detection.match.code, report.event_id),
        disease_code=detection.match.code, opened_at=report.diagnosed_at,
        deadline=detection.deadline(catalogue, calendar), reports=[report],
        lab_classification=report.classification if report.from_lab else None,
        last_seen=report.diagnosed_at, reported_elsewhere=chronic_follow_up,
    )


def add_report(
    case: Case, detection: Detection, catalogue: DiseaseCatalogue, calendar: WorkingCalendar
) -> None:
    report = detection.report
    case.reports = _ordered(case, [*case.reports, report])
    case.last_seen = max(case.last_seen, report.diagnosed_at)
    if case.is_open:
        # a more urgent subtype (pulmonary anthrax) tightens the deadline, never loosens it
        case.deadline = min(case.deadline, detection.deadline(catalogue, calendar))
        if report.from_lab:
            case.lab_classification = higher(case.lab_classification, report.classification)


def prepared(
    state: PatientCases | None, key: str, report: Report, ctx: Context, now: datetime,
    partition: int | None,
) -> Outcome:
    """A copy of the state with the report noted as seen (unchanged if it was seen)."""
    state = state.model_copy(deep=True) if state else PatientCases(key=key)
    if report.event_id in state.seen:
        return Outcome(state, changed=False)
    if partition is not None:
        state.partition = partition
    state.prune(now - timedelta(days=ctx.retention_days))
    state.seen = [*state.seen, report.event_id][-MAX_SEEN:]
    return Outcome(state)


def on_detection(
    state: PatientCases | None,
    key: str,
    detection: Detection,
    ctx: Context,
    now: datetime,
    partition: int | None = None,
) -> Outcome:
    """Apply one reportable diagnosis or lab result to a patient's cases. `partition`: the
    input's partition, remembered so the watchdog can write this state back."""
    out = prepared(state, key, detection.report, ctx, now, partition)
    if not out.changed:
        return out
    state, report = out.state, detection.report
    case = find_case(state, detection, ctx.catalogue)
    if case is not None and report.from_lab and case.cards:
        return out
    if case is None:
        case = open_case(key, detection, ctx.catalogue, ctx.calendar)
        state.cases.append(case)
    else:
        add_report(case, detection, ctx.catalogue, ctx.calendar)
    if case.reported_elsewhere:
        out.feedback.append(_duplicate(case, report, ctx, now))
        return out
    view = card_view(case, ctx.catalogue, ctx.opener, ctx.home)
    changes = revision_changes(case, view) if case.cards else []
    if case.cards and not changes:
        out.feedback.append(_duplicate(case, report, ctx, now))
    elif view.missing:
        case.missing = view.missing
        out.feedback.append(_incomplete(case, view, report, ctx, now))
    else:
        case.missing = []
        kind = CardKind.REVISION if case.cards else CardKind.INITIAL
        reason = ctx.locale.clauses(changes) if changes else None
        send_card(case, view, report, kind, reason, ctx, now, out)
    return out


def send_card(
    case: Case, view: CardView, report: Report, kind: CardKind, reason: str | None,
    ctx: Context, now: datetime, out: Outcome,
) -> None:
    card_id = card_id_for(case.case_id, kind, report.event_id)
    card = build_card(
        case, view, card_id=card_id, kind=kind, caused_by=report.event_id,
        unit=ctx.registry.get(view.winner.member_id), catalogue=ctx.catalogue, now=now,
        revision_reason=reason,
    )
    previous = case.current_card
    case.cards.append(SentCard(
        card_id=card_id, kind=kind, member_id=view.winner.member_id,
        basis_event_id=view.winner.event_id, caused_by=report.event_id,
        classification=card.case_classification, subtype_code=view.match.subtype.code
        if view.match.subtype else None, death_date=card.death_date, filled_at=now,
        late_by_seconds=card.late_by_seconds,
    ))
    out.cards.append((case.case_id, card))
    # the member that sent the report, the unit on the card, and the unit it replaces
    told = [(report.member_id, report.event_id), (view.winner.member_id, view.winner.event_id)]
    if previous is not None:
        told.append((previous.member_id, previous.basis_event_id))
    status = FeedbackStatus.REPORTED if kind is CardKind.INITIAL else FeedbackStatus.REVISED
    details = {**case_details(case, ctx.catalogue), "card_number": card.card_number}
    if card.revision_of:
        details["revision_of"] = card.revision_of
    replies: dict[str, str] = {}
    for member_id, event_id in told:
        replies.setdefault(member_id, event_id)
    for member_id, in_reply_to in replies.items():
        out.feedback.append(reporting_feedback(
            member_id, in_reply_to, status, now, id_parts=(card_id,), card_id=card_id,
            reason_code=kind.value,
            reason=reason or ctx.locale.render(text("report.sent", card_number=card.card_number)),
            details=details,
        ))


def _incomplete(
    case: Case, view: CardView, report: Report, ctx: Context, now: datetime
) -> Feedback:
    pending = view.winner.from_lab
    return reporting_feedback(
        report.member_id, report.event_id, FeedbackStatus.INCOMPLETE, now,
        missing_fields=view.missing,
        reason_code="PENDING_DIAGNOSIS" if pending else "MISSING_FIELDS",
        reason=ctx.locale.render(text(
            "report.pending_diagnosis" if pending else "report.missing_fields",
            fields=[Label(name) for name in view.missing], deadline=case.deadline,
        )),
        details=case_details(case, ctx.catalogue),
    )


def _duplicate(case: Case, report: Report, ctx: Context, now: datetime) -> Feedback:
    card = case.current_card
    details = case_details(case, ctx.catalogue)
    if card is None:
        code, reason = "CHRONIC_FOLLOW_UP", text("report.chronic_follow_up")
    elif report.member_id != card.member_id:
        code, reason = "KEPT_OTHER_UNIT", text("report.kept_other_unit", member=card.member_id)
        details["original_card_id"] = case.cards[0].card_id
    else:
        code, reason = "SAME_CASE", text("report.same_case")
        details["original_card_id"] = case.cards[0].card_id
    return reporting_feedback(
        report.member_id, report.event_id, FeedbackStatus.DUPLICATE, now,
        card_id=card.card_id if card else None, reason_code=code,
        reason=ctx.locale.render(reason),
        details=details,
    )
