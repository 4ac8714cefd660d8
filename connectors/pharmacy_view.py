"""The central pharmacy's view: follows pharmacy.shortages and pharmacy.orders and shows the
open shortages and the pending orders as a live table, or exports them as CSV.

The board is rebuilt from the topics (they keep 90 days), so the view needs no state of
its own. It is an idempotent consumer: an event id it has already applied is dropped. A
shortage is shown in its latest version and leaves the board when CLOSED; an order is shown
in its latest version (a requisition is re-sent with the same order id as it grows) and is
pending until every shortage it was placed for has closed.

    hub-connector pharmacy-view --broker 127.0.0.1:9092
    hub-connector pharmacy-view --export exports/     # catch up, write two CSVs, exit
"""

from __future__ import annotations

import csv
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from schemas.codec import AvroCodec, CodecError
from schemas.models import Event, ReplenishmentOrder, Shortage
from schemas.models.outputs import ShortageStatus
from schemas.reference.messages import DEFAULT_LOCALE, Locale
from schemas.topics import PHARMACY_ORDERS, PHARMACY_SHORTAGES

log = logging.getLogger(__name__)

SEEN_IDS_KEPT = 200_000
SHORTAGE_COLUMNS = (
    "shortage_id", "opened_at", "source", "member_id", "drug_code", "drug_name",
    "specification", "dosage_form", "on_hand", "avg_daily_use", "days_of_supply",
    "reorder_point", "suggested_quantity", "transfer_from", "transfer_quantity",
    "order_quantity", "reason", "expected_recovery",
)
ORDER_COLUMNS = (
    "order_id", "placed_at", "member_id", "drug_code", "drug_name", "quantity", "unit",
    "supply_mode", "cycle_start", "shortage_ids",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


class PharmacyBoard:
    """Open shortages and pending orders, from the events seen so far."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self.shortages: dict[str, Shortage] = {}
        self.opened_at: dict[str, datetime] = {}
        self.closed: set[str] = set()
        self.orders: dict[str, ReplenishmentOrder] = {}
        self.placed_at: dict[str, datetime] = {}

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
        if not isinstance(event, Shortage | ReplenishmentOrder):
            return False
        if not self._first_time(event.envelope.event_id):
            return False
        at = event.envelope.occurred_at
        if isinstance(event, Shortage):
            self.opened_at.setdefault(event.shortage_id, at)
            if event.status is ShortageStatus.CLOSED:
                self.closed.add(event.shortage_id)
                self.shortages.pop(event.shortage_id, None)
            elif event.shortage_id not in self.closed:
                self.shortages[event.shortage_id] = event
        else:
            self.placed_at.setdefault(event.order_id, at)
            self.orders[event.order_id] = event
        return True

    def open_shortages(self) -> list[Shortage]:
        return sorted(self.shortages.values(), key=lambda s: (s.member_id, s.drug_code))

    def pending_orders(self) -> list[ReplenishmentOrder]:
        pending = [o for o in self.orders.values()
                   if not o.shortage_ids or not set(o.shortage_ids) <= self.closed]
        return sorted(pending, key=lambda o: (o.member_id, o.drug_code, o.cycle_start))

    def shortage_rows(self) -> list[dict[str, str]]:
        return [
            {c: _cell(self.opened_at.get(s.shortage_id) if c == "opened_at" else getattr(s, c))
             for c in SHORTAGE_COLUMNS}
            for s in self.open_shortages()
        ]

    def order_rows(self) -> list[dict[str, str]]:
        rows = []
        for o in self.pending_orders():
            row = {c: _cell(getattr(o, c, None)) for c in ORDER_COLUMNS}
            row["placed_at"] = _cell(self.placed_at.get(o.order_id))
            row["shortage_ids"] = ";".join(o.shortage_ids)
            rows.append(row)
        return rows

    def write_csv(self, directory: Path) -> tuple[Path, Path]:
        """shortages.csv and orders.csv, UTF-8 with a BOM so spreadsheet programs read the
        drug names right."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, columns, rows in (("shortages.csv", SHORTAGE_COLUMNS, self.shortage_rows()),
                                    ("orders.csv", ORDER_COLUMNS, self.order_rows())):
            path = directory / name
            with path.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
        return written[0], written[1]


def render(board: PharmacyBoard, locale: Locale = DEFAULT_LOCALE) -> Group:
    shortages = Table(title=locale.say("pharmacy_view.shortages", count=len(board.shortages)),
                      expand=True)
    for column in ("member", "drug", "on_hand", "days", "reorder_point", "need",
                   "transfer_from", "order", "source"):
        shortages.add_column(locale.label(f"pharmacy_view.{column}"))
    for s in board.open_shortages():
        transfer = f"{s.transfer_from} ({s.transfer_quantity:g})" if s.transfer_from else "-"
        days = f"{s.days_of_supply:.1f}" if s.days_of_supply is not None else "-"
        shortages.add_row(s.member_id, f"{s.drug_name} {s.specification or ''}",
                          f"{s.on_hand:g}", days, f"{s.reorder_point:g}",
                          f"{s.suggested_quantity:g}", transfer, f"{s.order_quantity:g}",
                          s.source.value)
    orders = Table(title=locale.say("pharmacy_view.orders", count=len(board.pending_orders())),
                   expand=True)
    for column in ("member", "drug", "quantity", "mode", "cycle", "shortage_ids"):
        orders.add_column(locale.label(f"pharmacy_view.{column}"))
    for o in board.pending_orders():
        orders.add_row(o.member_id, o.drug_name, f"{o.quantity:g} {o.unit}", o.supply_mode,
                       o.cycle_start.isoformat(), str(len(o.shortage_ids)))
    return Group(shortages, orders)


def _consumer(
    bootstrap: str, security: Mapping[str, str] | None = None
) -> tuple[KafkaConsumer, list[TopicPartition]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             client_id="pharmacy-view", **(security or {}))
    partitions = [
        TopicPartition(spec.name, p)
        for spec in (PHARMACY_SHORTAGES, PHARMACY_ORDERS)
        for p in sorted(consumer.partitions_for_topic(spec.name) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return consumer, partitions


def apply_records(board: PharmacyBoard, codec: AvroCodec, values: Iterable[bytes]) -> int:
    """Decode and apply raw messages; returns how many changed the board."""
    changed = 0
    for value in values:
        try:
            changed += board.apply(codec.decode(value))
        except CodecError as exc:
            log.warning("skipped an undecodable message: %s", exc)
    return changed


def catch_up(bootstrap: str, board: PharmacyBoard, codec: AvroCodec) -> None:
    """Read both topics up to where they end now."""
    consumer, partitions = _consumer(bootstrap)
    try:
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                apply_records(board, codec, (r.value for r in records))
    finally:
        consumer.close()


def run_view(
    bootstrap: str, *, export_dir: Path | None = None, refresh: float = 1.0,
    security: Mapping[str, str] | None = None, locale: Locale = DEFAULT_LOCALE,
) -> None:
    board, codec = PharmacyBoard(), AvroCodec()
    if export_dir is not None:
        catch_up(bootstrap, board, codec)
        shortages, orders = board.write_csv(export_dir)
        click.echo(locale.say("pharmacy_view.exported_shortages", count=len(board.shortages),
                              path=shortages))
        click.echo(locale.say("pharmacy_view.exported_orders",
                              count=len(board.pending_orders()), path=orders))
        return
    consumer, _ = _consumer(bootstrap, security)
    try:
        with Live(render(board, locale), console=Console(), refresh_per_second=4) as live:
            while True:
                batches = consumer.poll(timeout_ms=int(refresh * 1000)).values()
                if apply_records(board, codec, (r.value for rs in batches for r in rs)):
                    live.update(render(board, locale))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


@click.command()
@click.option("--broker", envvar="HUB_BROKER", required=True, help="Kafka bootstrap servers")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Catch up, write shortages.csv and orders.csv here, and exit")
@click.option("--refresh", default=1.0, show_default=True, help="Seconds between polls")
def main(broker: str, export_dir: Path | None, refresh: float) -> None:
    """Open shortages and pending orders of the central pharmacy."""
    run_view(broker.removeprefix("kafka://"), export_dir=export_dir, refresh=refresh)


if __name__ == "__main__":
    main()
