"""Report time limits (hub/rules/remote_read/limits.py, schemas/reference/read_limits.toml)
and the watchdog's escalation of a late read: both members first, then the backup
centre with the operators told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.rules.remote_read.engine import on_request, on_tick, owes_tick
from hub.rules.remote_read.limits import (
    Limit,
    Unit,
    deadline,
    load_limits,
    parse_limits,
    report_limit,
)
from schemas.models.clinical import OrderPriority as P
from schemas.models.remote_read import PatientSetting as S
from schemas.models.remote_read import ReadModality as M
from tests.factories import read_request
from tests.rules.remote_read_support import CTX, LI, T0, WORK, moved, opened, sealed

RULES = load_limits()


@pytest.mark.parametrize(("modality", "priority", "setting", "complex_study", "limit"), [
    (M.DR, P.EMERGENCY, S.EMERGENCY, False, "30m"),
    (M.CT, P.EMERGENCY, S.EMERGENCY, False, "1h"),
    (M.MR, P.EMERGENCY, S.INPATIENT, True, "1h"),
    (M.ECG, P.ROUTINE, S.OUTPATIENT, False, "30m"),
    (M.DR, P.ROUTINE, S.OUTPATIENT, False, "2h"),
    (M.CT, P.ROUTINE, S.OUTPATIENT, False, "4wh"),
    (M.CT, P.ROUTINE, S.INPATIENT, False, "6wh"),
    (M.CT, P.ROUTINE, S.OUTPATIENT, True, "24h"),
    (M.PATHOLOGY, P.ROUTINE, S.OUTPATIENT, False, "4wd"),
])
def test_the_shipped_limits_are_the_domain_notes(modality: M, priority: P, setting: S,
                                                  complex_study: bool, limit: str) -> None:
    assert str(report_limit(RULES, modality, priority, setting, complex_study)) == limit


def test_working_limits_skip_the_lunch_break_nights_and_holidays() -> None:
    friday_4pm = datetime(2026, 12, 11, 8, 0, tzinfo=UTC)  # 16:00 Beijing
    # 1.5 h Friday, then Monday 08:00 + 2.5 h = 10:30 Beijing
    assert deadline(Limit(4, Unit.WORKING_HOURS), friday_4pm, WORK) == \
        datetime(2026, 12, 14, 2, 30, tzinfo=UTC)
    # pathology before National Day: 30 September + 4 working days skips 1-7 October
    sept_30 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    assert deadline(Limit(4, Unit.WORKING_DAYS), sept_30, WORK).date() > \
        datetime(2026, 10, 8, tzinfo=UTC).date()
    assert deadline(Limit(30, Unit.MINUTES), friday_4pm, WORK) == \
        friday_4pm + timedelta(minutes=30)


def test_a_limits_file_must_cover_every_modality_and_priority() -> None:
    with pytest.raises(ValueError, match="no rule for CT"):
        parse_limits('[[limits]]\nmodality = "ECG"\nlimit = "30m"\n')
    with pytest.raises(ValueError, match="not a limit"):
        parse_limits('[[limits]]\nlimit = "4 hours"\n')
    with pytest.raises(ValueError, match="unknown"):
        parse_limits('[[limits]]\nmodality = "XRAY"\nlimit = "1h"\n')


def test_a_late_read_goes_to_both_members_then_to_the_backup_centre() -> None:
    record = moved(opened(), "lead", "CLAIMED", T0 + timedelta(minutes=1), reader=LI)
    due = record.report_due_at
    assert due is not None
    assert on_tick(record, due - timedelta(seconds=1), CTX).record is None
    first = on_tick(record, due, CTX)
    assert first.escalation_level == 1 and first.record is not None
    assert [s.envelope.member_id for s in first.statuses] == ["thc-river", "lead"]
    assert first.statuses[0].reason is not None and "第 1 级督办" in first.statuses[0].reason
    assert first.alerts == [] and first.requests == []
    assert on_tick(first.record, due + timedelta(minutes=30), CTX).record is None
    second = on_tick(first.record, due + timedelta(hours=1), CTX)
    assert second.record is not None and second.record.reading == "city-tcm"
    assert second.record.claimant is None and second.record.backup is None
    assert second.record.task.business_status == "routed-to-backup"
    assert [to for to, _ in second.requests] == ["city-tcm"]
    assert {s.envelope.member_id for s in second.statuses} == {"thc-river", "lead", "city-tcm"}
    (alert,) = second.alerts
    assert alert.kind == "remote-read-overdue" and "张三" not in alert.summary
    # the backup centre has a fresh limit from the re-routing
    assert second.record.report_due_at is not None
    assert second.record.report_due_at > due + timedelta(hours=1)
    assert second.record.task.escalation_level == 0


def test_the_escalation_repeats_byte_for_byte_after_a_crash() -> None:
    record = opened()
    due = record.report_due_at
    assert due is not None
    a, b = on_tick(record, due + timedelta(minutes=5), CTX), \
        on_tick(record, due + timedelta(minutes=9), CTX)
    assert [s.model_dump() for s in a.statuses] == [s.model_dump() for s in b.statuses]



def test_a_question_left_unanswered_escalates_as_the_examining_members_delay() -> None:
    record = moved(opened(), "lead", "CLAIMED", T0 + timedelta(minutes=1), reader=LI)
    asked = moved(record, "lead", "INFO_REQUESTED", T0 + timedelta(minutes=2), reader=LI)
    late = on_tick(asked, T0 + timedelta(hours=25), CTX)  # routine: 24 h to answer
    assert late.escalation_level == 1 and late.statuses[0].reason is not None
    assert "等待检查方补充信息" in late.statuses[0].reason
    office = on_tick(late.record or asked, T0 + timedelta(hours=26), CTX)
    assert office.escalation_level == 2 and office.alerts and office.requests == []


def test_the_task_alone_tells_whether_a_read_owes_the_watchdog_anything() -> None:
    """What the watchdog's sweep judges a stored read on (hub.agents.remote_read_sweep):
    owes_tick on its task says yes exactly when on_tick would change the read."""
    claimed = moved(opened(), "lead", "CLAIMED", T0 + timedelta(minutes=1), reader=LI)
    asked = moved(claimed, "lead", "INFO_REQUESTED", T0 + timedelta(minutes=2), reader=LI)
    due = claimed.report_due_at
    assert due is not None
    told = on_tick(claimed, due, CTX).record
    assert told is not None
    waiting = on_request(None, sealed(read_request("thc-river", "CT2", at=T0)), CTX).record
    assert waiting is not None  # no images yet: no report clock
    cancelled = moved(claimed, "thc-river", "CANCELLED", T0 + timedelta(minutes=3))
    moments = (T0, due - timedelta(seconds=1), due, due + timedelta(minutes=30),
               due + timedelta(hours=1), T0 + timedelta(hours=25), T0 + timedelta(days=30))
    owed = []
    for record in (claimed, asked, told, waiting, cancelled):
        for now in moments:
            owes = owes_tick(record.task, now, CTX)
            assert owes == (on_tick(record, now, CTX).record is not None)
            owed.append(owes)
    assert any(owed) and not all(owed)
