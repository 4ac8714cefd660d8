"""Reader-level rules (hub/rules/remote_read/readers.py): an exclusive claim, the
claimant's centre only, the claimant writes, the reviewer is not the writer, a final
report is locked and amended only naming what it supersedes and why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.record import ReadRecord
from schemas.models.coordination import TaskStatus
from tests.rules.remote_read_support import LI, QIAN, T0, ZHAO, moved, opened, report, step


def refused(record: ReadRecord, member: str, action: str, **overrides: object) -> Rejection:
    with pytest.raises(Rejection) as caught:
        step(record, member, action, T0 + timedelta(minutes=40), **overrides)
    return caught.value


def claimed() -> ReadRecord:
    return moved(opened(), "lead", "CLAIMED", T0 + timedelta(minutes=1), reader=LI)


def final() -> ReadRecord:
    written = moved(claimed(), "lead", "PRELIMINARY_REPORT", T0 + timedelta(minutes=20),
                    reader=LI, report=report())
    return moved(written, "lead", "FINAL_REPORT", T0 + timedelta(minutes=30), reader=ZHAO,
                 report=report(reviewer=ZHAO))


def test_a_second_reader_is_told_at_once_who_holds_the_study() -> None:
    refusal = refused(claimed(), "lead", "CLAIMED", reader=QIAN)
    assert refusal.code == Reason.READ_CLAIMED_BY_OTHER
    assert refusal.reason == "该检查已由 李影像（R017） 认领，钱医生（R021） 不能再认领"


def test_a_claim_names_its_reader() -> None:
    assert refused(opened(), "lead", "CLAIMED").code == Reason.READ_READER_REQUIRED


def test_only_the_reading_centre_claims_or_reports() -> None:
    assert refused(opened(), "city-tcm", "CLAIMED", reader=QIAN).code == "NOT_A_PARTY"
    assert refused(claimed(), "thc-river", "PRELIMINARY_REPORT", reader=LI,
                   report=report()).code == "ROLE_NOT_ALLOWED"


def test_only_the_claimant_writes_or_releases() -> None:
    assert refused(claimed(), "lead", "PRELIMINARY_REPORT", reader=QIAN,
                   report=report()).code == Reason.READ_NOT_CLAIMANT
    assert refused(claimed(), "lead", "RELEASED", reader=QIAN).code == Reason.READ_NOT_CLAIMANT


def test_a_released_study_is_back_on_the_worklist_for_another_reader() -> None:
    released = moved(claimed(), "lead", "RELEASED", T0 + timedelta(minutes=5), reader=LI)
    assert released.claimant is None and released.task.status is TaskStatus.RECEIVED
    again = moved(released, "lead", "CLAIMED", T0 + timedelta(minutes=6), reader=QIAN)
    assert again.claimant == QIAN


def test_a_reassignment_makes_the_named_reader_the_claimant() -> None:
    reassigned = moved(claimed(), "lead", "REASSIGNED", T0 + timedelta(minutes=5),
                       reader=ZHAO, reassigned_to=QIAN)
    assert reassigned.claimant == QIAN
    written = moved(reassigned, "lead", "PRELIMINARY_REPORT", T0 + timedelta(minutes=9),
                    reader=QIAN, report=report())
    assert written.writer == QIAN
    assert refused(claimed(), "lead", "REASSIGNED", reader=ZHAO).code == \
        Reason.READ_READER_REQUIRED


def test_a_report_step_carries_its_report() -> None:
    assert refused(claimed(), "lead", "PRELIMINARY_REPORT", reader=LI).code == \
        Reason.READ_REPORT_REQUIRED


def test_the_reviewer_may_not_be_the_writer() -> None:
    written = moved(claimed(), "lead", "PRELIMINARY_REPORT", T0 + timedelta(minutes=20),
                    reader=LI, report=report())
    refusal = refused(written, "lead", "FINAL_REPORT", reader=LI, report=report(reviewer=LI))
    assert refusal.code == Reason.READ_REVIEWER_IS_WRITER
    # a final without a preliminary: written by the claimant, signed by another
    direct = refused(claimed(), "lead", "FINAL_REPORT", reader=LI,
                     report=report(writer=LI, reviewer=LI))
    assert direct.code == Reason.READ_REVIEWER_IS_WRITER
    signed = moved(claimed(), "lead", "FINAL_REPORT", T0 + timedelta(minutes=20),
                   reader=ZHAO, report=report(writer=LI, reviewer=ZHAO))
    assert signed.report is not None and signed.report.writer == LI


def test_a_final_report_is_locked() -> None:
    locked = final()
    for action in ("PRELIMINARY_REPORT", "FINAL_REPORT"):
        refusal = refused(locked, "lead", action, reader=ZHAO, report=report("RPT-2"))
        assert refusal.code == Reason.READ_REPORT_LOCKED
    assert refused(locked, "lead", "RELEASED", reader=LI).code == "TASK_CLOSED"
    assert refused(locked, "thc-river", "CANCELLED").code == "TASK_CLOSED"


def test_an_amendment_names_what_it_supersedes_and_why() -> None:
    locked = final()
    assert refused(locked, "lead", "AMENDED_REPORT", reader=ZHAO,
                   report=report("RPT-2")).code == Reason.READ_REPORT_LOCKED
    assert refused(locked, "lead", "AMENDED_REPORT", reader=ZHAO,
                   report=report("RPT-2", supersedes="RPT-X", amend_reason="笔误")).code == \
        Reason.READ_REPORT_LOCKED
    out = step(locked, "lead", "AMENDED_REPORT", T0 + timedelta(hours=2), reader=ZHAO,
               report=report("RPT-2", supersedes="RPT-1", amend_reason="左右侧别笔误，更正为右侧"))
    assert out.record is not None and out.record.task.business_status == "amended"
    assert out.record.report_refs == ("RPT-1", "RPT-2")
    assert out.statuses[0].report is not None and out.statuses[0].report.supersedes == "RPT-1"
    (result,) = out.results
    assert result.status == "CORRECTED"
