"""Notifiable disease reporting (domain.md section 2) as pure functions: detection,
deadlines, cases with their duplicate and revision rules, card assembly, the deadline
watchdog and timeliness figures."""

from hub.rules.reporting.belonging import Home, belonging_of, with_belonging
from hub.rules.reporting.card import CardView, Opener, build_card, card_view
from hub.rules.reporting.card_fields import lacks, missing_fields
from hub.rules.reporting.cases import Context, on_detection
from hub.rules.reporting.detection import (
    Detection,
    deadline_for,
    detect_diagnosis,
    detect_lab,
    warning_at,
)
from hub.rules.reporting.outputs import Outcome
from hub.rules.reporting.state import Case, PatientCases, Report
from hub.rules.reporting.timeliness import (
    DeadlineState,
    Timeliness,
    check_deadlines,
    deadline_state,
    timeliness,
)
from hub.rules.reporting.withdrawal import on_withdrawal

__all__ = [
    "CardView",
    "Case",
    "Context",
    "DeadlineState",
    "Detection",
    "Home",
    "Opener",
    "Outcome",
    "PatientCases",
    "Report",
    "Timeliness",
    "belonging_of",
    "build_card",
    "card_view",
    "check_deadlines",
    "deadline_for",
    "deadline_state",
    "detect_diagnosis",
    "detect_lab",
    "lacks",
    "missing_fields",
    "on_detection",
    "on_withdrawal",
    "timeliness",
    "warning_at",
    "with_belonging",
]
