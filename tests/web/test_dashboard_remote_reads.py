"""The dashboard's reading-centre board from stored reads and critical values, no broker:
thc-river's head CT with a preliminary report and a critical value delivered, chc-east's
emergency CT waiting for a reader, and an earlier critical value acknowledged in time.
The lead sees its worklist emergency first, each member only its own rows, in Chinese with
Beijing times, never a patient; the figures count critical values closed in time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hub.rules.coordination import shipped_flow
from hub.rules.remote_read.critical import CriticalRecord
from hub.rules.remote_read.engine import on_request
from hub.rules.remote_read.record import ReadRecord
from hub.web.dashboard.remote_reads import remote_read_board
from schemas.reference.messages import DEFAULT_LOCALE, Language, Locale
from tests.factories import read_request
from tests.rules.remote_read_support import CTX, T0, ZHAO, moved, opened, report, sealed
from tests.rules.test_remote_read_critical import READ_BACK, critical, raised_and_checked

CONFIGS = (shipped_flow("remote_read"), shipped_flow("critical_value"))
MEMBERS = ["lead", "chc-east", "thc-river", "mch", "city-tcm"]
NOW = T0 + timedelta(minutes=30)  # the board's clock: 09:30 in Beijing


def emergency() -> ReadRecord:
    request = sealed(read_request("chc-east", "CE-CT-0042", at=T0 + timedelta(minutes=5),
                                  images_available_at=T0 + timedelta(minutes=5),
                                  priority="EMERGENCY"))
    out = on_request(None, request, CTX)
    assert out.record is not None
    return out.record


def stored() -> tuple[list[ReadRecord], list[CriticalRecord]]:
    open_critical, read = raised_and_checked()
    closed, _ = raised_and_checked()
    acked = critical(closed, read, "thc-river", "ACKNOWLEDGED", 14, read_back=READ_BACK)
    assert acked.record is not None
    done = critical(acked.record, read, "thc-river", "RESOLVED", 20)
    assert done.record is not None
    value = done.record.to_json()
    earlier = CriticalRecord.from_json({**value, "critical": {**value["critical"],
                                                              "critical_id": "CV0"}})
    return [read, emergency()], [open_critical, earlier]


def board(locale: Locale = DEFAULT_LOCALE) -> dict[str, Any]:
    reads, criticals = stored()
    return remote_read_board(reads, criticals, CONFIGS, 15 * 60.0, NOW, locale, MEMBERS)


def section(shown: dict[str, Any], member: str) -> dict[str, Any]:
    return next(m for m in shown["members"] if m["member"] == member)


def test_the_lead_reads_emergency_first_with_claimant_state_and_beijing_due() -> None:
    lead = section(board(), "lead")
    rows = [(r["request"], r["examining"], r["priority_name"], r["state_name"], r["claimant"])
            for r in lead["rows"]]
    assert rows == [("CE-CT-0042", "chc-east", "急诊", "待阅片", None),
                    ("CT20261208001", "thc-river", "常规", "初步报告", "李影像")]
    first = lead["rows"][0]
    assert first["modality_name"] == "CT" and first["role"] == "reading"
    assert first["due"].startswith("2026-12-08 ") and first["due"].endswith("+08:00")
    assert first["left"].startswith("剩") and first["escalation_level"] == 0


def test_each_member_sees_only_its_own_reads_and_critical_values() -> None:
    shown = board()
    assert [m["member"] for m in shown["members"]] == ["lead", "chc-east", "thc-river"]
    river = section(shown, "thc-river")
    assert [r["request_id"] for r in river["rows"]] == ["thc-river:CT20261208001"]
    assert river["rows"][0]["role"] == "examining"
    east = section(shown, "chc-east")
    assert [r["request_id"] for r in east["rows"]] == ["chc-east:CE-CT-0042"]
    assert east["criticals"] == []
    assert [(c["critical_id"], c["raised_by"], c["state_name"]) for c in river["criticals"]] \
        == [("CV1", "lead", "已送达待确认")]
    assert river["criticals"][0]["due"] == "2026-12-08 09:27 +08:00"
    assert river["criticals"][0]["overdue"] is True


def test_no_patient_on_the_board_and_english_on_request() -> None:
    text = json.dumps(board(), ensure_ascii=False)
    assert "张三" not in text and "110101" not in text
    english = section(board(Locale(Language.EN)), "lead")
    assert english["rows"][0]["priority_name"] == "emergency"
    assert english["rows"][1]["state_name"] == "preliminary report"


def test_figures_count_critical_values_closed_in_time_and_final_reports() -> None:
    reads, criticals = stored()
    signed = moved(reads[0], "lead", "FINAL_REPORT", T0 + timedelta(minutes=25),
                   reader=ZHAO, report=report("RPT-1"))
    shown = remote_read_board([signed, reads[1]], criticals, CONFIGS, 15 * 60.0, NOW,
                              DEFAULT_LOCALE, MEMBERS)
    figures = shown["figures"]
    assert figures["criticals_in_time"] == [
        {"member": "thc-river", "closed": 1, "in_time": 1, "rate": 1.0}]
    assert figures["per_centre"] == [
        {"period": "2026-12", "centre": "lead", "modality": "CT", "reports": 1}]
    assert [(c["modality"], c["priority"], c["in_time"]) for c in figures["compliance"]] == [
        ("CT", "ROUTINE", 1)]
    assert shown["criticals_open"] == 1 and shown["open_total"] == 1
    assert opened().request_id not in {r["request_id"] for r in section(shown, "lead")["rows"]}
