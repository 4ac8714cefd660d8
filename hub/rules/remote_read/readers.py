"""Reader-level rules of remote diagnosis, below the machine's member-level ones: a claim
is exclusive (a second reader is told at once who holds it); only the claimant releases,
asks for information or writes the preliminary report (a reassignment names the new
claimant); the final report's reviewer (审核) is not its writer (书写); a final report is
locked: a later change is an amendment naming the report it supersedes and why."""

from __future__ import annotations

from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.record import ReadRecord
from schemas.models.remote_read import ReadAction, Reader, ReadReport, ReadUpdate

A = ReadAction
CLAIMANT_STEPS = frozenset({A.RELEASED, A.INFO_REQUESTED, A.PRELIMINARY_REPORT})
REPORT_STEPS = frozenset({A.PRELIMINARY_REPORT, A.FINAL_REPORT, A.AMENDED_REPORT,
                          A.CORRECTED_REPORT})
AMENDMENTS = frozenset({A.AMENDED_REPORT, A.CORRECTED_REPORT})


def reader_label(reader: Reader | None) -> str:
    if reader is None:
        return "-"
    return f"{reader.name}（{reader.reader_id}）" if reader.name else reader.reader_id


def _reader(update: ReadUpdate) -> Reader:
    """Who takes the step: the update's reader, else the report's writer."""
    reader = update.reader or (update.report.writer if update.report else None)
    if reader is None:
        raise Rejection(Reason.READ_READER_REQUIRED, "remote_read.reader_required",
                        action=update.action.value)
    return reader


def _report(update: ReadUpdate) -> ReadReport:
    report = update.report
    if report is None or not (report.impression or report.findings):
        raise Rejection(Reason.READ_REPORT_REQUIRED, "remote_read.report_required",
                        action=update.action.value)
    return report


def _same(a: Reader | None, b: Reader | None) -> bool:
    return a is not None and b is not None and a.reader_id == b.reader_id


def check_claim(record: ReadRecord, update: ReadUpdate) -> None:
    """Before the machine: a second reader's claim is refused with who holds the study."""
    reader = _reader(update)
    if record.claimant is not None and not _same(record.claimant, reader) \
            and update.envelope.member_id == record.reading:
        raise Rejection(Reason.READ_CLAIMED_BY_OTHER, "remote_read.claimed_by_other",
                        claimant=reader_label(record.claimant), reader=reader_label(reader))


def _check_claimant(record: ReadRecord, update: ReadUpdate, reader: Reader) -> None:
    if not _same(record.claimant, reader):
        raise Rejection(Reason.READ_NOT_CLAIMANT, "remote_read.not_claimant",
                        reader=reader_label(reader), claimant=reader_label(record.claimant),
                        action=update.action.value)


def check_locked(record: ReadRecord, update: ReadUpdate) -> None:
    """After the final report only an amendment is taken: refused with the report it
    would have to name (before the machine's plainer TASK_CLOSED)."""
    if record.is_final and update.action in REPORT_STEPS - AMENDMENTS:
        raise Rejection(Reason.READ_REPORT_LOCKED, "remote_read.report_locked",
                        report_ref=record.report.report_ref if record.report else "-")


def reader_changes(record: ReadRecord, update: ReadUpdate) -> dict[str, object]:
    """The reader-level check of an allowed step, and what it changes on the record."""
    action = update.action
    if action is A.CLAIMED:
        return {"claimant": _reader(update)}
    if action is A.REASSIGNED:
        target = update.reassigned_to
        if target is None:
            raise Rejection(Reason.READ_READER_REQUIRED, "remote_read.reader_required",
                            action=action.value)
        return {"claimant": target, "writer": None}
    if action in CLAIMANT_STEPS:
        reader = _reader(update)
        _check_claimant(record, update, reader)
        if action is A.RELEASED:
            return {"claimant": None, "writer": None}
        if action is A.PRELIMINARY_REPORT:
            report = _report(update).model_copy(update={"writer": reader})
            return {"writer": reader, "report": report}
        return {}
    if action is A.FINAL_REPORT:
        return _final(record, update)
    if action in AMENDMENTS:
        return _amendment(record, update)
    return {}


def _final(record: ReadRecord, update: ReadUpdate) -> dict[str, object]:
    report = _report(update)
    writer = record.writer or report.writer or record.claimant
    if record.writer is None:  # no preliminary: the claimant wrote it
        _check_claimant(record, update, writer or _reader(update))
    reviewer = report.reviewer or update.reader
    if reviewer is None:
        raise Rejection(Reason.READ_READER_REQUIRED, "remote_read.reader_required",
                        action=update.action.value)
    if _same(reviewer, writer):
        raise Rejection(Reason.READ_REVIEWER_IS_WRITER, "remote_read.reviewer_is_writer",
                        reviewer=reader_label(reviewer))
    return {"writer": writer,
            "report": report.model_copy(update={"writer": writer, "reviewer": reviewer})}


def _amendment(record: ReadRecord, update: ReadUpdate) -> dict[str, object]:
    report = _report(update)
    current = record.report.report_ref if record.report else "-"
    if report.supersedes != current or not report.amend_reason:
        raise Rejection(Reason.READ_REPORT_LOCKED, "remote_read.report_locked",
                        report_ref=current)
    _reader(update)
    return {"report": report}
