"""Importing stock counts and dispenses from CSV: accepted and rejected rows with their row
numbers and reasons, idempotent re-imports, spreadsheet encodings, and the command on the
embedded broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from connectors.cli import main
from connectors.member.batch import ImportSummary, import_csv
from connectors.member.deadletter import DeadLetterFile
from connectors.member.mapping import CodeMapper, MemorySink, Rejected
from hub.brokers import BaseBroker
from schemas.models import StockEvent
from schemas.models.pharmacy import StockEventKind
from schemas.topics import ingress_topic
from tests.conftest import Decoded

AMOXICILLIN = "XJ01CAA040E001010101445"
METFORMIN = "XA10BAE054A001010101603"
CODES = CodeMapper.load("lead")
ZONE = ZoneInfo("Asia/Shanghai")

STOCK_FILE = """kind,drug_code,quantity,at,trace_codes,batch_no,expiry_date
COUNT,YP000123,120,2025-03-01 18:00,,B2024-11,2026-10-31
DISPENSE,YP000245,2,2025-03-01T09:15:00+08:00,81234560000000000011;81234560000000000012,,
DISPENSE,YP999999,1,2025-03-01 09:20,,,

DISPENSE,YP000123,-3,2025-03-01 09:30,,,
COUNT,YP000245,40,,,,
DISPENSE,YP000123,1,2025-03-01 10:00,1234,,
RECEIPT,YP000123,10,2025-03-01 11:00,,,
DISPENSE,XA10BAE054A001010101603,1,2025/03/01 12:00,,,
"""


Imported = tuple[MemorySink, DeadLetterFile, ImportSummary]


def run_import(tmp_path: Path, text: str, sink: MemorySink | None = None,
               encoding: str = "utf-8", name: str = "stock.csv",
               kind: StockEventKind | None = None) -> Imported:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    sink = sink or MemorySink()
    dead = DeadLetterFile(tmp_path / "dead-letter", "lead")
    summary = import_csv(path, member_id="lead", sink=sink, codes=CODES, dead_letters=dead,
                         zone=ZONE, kind=kind, batch_size=2)
    return sink, dead, summary


def test_rows_are_accepted_or_rejected_with_row_number_and_reason(tmp_path: Path) -> None:
    sink, dead, summary = run_import(tmp_path, STOCK_FILE)
    assert (summary.rows, summary.accepted, summary.rejected) == (8, 3, 5)
    rejections = {r.row: (r.code, r.reason) for r in summary.rejections}
    assert sorted(rejections) == [4, 6, 7, 8, 9]  # row 5 is blank: skipped, still counted
    assert rejections[4][0] == "UNMAPPED_CODE" and "'YP999999'" in rejections[4][1]
    assert rejections[6][0] == "INVALID_VALUE" and "必须大于 0" in rejections[6][1]
    assert rejections[7] == ("MISSING_FIELD", "at: at 为空")
    assert "不是 20 位数字" in rejections[8][1]
    assert "类型 'RECEIPT' 不是 COUNT 或 DISPENSE" in rejections[9][1]
    count, dispense, national = sink.events
    assert isinstance(count, StockEvent) and isinstance(dispense, StockEvent)
    assert (count.kind, count.drug_code, count.local_drug_code, count.quantity) == (
        StockEventKind.COUNT, AMOXICILLIN, "YP000123", 120)
    assert (count.batch_no, str(count.expiry_date)) == ("B2024-11", "2026-10-31")
    assert count.at.isoformat() == "2025-03-01T10:00:00+00:00"  # 18:00 local
    assert dispense.trace_codes == ["81234560000000000011", "81234560000000000012"]
    assert isinstance(national, StockEvent) and national.local_drug_code is None
    records = dead.read_all()
    assert [r["details"]["row"] for r in records] == ["4", "6", "7", "8", "9"]
    assert records[0]["raw"] == "DISPENSE,YP999999,1,2025-03-01 09:20,,,"


def test_importing_the_same_file_again_gives_the_same_ids(tmp_path: Path) -> None:
    sink, _, _ = run_import(tmp_path, STOCK_FILE)
    again, _, _ = run_import(tmp_path, STOCK_FILE)
    assert [e.envelope.event_id for e in sink.events] == [
        e.envelope.event_id for e in again.events]


def test_fixing_a_rejected_row_does_not_recount_the_accepted_ones(tmp_path: Path) -> None:
    sink, _, _ = run_import(tmp_path, STOCK_FILE)
    fixed = STOCK_FILE.replace("YP999999", "YP000245")
    again, _, summary = run_import(tmp_path, fixed, name="stock-fixed.csv")
    before = {e.envelope.event_id for e in sink.events}
    after = [e.envelope.event_id for e in again.events]
    assert summary.accepted == 4
    assert before <= set(after) and len(set(after) - before) == 1


def test_identical_rows_are_distinct_events(tmp_path: Path) -> None:
    text = "kind,drug_code,quantity,at\n" + "DISPENSE,YP000123,1,2025-03-01 09:00\n" * 2
    sink, _, _ = run_import(tmp_path, text)
    assert len({e.envelope.event_id for e in sink.events}) == 2


def test_gb18030_file_with_chinese_kinds_and_file_kind(tmp_path: Path) -> None:
    text = "kind,drug_code,quantity,at\n盘点,YP000123,80,2025-03-02\n发药,YP000245,1,2025-03-02\n"
    _, _, summary = run_import(tmp_path, text, encoding="gb18030")
    assert [e.kind for e in summary.events] == [StockEventKind.COUNT, StockEventKind.DISPENSE]
    one_kind = "drug_code,quantity,at\nYP000123,3,2025-03-02 08:00\n"
    _, _, summary = run_import(tmp_path, "\ufeff" + one_kind, kind=StockEventKind.DISPENSE)
    assert [e.kind for e in summary.events] == [StockEventKind.DISPENSE]


def test_a_file_without_the_required_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Rejected, match="quantity"):
        run_import(tmp_path, "kind,drug_code,at\nCOUNT,YP000123,2025-03-01\n")


@pytest.mark.integration
def test_import_command_on_the_broker(
    broker: BaseBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    read_topic: Callable[..., list[Decoded]],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "stock.csv"
    path.write_text(STOCK_FILE, encoding="utf-8")
    args = ["import-csv", str(path), "--member", "lead", "--broker", broker.bootstrap]
    first = CliRunner().invoke(main, args)
    again = CliRunner().invoke(main, args)
    assert first.exit_code == again.exit_code == 1, first.output  # rows were rejected
    assert "共 8 行，接收 3 行，拒收 5 行" in first.output
    assert "第 4 行：UNMAPPED_CODE：drug_code: 成员单位 lead 的药品代码 'YP999999'" in first.output
    assert "第 9 行：UNMAPPED_CODE" in first.output
    events = [e for _, e in read_topic(ingress_topic("lead"), until=lambda got: len(got) >= 6,
                                       kinds=(StockEvent,), timeout=30)]
    assert len(events) == 6 and len({e.envelope.event_id for e in events}) == 3
    assert list((tmp_path / ".hub-connector" / "dead-letter").glob("*.jsonl"))


def test_a_file_in_no_known_encoding_is_refused_whole_with_a_reason() -> None:
    from connectors.member.batch import UnreadableFile, decode_text

    with pytest.raises(UnreadableFile, match="没有导入任何内容"):
        decode_text(b"\xff\xfe\x00\xd8\x00\xdc" * 3 + b"\x81\x30\x81")
    assert decode_text("盘点,阿莫西林".encode("gb18030")) == "盘点,阿莫西林"
