"""Critical values (hub/rules/remote_read/critical.py) on the coordination machine: raised
with a report by the reading centre, double-checked by a second reader, delivered by the
hub, acknowledged with the read-back and resolved by the ordering member only, escalated
when unacknowledged, every step in the register."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.rules.coordination import shipped_flow
from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.critical import (
    REGISTER_COLUMNS,
    CriticalContext,
    CriticalOutcome,
    CriticalRecord,
    on_critical,
    on_critical_tick,
    register_rows,
)
from hub.rules.remote_read.figures import register_csv
from hub.rules.remote_read.record import ReadRecord
from schemas.models.coordination import TaskStatus
from schemas.reference.messages import DEFAULT_LOCALE
from tests.factories import critical_update
from tests.rules.remote_read_support import (
    BEIJING,
    LI,
    QIAN,
    RID,
    SEALER,
    T0,
    ZHAO,
    moved,
    opened,
    report,
)

CTX = CriticalContext(shipped_flow("critical_value"), timedelta(minutes=15),
                      SEALER.open_patient, DEFAULT_LOCALE)
FINDING = "右侧大量气胸，右肺压缩约70%"
READ_BACK = "右侧大量气胸，右肺压缩约百分之七十，已通知主管医生"


def reported() -> ReadRecord:
    claimed = moved(opened(), "lead", "CLAIMED", T0, reader=LI)
    return moved(claimed, "lead", "PRELIMINARY_REPORT", T0 + timedelta(minutes=10),
                 reader=LI, report=report())


def critical(record: CriticalRecord | None, read: ReadRecord, member: str, action: str,
             minutes: int, **overrides: object) -> CriticalOutcome:
    update = critical_update(member, RID, "CV1", action, at=T0 + timedelta(minutes=minutes),
                             **overrides)
    return on_critical(record, read, update, CTX)


def raised_and_checked() -> tuple[CriticalRecord, ReadRecord]:
    read = reported()
    raised = critical(None, read, "lead", "RAISED", 11, finding=FINDING, by=LI)
    assert raised.record is not None
    checked = critical(raised.record, read, "lead", "DOUBLE_CHECKED", 12, by=ZHAO)
    assert checked.record is not None
    return checked.record, read


def test_raised_with_a_report_by_the_reading_centre_only() -> None:
    read = reported()
    with pytest.raises(Rejection) as caught:
        critical(None, read, "thc-river", "RAISED", 11, finding=FINDING, by=QIAN)
    assert caught.value.code == Reason.CRITICAL_NOT_READER
    unreported = moved(opened(), "lead", "CLAIMED", T0, reader=LI)
    with pytest.raises(Rejection):
        critical(None, unreported, "lead", "RAISED", 11, finding=FINDING, by=LI)


def test_double_checked_by_a_second_reader_then_delivered_with_the_ack_clock() -> None:
    read = reported()
    raised = critical(None, read, "lead", "RAISED", 11, finding=FINDING, by=LI)
    assert raised.record is not None
    with pytest.raises(Rejection) as caught:
        critical(raised.record, read, "lead", "DOUBLE_CHECKED", 12, by=LI)
    assert caught.value.code == Reason.CRITICAL_SAME_CHECKER
    checked = critical(raised.record, read, "lead", "DOUBLE_CHECKED", 12, by=ZHAO)
    assert checked.record is not None and checked.steps == ("DOUBLE_CHECKED", "DELIVERED")
    assert checked.record.task.business_status == "delivered"
    assert checked.record.task.due_override == T0 + timedelta(minutes=27)
    assert checked.statuses is not None
    assert {s.envelope.member_id for s in checked.statuses} == {"thc-river", "lead"}
    assert all(s.patient.name == "张三" for s in checked.statuses)


def test_only_the_ordering_side_acknowledges_with_the_read_back_and_resolves() -> None:
    record, read = raised_and_checked()
    with pytest.raises(Rejection) as caught:
        critical(record, read, "lead", "ACKNOWLEDGED", 14, read_back=READ_BACK, by=ZHAO)
    assert caught.value.code == "ROLE_NOT_ALLOWED"
    with pytest.raises(Rejection) as caught:
        critical(record, read, "thc-river", "ACKNOWLEDGED", 14)
    assert caught.value.code == Reason.CRITICAL_READ_BACK_REQUIRED
    acked = critical(record, read, "thc-river", "ACKNOWLEDGED", 14, read_back=READ_BACK)
    assert acked.record is not None and acked.acknowledged_in_time is True
    with pytest.raises(Rejection) as caught:
        critical(acked.record, read, "lead", "RESOLVED", 20)
    assert caught.value.code == "ROLE_NOT_ALLOWED"
    resolved = critical(acked.record, read, "thc-river", "RESOLVED", 20, note="已行胸腔闭式引流")
    assert resolved.record is not None and resolved.record.task.status is TaskStatus.COMPLETED


def test_an_unacknowledged_value_escalates_to_both_then_the_operators() -> None:
    record, read = raised_and_checked()
    due = T0 + timedelta(minutes=27)
    assert on_critical_tick(record, read, due - timedelta(seconds=1), CTX).record is None
    first = on_critical_tick(record, read, due, CTX)
    assert first.escalation_level == 1 and first.record is not None and not first.alerts
    second = on_critical_tick(first.record, read, due + timedelta(minutes=15), CTX)
    assert second.escalation_level == 2 and second.alerts
    assert "张三" not in second.alerts[0].summary
    late = critical(second.record, read, "thc-river", "ACKNOWLEDGED", 60, read_back=READ_BACK)
    assert late.acknowledged_in_time is False


def test_the_register_keeps_who_what_when_of_every_step() -> None:
    record, read = raised_and_checked()
    acked = critical(record, read, "thc-river", "ACKNOWLEDGED", 14, read_back=READ_BACK)
    assert acked.record is not None
    stored = CriticalRecord.from_json(acked.record.to_json())
    rows = register_rows([stored], BEIJING)
    assert [(r["step"], r["member"], r["reader_name"]) for r in rows] == [
        ("RAISED", "lead", "李影像"), ("DOUBLE_CHECKED", "lead", "赵主任"),
        ("DELIVERED", "hub", ""), ("ACKNOWLEDGED", "thc-river", "")]
    assert rows[0]["at"] == "2026-12-08 09:11:00" and rows[3]["text"] == READ_BACK


def test_the_register_exports_as_csv_a_spreadsheet_reads() -> None:
    record, _ = raised_and_checked()
    text = register_csv(register_rows([record], BEIJING), REGISTER_COLUMNS)
    lines = text.removeprefix("\ufeff").splitlines()
    assert lines[0] == ",".join(REGISTER_COLUMNS)
    assert lines[1].startswith(f"{RID},CV1,thc-river,lead,{FINDING},RAISED,lead,R017,李影像,"
                               "2026-12-08 09:11:00")
    assert len(lines) == 4
