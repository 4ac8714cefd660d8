"""The central pharmacy's board: what the pharmacy topics say, as tables and CSV.

- stock levels: each member's stock of each drug after its latest movement
  (pharmacy.stock-levels: the hub sends one per movement it applied);
- open shortages: their latest version, with the member's live stock (not the stock when
  the shortage opened); a shortage leaves the board when CLOSED;
- pending orders: their latest version (a requisition is re-sent with the same order id
  as it grows), pending until every shortage it was placed for has closed;
- transfers (调拨): REQUESTED by an open shortage with a donor, SHIPPED by the donor's
  transfer out, RECEIVED by the receiving member's receipt. Topics are read in no
  particular order between them, so a transfer's state only moves forward.

It is an idempotent consumer: an event id it has already applied is dropped. Quantities
are in the drug's unit (from the formulary).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.models import Event, ReplenishmentOrder, Shortage, StockLevel
from schemas.models.outputs import ShortageStatus, TransferState

SEEN_IDS_KEPT = 200_000
SHORTAGE_COLUMNS = (
    "shortage_id", "opened_at", "source", "member_id", "drug_code", "drug_name",
    "specification", "dosage_form", "on_hand", "avg_daily_use", "days_of_supply",
    "reorder_point", "suggested_quantity", "transfer_from", "transfer_quantity",
    "order_quantity", "reason", "expected_recovery", "unit", "transfer_state", "stock_as_of",
)
ORDER_COLUMNS = (
    "order_id", "placed_at", "member_id", "drug_code", "drug_name", "quantity", "unit",
    "supply_mode", "cycle_start", "shortage_ids",
)
STOCK_COLUMNS = (
    "member_id", "drug_code", "drug_name", "specification", "on_hand", "unit",
    "avg_daily_use", "days_of_supply", "reorder_point", "movement", "quantity", "moved_at",
    "stock_event_id",
)
TRANSFER_COLUMNS = (
    "transfer_id", "state", "from_member", "to_member", "drug_code", "drug_name", "quantity",
    "unit", "requested_at", "shipped_at", "received_at",
)
STATE_ORDER = {TransferState.REQUESTED: 0, TransferState.SHIPPED: 1, TransferState.RECEIVED: 2}


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, TransferState | ShortageStatus):
        return value.value
    return str(value)


@dataclass
class Transfer:
    transfer_id: str
    state: TransferState = TransferState.REQUESTED
    from_member: str | None = None
    to_member: str | None = None
    drug_code: str | None = None
    drug_name: str | None = None
    quantity: float | None = None
    requested_at: datetime | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None

    def advance(self, state: TransferState) -> None:
        if STATE_ORDER[state] > STATE_ORDER[self.state]:
            self.state = state


class PharmacyBoard:
    """Stock levels, open shortages, pending orders and transfers, from the events seen."""

    def __init__(self, units: Mapping[str, str] | None = None) -> None:
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self.units: dict[str, str] = dict(units or {})  # drug code -> unit
        self.shortages: dict[str, Shortage] = {}
        self.opened_at: dict[str, datetime] = {}
        self.closed: set[str] = set()
        self.orders: dict[str, ReplenishmentOrder] = {}
        self.placed_at: dict[str, datetime] = {}
        self.levels: dict[tuple[str, str], StockLevel] = {}
        self.transfers: dict[str, Transfer] = {}

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > SEEN_IDS_KEPT:
            self._seen.discard(self._seen_order.popleft())
        return True

    def apply(self, event: Event) -> bool:
        """Take one event in; False if it was already applied or is not the board's."""
        if not isinstance(event, Shortage | ReplenishmentOrder | StockLevel):
            return False
        if not self._first_time(event.envelope.event_id):
            return False
        at = event.envelope.occurred_at
        if isinstance(event, StockLevel):
            self._apply_level(event)
        elif isinstance(event, Shortage):
            self.opened_at.setdefault(event.shortage_id, at)
            if event.status is ShortageStatus.CLOSED:
                self.closed.add(event.shortage_id)
                self.shortages.pop(event.shortage_id, None)
            elif event.shortage_id not in self.closed:
                self.shortages[event.shortage_id] = event
            if event.transfer_from:
                self._request(event, self.opened_at[event.shortage_id])
        else:
            self.units.setdefault(event.drug_code, event.unit)
            self.placed_at.setdefault(event.order_id, at)
            self.orders[event.order_id] = event
        return True

    def _transfer(self, transfer_id: str) -> Transfer:
        return self.transfers.setdefault(transfer_id, Transfer(transfer_id))

    def _request(self, shortage: Shortage, at: datetime) -> None:
        transfer = self._transfer(shortage.shortage_id)
        transfer.from_member = shortage.transfer_from
        transfer.to_member = shortage.member_id
        transfer.drug_code, transfer.drug_name = shortage.drug_code, shortage.drug_name
        transfer.quantity = shortage.transfer_quantity
        transfer.requested_at = transfer.requested_at or at

    def _apply_level(self, level: StockLevel) -> None:
        self.units[level.drug_code] = level.unit
        self.levels[(level.member_id, level.drug_code)] = level
        if level.transfer_id is None or level.transfer_state is None:
            return
        transfer = self._transfer(level.transfer_id)
        transfer.advance(level.transfer_state)
        transfer.drug_code = transfer.drug_code or level.drug_code
        transfer.drug_name = transfer.drug_name or level.drug_name
        if level.transfer_state is TransferState.SHIPPED:
            transfer.from_member = level.member_id
            transfer.to_member = transfer.to_member or level.counterpart_member
            transfer.shipped_at = level.moved_at
        elif level.transfer_state is TransferState.RECEIVED:
            transfer.to_member = level.member_id
            transfer.from_member = transfer.from_member or level.counterpart_member
            transfer.received_at = level.moved_at
        if transfer.quantity is None:
            transfer.quantity = level.quantity

    def unit(self, drug_code: str | None) -> str:
        return self.units.get(drug_code or "", "")

    def open_shortages(self) -> list[Shortage]:
        return sorted(self.shortages.values(), key=lambda s: (s.member_id, s.drug_code))

    def live(self, shortage: Shortage) -> Shortage:
        """The shortage with its member's stock as of the latest movement."""
        level = self.levels.get((shortage.member_id, shortage.drug_code))
        if level is None:
            return shortage
        return shortage.model_copy(update={
            "on_hand": level.on_hand, "avg_daily_use": level.avg_daily_use,
            "days_of_supply": level.days_of_supply, "reorder_point": level.reorder_point,
        })

    def transfer_state(self, shortage: Shortage) -> TransferState | None:
        found = self.transfers.get(shortage.shortage_id)
        return found.state if found is not None and shortage.transfer_from else None

    def pending_orders(self) -> list[ReplenishmentOrder]:
        pending = [o for o in self.orders.values()
                   if not o.shortage_ids or not set(o.shortage_ids) <= self.closed]
        return sorted(pending, key=lambda o: (o.member_id, o.drug_code, o.cycle_start))

    def stock_levels(self) -> list[StockLevel]:
        return [self.levels[key] for key in sorted(self.levels)]

    def transfer_list(self) -> list[Transfer]:
        """Transfers not yet received first, then the received ones; oldest first."""
        def first_seen(t: Transfer) -> float:
            at = t.requested_at or t.shipped_at or t.received_at
            return at.timestamp() if at is not None else 0.0

        return sorted(self.transfers.values(), key=lambda t: (
            t.state is TransferState.RECEIVED, first_seen(t), t.transfer_id))

    def shortage_rows(self) -> list[dict[str, str]]:
        rows = []
        for s in self.open_shortages():
            live = self.live(s)
            row = {c: cell(getattr(live, c, None)) for c in SHORTAGE_COLUMNS}
            level = self.levels.get((s.member_id, s.drug_code))
            row.update(opened_at=cell(self.opened_at.get(s.shortage_id)),
                       unit=self.unit(s.drug_code), transfer_state=cell(self.transfer_state(s)),
                       stock_as_of=cell(level.moved_at if level else None))
            rows.append(row)
        return rows

    def order_rows(self) -> list[dict[str, str]]:
        rows = []
        for o in self.pending_orders():
            row = {c: cell(getattr(o, c, None)) for c in ORDER_COLUMNS}
            row["placed_at"] = cell(self.placed_at.get(o.order_id))
            row["shortage_ids"] = ";".join(o.shortage_ids)
            rows.append(row)
        return rows

    def stock_rows(self) -> list[dict[str, str]]:
        return [{c: cell(getattr(lv, c)) for c in STOCK_COLUMNS} for lv in self.stock_levels()]

    def transfer_rows(self) -> list[dict[str, str]]:
        return [{**{c: cell(getattr(t, c, None)) for c in TRANSFER_COLUMNS},
                 "unit": self.unit(t.drug_code)} for t in self.transfer_list()]

    def write_csv(self, directory: Path) -> tuple[Path, ...]:
        """shortages.csv, orders.csv, stock.csv and transfers.csv, UTF-8 with a BOM so
        spreadsheet programs read the drug names right."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, columns, rows in (("shortages.csv", SHORTAGE_COLUMNS, self.shortage_rows()),
                                    ("orders.csv", ORDER_COLUMNS, self.order_rows()),
                                    ("stock.csv", STOCK_COLUMNS, self.stock_rows()),
                                    ("transfers.csv", TRANSFER_COLUMNS, self.transfer_rows())):
            path = directory / name
            with path.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
        return tuple(written)
