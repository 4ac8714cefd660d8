"""The demo's remote diagnosis (`hub dev`) is a valid story: its events, applied in order to
the remote diagnosis rules (no Kafka), take thc-river's head CT from the request through
the images, the lead's claim and preliminary report to the final report signed by a second
reader, sent home; the critical value is raised, double-checked, delivered, read back and
resolved; the emergency request nobody read escalates at the watchdog's first look. Each
step's `after` state was reached before it, and the console tells each status as the member
on whose topic it is reads it, in Chinese with Beijing times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.demo.console import describe
from connectors.demo.remote_read_loop import (
    LEAD,
    TOWNSHIP,
    critical_key,
    remote_read_loop,
    request_ids,
)
from hub.rules.remote_read.critical import CriticalRecord, on_critical
from hub.rules.remote_read.engine import on_request, on_tick, on_update
from hub.rules.remote_read.record import ReadRecord
from schemas.codec import AvroCodec
from schemas.models.coordination import TaskStatus
from schemas.models.remote_read import (
    CriticalValueStatus,
    CriticalValueUpdate,
    ReadRequest,
    ReadStatus,
    ReadUpdate,
)
from schemas.reference.messages import DEFAULT_LOCALE
from tests.rules.remote_read_support import CTX, sealed
from tests.rules.test_remote_read_critical import CTX as CRITICAL_CTX

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing


@dataclass
class Replay:
    reads: dict[str, ReadRecord] = field(default_factory=dict)
    criticals: dict[str, CriticalRecord] = field(default_factory=dict)
    statuses: list[ReadStatus | CriticalValueStatus] = field(default_factory=list)
    reached: list[tuple[str, str]] = field(default_factory=list)


def replay(now: datetime = NOW) -> Replay:
    """The demo's events through the rules as one worker applies them, then one sweep."""
    seen = Replay()
    for step in remote_read_loop(now):
        assert step.after is None or step.after in seen.reached, (step.label, seen.reached)
        event = step.event
        if isinstance(event, CriticalValueUpdate):
            key = f"{event.request_id}|{event.critical_id}"
            crit = on_critical(seen.criticals.get(key), seen.reads[event.request_id], event,
                               CRITICAL_CTX)
            assert crit.record is not None, step.label
            seen.criticals[key] = crit.record
            seen.statuses += crit.statuses or []
            seen.reached += [(key, s.state) for s in crit.statuses or []]
            continue
        if isinstance(event, ReadRequest):
            out = on_request(None, sealed(event), CTX)
        else:
            assert isinstance(event, ReadUpdate), step
            out = on_update(seen.reads[event.request_id], event, CTX)
        assert out.record is not None, step.label
        seen.reads[out.record.request_id] = out.record
        seen.statuses += out.statuses
        seen.reached += [(s.request_id, s.business_status) for s in out.statuses]
    for rid, record in list(seen.reads.items()):  # the watchdog's first pass
        swept = on_tick(record, now, CTX)
        if swept.record is not None:
            seen.reads[rid] = swept.record
            seen.statuses += swept.statuses
    return seen


def test_the_demo_read_goes_home_final_and_the_late_one_escalates() -> None:
    seen = replay()
    rid, late = request_ids(NOW)
    read = seen.reads[rid]
    assert (read.examining, read.reading) == (TOWNSHIP, LEAD)
    assert (read.task.status, read.task.business_status) == (TaskStatus.COMPLETED, "final")
    assert read.writer is not None and read.writer.name == "李影像"
    assert read.report is not None and read.report.reviewer is not None
    assert read.report.reviewer.name == "赵主任"
    states = [state for key, state in dict.fromkeys(seen.reached) if key == rid]
    assert states == ["waiting-for-images", "images-available", "claimed", "preliminary",
                      "final"]
    finals = [s for s in seen.statuses if isinstance(s, ReadStatus)
              and s.request_id == rid and s.business_status == "final"]
    assert {s.envelope.member_id for s in finals} == {TOWNSHIP, LEAD}  # the report goes home
    assert all(s.report is not None for s in finals)
    stuck = seen.reads[late]
    assert stuck.task.escalation_level == 1 and not stuck.is_closed
    assert stuck.task.business_status == "images-available"


def test_the_demo_critical_value_is_read_back_and_resolved() -> None:
    seen = replay()
    key = critical_key(NOW)
    record = seen.criticals[key]
    assert record.is_closed and record.read_back
    states = [state for k, state in dict.fromkeys(seen.reached) if k == key]
    assert states == ["raised", "double-checked", "delivered", "acknowledged", "resolved"]
    assert [e.action for e in record.entries] == [
        "RAISED", "DOUBLE_CHECKED", "DELIVERED", "ACKNOWLEDGED", "RESOLVED"]


def test_the_console_tells_both_members_in_chinese_with_beijing_times() -> None:
    seen = replay()
    rid, late = request_ids(NOW)
    codec = AvroCodec()
    lines = [describe(f"out.{s.envelope.member_id}", codec.decode(codec.encode(s)),
                      DEFAULT_LOCALE) or "" for s in seen.statuses]
    text = "\n".join(lines)
    assert f"out.thc-river[/] 检查单位收到：阅片 {rid}（CT，常规）终审报告" in text
    assert f"out.lead[/] 阅片中心收到：阅片 {rid}（CT，常规）初步报告，lead 李影像" in text
    assert "lead 李影像 操作于 2026-12-08 09:40 +08:00" in text  # the preliminary, Beijing
    assert f"阅片 {late}（CT，急诊）待阅片" in text and "第 1 级督办" in text
    assert "危急值 WJZ-01" in text and "已复述确认" in text and "已处置" in text
