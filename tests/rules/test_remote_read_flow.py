"""Remote diagnosis on the coordination machine (hub/rules/remote_read/engine.py): a CT
from a township read by the lead, the report going home and counting for recognition,
the report clock, idempotency and the record's stored form."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.engine import on_request, on_update
from hub.rules.remote_read.record import ReadRecord
from schemas.models.clinical import ResultStatus
from schemas.models.coordination import TaskStatus
from tests.factories import read_request, read_update
from tests.rules.remote_read_support import (
    CTX,
    LI,
    RID,
    T0,
    ZHAO,
    moved,
    opened,
    report,
    sealed,
    step,
)


def test_a_request_opens_at_the_lead_with_the_request_on_its_worklist() -> None:
    request = sealed(read_request("thc-river", "CT20261208001", at=T0))
    out = on_request(None, request, CTX)
    assert out.record is not None and out.record.request_id == RID
    assert (out.record.examining, out.record.reading) == ("thc-river", "lead")
    assert out.record.task.business_status == "waiting-for-images"
    assert [(to, r.patient.name) for to, r in out.requests] == [("lead", "张三")]
    assert [s.envelope.member_id for s in out.statuses] == ["thc-river", "lead"]
    assert all(s.patient.name == "张三" for s in out.statuses)


def test_the_clock_starts_with_the_images_in_working_hours() -> None:
    record = opened()
    assert record.images_at == T0
    # outpatient CT: 4 working hours from Tuesday 09:00 is 14:30 + 1h = 15:30 Beijing
    assert record.report_due_at == T0 + timedelta(hours=6, minutes=30)
    assert record.task.due_override == record.report_due_at


def test_a_ct_claimed_written_and_signed_by_another_reader_goes_home_and_counts() -> None:
    record = opened()
    claimed = moved(record, "lead", "CLAIMED", T0 + timedelta(minutes=5), reader=LI)
    assert claimed.claimant == LI and claimed.task.status is TaskStatus.IN_PROGRESS
    written = moved(claimed, "lead", "PRELIMINARY_REPORT", T0 + timedelta(minutes=30),
                    reader=LI, report=report())
    assert written.writer == LI and written.task.business_status == "preliminary"
    out = step(written, "lead", "FINAL_REPORT", T0 + timedelta(minutes=50), reader=ZHAO,
               report=report(reviewer=ZHAO))
    assert out.record is not None and out.record.task.status is TaskStatus.COMPLETED
    final = [s for s in out.statuses if s.envelope.member_id == "thc-river"]
    assert final[0].report is not None and final[0].report.reviewer == ZHAO
    assert final[0].report.writer == LI and final[0].patient.name == "张三"
    (result,) = out.results
    assert (result.envelope.member_id, result.item_code, result.status) == (
        "lead", "CT-HEAD", ResultStatus.FINAL)
    assert result.patient.name is None and result.patient.key and result.patient.sealed
    assert result.report_ref.startswith("1.2.840.")
    assert out.in_time is True and out.report_seconds == 50 * 60


def test_no_recognisable_result_from_a_centre_without_qc_for_the_item() -> None:
    record = opened(item_code="CT-HEAD")
    record = ReadRecord.from_json({**record.to_json()})
    unqualified = record.with_task(record.task.__class__(**{
        **{f: getattr(record.task, f) for f in record.task.__dataclass_fields__},
        "performer": "mch"}))
    claimed = moved(unqualified, "mch", "CLAIMED", T0, reader=LI)
    out = step(claimed, "mch", "FINAL_REPORT", T0 + timedelta(minutes=20), reader=ZHAO,
               report=report(writer=LI, reviewer=ZHAO))
    assert out.record is not None and out.record.is_final and out.results == []


def test_a_redelivered_step_repeats_nothing() -> None:
    record = opened()
    update = read_update("lead", record.request_id, "CLAIMED", at=T0, reader=LI)
    out = on_update(record, update, CTX)
    assert out.record is not None and out.statuses
    again = on_update(out.record, update, CTX)
    assert again.repeated and again.record is None and again.statuses == []


def test_an_accession_reused_for_another_study_is_refused() -> None:
    record = opened()
    other = sealed(read_request("thc-river", "CT20261208001", at=T0, modality="MR"))
    with pytest.raises(Rejection) as caught:
        on_request(record, other, CTX)
    assert caught.value.code == Reason.READ_ID_REUSED


def test_the_record_survives_its_stored_form() -> None:
    record = moved(opened(), "lead", "CLAIMED", T0, reader=LI)
    assert ReadRecord.from_json(record.to_json()) == record


def test_information_requested_stops_the_report_clock_for_the_wait() -> None:
    record = moved(opened(), "lead", "CLAIMED", T0, reader=LI)
    due = record.report_due_at
    assert due is not None
    asked = moved(record, "lead", "INFO_REQUESTED", T0 + timedelta(minutes=10), reader=LI)
    assert asked.task.status is TaskStatus.ON_HOLD
    given = moved(asked, "thc-river", "INFO_PROVIDED", T0 + timedelta(minutes=70))
    assert given.report_due_at == due + timedelta(hours=1)
    assert given.task.due_override == given.report_due_at


def test_the_examining_member_cancels_and_the_reader_cannot() -> None:
    record = opened()
    with pytest.raises(Rejection) as caught:
        step(record, "lead", "CANCELLED", T0)
    assert caught.value.code == "ROLE_NOT_ALLOWED"
    cancelled = moved(record, "thc-river", "CANCELLED", T0)
    assert cancelled.task.status is TaskStatus.CANCELLED and cancelled.closed_at == T0


def test_a_request_naming_only_the_members_own_code_gets_its_catalogue_item() -> None:
    """An HL7 OBR-4 carries the member's exam code: without the item the final report
    could never be recognised."""
    from dataclasses import replace

    from schemas.reference.items import load_item_catalogue

    request = sealed(read_request("thc-river", "CT20261208001", at=T0, item_code=None,
                                  local_code="HKJ04"))
    assert on_request(None, request, CTX).record.item_code is None  # type: ignore[union-attr]
    with_catalogue = replace(CTX, catalogue=load_item_catalogue())
    out = on_request(None, request, with_catalogue)
    assert out.record is not None and out.record.item_code == "CT-HEAD"
