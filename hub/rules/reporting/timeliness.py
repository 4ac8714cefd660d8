"""Timeliness: the deadline watchdog over open cases, and the figures per reporting unit
and disease.

A case without a complete card warns its member once half its time is gone (Feedback
DEADLINE_WARNING), and once past its limit is reported to the CDC as a LateReport, with
how late, and its member told (Feedback LATE). Each happens once per case; a case found
already past its limit gets the late report only (a warning would come too late to help).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum

from hub.rules.reporting.detection import late_by_seconds, warning_at
from hub.rules.reporting.outputs import Outcome, case_details, late_report, reporting_feedback
from hub.rules.reporting.state import Case, PatientCases
from schemas.models.outputs import FeedbackStatus
from schemas.reference.diseases import DiseaseCatalogue
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, Text, text


class DeadlineState(StrEnum):
    IN_TIME = "in_time"
    WARNED = "warned"
    LATE = "late"


def deadline_state(case: Case, now: datetime) -> DeadlineState:
    if now > case.deadline:
        return DeadlineState.LATE
    if now >= warning_at(case.opened_at, case.deadline):
        return DeadlineState.WARNED
    return DeadlineState.IN_TIME


def _duration(seconds: int) -> Text:
    hours, rest = divmod(seconds, 3600)
    return text("duration.hms", hours=hours, minutes=rest // 60, seconds=rest % 60)


def check_deadlines(
    state: PatientCases, catalogue: DiseaseCatalogue, now: datetime,
    locale: Locale = DEFAULT_LOCALE,
) -> Outcome:
    """What the watchdog sends for one patient's open cases at `now`."""
    state = state.model_copy(deep=True)
    out = Outcome(state, changed=False)
    for case in state.cases:
        if not case.is_open or case.late_reported_at is not None:
            continue
        basis = case.basis
        details = case_details(case, catalogue)
        late_by = late_by_seconds(case.deadline, now)
        if late_by is not None:
            case.late_reported_at, case.late_by_seconds = now, late_by
            case.warned_at = case.warned_at or now
            out.late_reports.append(late_report(case, catalogue, late_by, now, locale))
            late = text("report.late_missing" if case.missing else "report.late",
                        late=_duration(late_by), deadline=case.deadline,
                        fields=[Label(name) for name in case.missing])
            out.feedback.append(reporting_feedback(
                basis.member_id, basis.event_id, FeedbackStatus.LATE, now,
                id_parts=(case.case_id,), missing_fields=case.missing, reason_code="LATE",
                reason=locale.render(late),
                details=details,
            ))
            out.changed = True
        elif case.warned_at is None and now >= warning_at(case.opened_at, case.deadline):
            case.warned_at = now
            out.feedback.append(reporting_feedback(
                basis.member_id, basis.event_id, FeedbackStatus.DEADLINE_WARNING, now,
                id_parts=(case.case_id,), missing_fields=case.missing,
                reason_code="HALF_TIME_GONE",
                reason=locale.render(text("report.half_time", deadline=case.deadline)),
                details=details,
            ))
            out.changed = True
    return out


@dataclass
class Timeliness:
    member_id: str
    disease_code: str
    cases: int = 0
    reported: int = 0
    on_time: int = 0
    late_cards: int = 0
    late_reports: int = 0
    open: int = 0
    revisions: int = 0
    total_delay_seconds: float = 0.0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.reported if self.reported else None

    @property
    def mean_delay_seconds(self) -> float | None:
        return self.total_delay_seconds / self.reported if self.reported else None

    def as_dict(self) -> dict[str, object]:
        figures = asdict(self)
        del figures["total_delay_seconds"]
        return {**figures, "on_time_rate": self.on_time_rate,
                "mean_delay_seconds": self.mean_delay_seconds}


def timeliness(cases: Iterable[Case], since: datetime | None = None) -> list[Timeliness]:
    """One row per unit and disease: cases opened (since `since`), cards sent on time or
    late, late reports, cases still open, revisions, and the mean time from diagnosis to
    card. A case counts for the unit of its initial card, or while open, of its report."""
    rows: dict[tuple[str, str], Timeliness] = {}
    for case in cases:
        if case.reported_elsewhere or (since is not None and case.opened_at < since):
            continue
        first = case.original_card
        if first is None and case.withdrawn is not None:
            continue  # taken back before any card was due
        member = first.member_id if first else case.basis.member_id
        row = rows.setdefault((member, case.disease_code), Timeliness(member, case.disease_code))
        row.cases += 1
        row.late_reports += case.late_reported_at is not None
        row.revisions += max(0, len(case.cards) - 1)
        if first is None:
            row.open += 1
            continue
        row.reported += 1
        row.on_time += first.late_by_seconds is None
        row.late_cards += first.late_by_seconds is not None
        row.total_delay_seconds += (first.filled_at - case.opened_at).total_seconds()
    return [rows[k] for k in sorted(rows)]
