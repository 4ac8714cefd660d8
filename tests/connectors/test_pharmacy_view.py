"""The central pharmacy's view without a broker: board state, idempotence, CSV export."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from connectors.pharmacy.view import PharmacyBoard, apply_records, render
from schemas.codec import AvroCodec
from schemas.models import ReplenishmentOrder, Shortage, StockLevel, deterministic_id
from schemas.models.outputs import ShortageSource, ShortageStatus, TransferState
from schemas.models.pharmacy import StockEventKind
from schemas.reference.messages import Locale

AT = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)
AMLODIPINE = "XC08CAA015A001010101907"
INSULIN = "XA10ADR082B002010104198"


def shortage(sid: str, status: ShortageStatus, member: str = "chc-east", drug: str = AMLODIPINE,
             minutes: int = 0, **fields: Any) -> Shortage:
    values: dict[str, Any] = {
        "shortage_id": sid, "status": status, "source": ShortageSource.THRESHOLD,
        "member_id": member, "drug_code": drug, "drug_name": "苯磺酸氨氯地平片",
        "specification": "5mg×28片", "on_hand": 230.0, "avg_daily_use": 70.0,
        "days_of_supply": 3.29, "reorder_point": 270.0, "suggested_quantity": 170.0,
        "transfer_from": "lead", "transfer_quantity": 170.0,
    }
    values.update(fields)
    event_id = deterministic_id("test", sid, status.value, str(minutes))
    return Shortage(envelope=Shortage.new_envelope(
        member, event_id=event_id, occurred_at=AT + timedelta(minutes=minutes)), **values)


def order(oid: str, quantity: float, shortage_ids: list[str],
          minutes: int = 0) -> ReplenishmentOrder:
    return ReplenishmentOrder(
        envelope=ReplenishmentOrder.new_envelope(
            "thc-river", event_id=deterministic_id("test", oid, str(minutes)),
            occurred_at=AT + timedelta(minutes=minutes)),
        order_id=oid, member_id="thc-river", drug_code=INSULIN,
        drug_name="精蛋白生物合成人胰岛素注射液(预混30R)", quantity=quantity, unit="支",
        supply_mode="REQUISITION", cycle_start=date(2025, 3, 10), shortage_ids=shortage_ids,
    )


def test_open_shortages_leave_the_board_when_closed() -> None:
    board = PharmacyBoard()
    opened = shortage("s-1", ShortageStatus.OPEN)
    assert board.apply(opened)
    assert not board.apply(opened)  # the same event id again: dropped
    assert board.apply(shortage("s-2", ShortageStatus.OPEN, member="thc-river", drug=INSULIN,
                                transfer_from=None, transfer_quantity=0.0, order_quantity=125.0))
    assert [s.shortage_id for s in board.open_shortages()] == ["s-1", "s-2"]
    assert board.apply(shortage("s-1", ShortageStatus.CLOSED, minutes=30))
    assert [s.shortage_id for s in board.open_shortages()] == ["s-2"]
    # a late copy of the OPEN version (another event id) does not reopen it
    assert board.apply(shortage("s-1", ShortageStatus.OPEN, minutes=1))
    assert [s.shortage_id for s in board.open_shortages()] == ["s-2"]


def test_orders_keep_their_latest_version_and_stay_pending_until_shortages_close() -> None:
    board = PharmacyBoard()
    board.apply(order("o-1", 20, ["s-a"]))
    board.apply(order("o-1", 35, ["s-a", "s-b"], minutes=60))  # the requisition grew
    (pending,) = board.pending_orders()
    assert (pending.quantity, pending.shortage_ids) == (35, ["s-a", "s-b"])
    board.apply(shortage("s-a", ShortageStatus.CLOSED))
    assert len(board.pending_orders()) == 1
    board.apply(shortage("s-b", ShortageStatus.CLOSED))
    assert board.pending_orders() == []


def test_csv_export(tmp_path: Path) -> None:
    board = PharmacyBoard()
    board.apply(shortage("s-1", ShortageStatus.OPEN, reason=None))
    board.apply(order("o-1", 20, ["s-x"]))
    board.apply(order("o-1", 35, ["s-x", "s-y"], minutes=60))
    shortages_path, orders_path, _, _ = board.write_csv(tmp_path / "export")
    assert shortages_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for spreadsheets
    with shortages_path.open(encoding="utf-8-sig", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["shortage_id"] == "s-1" and row["drug_name"] == "苯磺酸氨氯地平片"
    assert (row["on_hand"], row["transfer_from"], row["transfer_quantity"]) == ("230", "lead",
                                                                               "170")
    assert row["opened_at"] == "2025-03-12T02:00:00+00:00" and row["reason"] == ""
    with orders_path.open(encoding="utf-8-sig", newline="") as handle:
        (order_row,) = list(csv.DictReader(handle))
    assert (order_row["order_id"], order_row["quantity"], order_row["shortage_ids"]) == (
        "o-1", "35", "s-x;s-y")
    assert order_row["placed_at"] == "2025-03-12T02:00:00+00:00"  # when first placed


def test_raw_messages_are_decoded_and_garbage_is_skipped() -> None:
    codec = AvroCodec()
    board = PharmacyBoard()
    first = codec.encode(shortage("s-1", ShortageStatus.OPEN))
    changed = apply_records(board, codec, [first, b"\x00not avro", first,
                                           codec.encode(order("o-1", 10, ["s-1"]))])
    assert changed == 2
    console = Console(record=True, width=160)
    console.print(render(board))
    text = console.export_text()
    assert "未解决的缺药（1）" in text and "待处理的订单（1）" in text
    english = Console(record=True, width=160)
    english.print(render(board, Locale.of("en", "Asia/Shanghai")))
    assert "Open shortages (1)" in english.export_text()
    assert "lead (170)" in text


AMOXICILLIN = "XJ01CAA040E001010101445"


def level(member: str, on_hand: float, minutes: int, movement: StockEventKind, quantity: float,
          days: float | None, **fields: Any) -> StockLevel:
    event_id = deterministic_id("test-level", member, str(minutes))
    values: dict[str, Any] = {
        "stock_event_id": f"stock-{minutes}", "member_id": member, "drug_code": AMOXICILLIN,
        "drug_name": "阿莫西林胶囊", "specification": "0.25g×24粒", "unit": "盒",
        "movement": movement, "quantity": quantity,
        "moved_at": AT + timedelta(minutes=minutes), "on_hand": on_hand, "avg_daily_use": 20.0,
        "days_of_supply": days, "reorder_point": 90.0,
    }
    values.update(fields)
    return StockLevel(envelope=StockLevel.new_envelope(
        member, event_id=event_id, occurred_at=AT + timedelta(minutes=minutes)), **values)


def test_stock_follows_every_movement_after_the_shortage_opened(tmp_path: Path) -> None:
    """Issue 16: thc-river's amoxicillin shortage opened at 80 (4.0 days); two dispenses
    of 15 and 20 later the view and its CSV must say 45, in the drug's unit."""
    board = PharmacyBoard()
    board.apply(level("thc-river", 100, 0, StockEventKind.COUNT, 100, 5.0))
    board.apply(level("thc-river", 80, 1, StockEventKind.DISPENSE, 20, 4.0))
    board.apply(shortage("s-amox", ShortageStatus.OPEN, member="thc-river", drug=AMOXICILLIN,
                         on_hand=80.0, days_of_supply=4.0, transfer_from=None,
                         transfer_quantity=0.0, order_quantity=120.0, minutes=1))
    board.apply(level("thc-river", 65, 2, StockEventKind.DISPENSE, 15, 3.25))
    board.apply(level("thc-river", 45, 3, StockEventKind.DISPENSE, 20, 2.25))
    (live,) = [board.live(s) for s in board.open_shortages()]
    assert (live.on_hand, live.days_of_supply) == (45, 2.25)
    shortages_path, _, stock_path, _ = board.write_csv(tmp_path)
    with shortages_path.open(encoding="utf-8-sig", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["on_hand"], row["days_of_supply"], row["unit"]) == ("45", "2.25", "盒")
    assert row["stock_as_of"] == "2025-03-12T02:03:00+00:00"
    with stock_path.open(encoding="utf-8-sig", newline="") as handle:
        (stock_row,) = list(csv.DictReader(handle))
    assert (stock_row["member_id"], stock_row["on_hand"], stock_row["unit"],
            stock_row["movement"]) == ("thc-river", "45", "盒", "DISPENSE")
    console = Console(record=True, width=200)
    console.print(render(board))
    text = console.export_text()
    assert "45 盒" in text and "80 盒" not in text


def test_a_transfer_is_requested_shipped_and_received(tmp_path: Path) -> None:
    board = PharmacyBoard({AMOXICILLIN: "盒"})
    opened = shortage("s-t", ShortageStatus.OPEN, member="thc-river", drug=AMOXICILLIN,
                      transfer_from="lead", transfer_quantity=120.0)
    # the donor's shipment may be read before the shortage (another topic)
    board.apply(level("lead", 1680, 5, StockEventKind.TRANSFER_OUT, 120, 40.0,
                      transfer_id="s-t", transfer_state=TransferState.SHIPPED,
                      counterpart_member="thc-river"))
    board.apply(opened)
    assert board.transfer_state(opened) is TransferState.SHIPPED  # not back to REQUESTED
    (t,) = board.transfer_list()
    assert (t.from_member, t.to_member, t.quantity) == ("lead", "thc-river", 120)
    console = Console(record=True, width=200)
    console.print(render(board))
    assert "已发货" in console.export_text()
    board.apply(level("thc-river", 165, 9, StockEventKind.RECEIPT, 120, 8.25,
                      transfer_id="s-t", transfer_state=TransferState.RECEIVED,
                      counterpart_member="lead"))
    board.apply(shortage("s-t", ShortageStatus.CLOSED, member="thc-river", drug=AMOXICILLIN,
                         transfer_from="lead", transfer_quantity=120.0, minutes=9))
    assert board.open_shortages() == []
    _, _, _, transfers_path = board.write_csv(tmp_path)
    with transfers_path.open(encoding="utf-8-sig", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["transfer_id"], row["state"], row["from_member"], row["to_member"],
            row["quantity"], row["unit"]) == ("s-t", "RECEIVED", "lead", "thc-river", "120",
                                              "盒")
    assert row["shipped_at"] == "2025-03-12T02:05:00+00:00"
    assert row["received_at"] == "2025-03-12T02:09:00+00:00"
