"""Remote diagnosis figures (hub/rules/remote_read/figures.py): per centre and period by
the final report, and compliance per modality and priority against each read's limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hub.rules.remote_read.figures import compliance, diagnoses_per_centre
from hub.rules.remote_read.record import ReadRecord
from schemas.models.remote_read import ReadModality
from tests.rules.remote_read_support import LI, T0, ZHAO, moved, opened, report


def final_after(minutes: int, **changes: object) -> ReadRecord:
    claimed = moved(opened(), "lead", "CLAIMED", T0, reader=LI)
    signed = moved(claimed, "lead", "FINAL_REPORT", T0 + timedelta(minutes=minutes),
                   reader=ZHAO, report=report(writer=LI, reviewer=ZHAO))
    return replace(signed, **changes)  # type: ignore[arg-type]


def test_compliance_counts_final_reports_by_their_deadline() -> None:
    records = [final_after(60), final_after(60 * 8), opened(),
               final_after(20, modality=ReadModality.ECG, report_due_at=T0 + timedelta(
                   minutes=30))]
    rows = {(r.modality, r.priority): r.as_dict() for r in compliance(records)}
    assert rows[("CT", "ROUTINE")] == {"modality": "CT", "priority": "ROUTINE", "reports": 2,
                                       "in_time": 1, "rate": 0.5}
    assert rows[("ECG", "ROUTINE")]["rate"] == 1.0


def test_remote_diagnoses_count_per_centre_and_beijing_month() -> None:
    december = final_after(30)
    january = final_after(30, final_at=T0 + timedelta(days=24, hours=16))  # 1 Jan Beijing
    rows = [r.as_dict() for r in diagnoses_per_centre([december, january, opened()])]
    assert rows == [
        {"period": "2026-12", "centre": "lead", "modality": "CT", "reports": 1},
        {"period": "2027-01", "centre": "lead", "modality": "CT", "reports": 1}]
