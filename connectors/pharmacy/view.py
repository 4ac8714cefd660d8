"""The central pharmacy's view: follows pharmacy.stock-levels, pharmacy.shortages and
pharmacy.orders and shows the members' stock, the open shortages, the transfers and the
pending orders as a live table, or exports them as CSV (connectors/pharmacy/board.py).

The board is rebuilt from the topics (they keep 90 days), so the view needs no state of
its own. The stock shown follows every movement the hub applied, in the drug's unit.

    hub-connector pharmacy-view --broker 127.0.0.1:9092
    hub-connector pharmacy-view --export exports/     # catch up, write four CSVs, exit
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import click
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from connectors.pharmacy.board import PharmacyBoard
from schemas.codec import AvroCodec, CodecError
from schemas.models.outputs import TransferState
from schemas.reference.formulary import load_formulary
from schemas.reference.messages import DEFAULT_LOCALE, Locale
from schemas.topics import PHARMACY_ORDERS, PHARMACY_SHORTAGES, PHARMACY_STOCK_LEVELS

log = logging.getLogger(__name__)

__all__ = ["PharmacyBoard", "apply_records", "catch_up", "render", "run_view"]
STOCK_ROWS_SHOWN = 40


def formulary_units() -> dict[str, str]:
    """Each drug's unit, from the shipped formulary (the stock levels carry it too)."""
    try:
        return {drug.code: drug.unit for drug in load_formulary().drugs}
    except Exception as exc:  # a consortium with its own registry: units come with levels
        log.warning("formulary not loaded (%s); units come with the stock levels", exc)
        return {}


def state_name(state: TransferState, locale: Locale = DEFAULT_LOCALE) -> str:
    """A transfer's state as people say it (已申请 / 已发货 / 已到货)."""
    return locale.label(f"transfer_state.{state.value}")


def _days(days: float | None) -> str:
    return f"{days:.1f}" if days is not None else "-"


def _stock_table(board: PharmacyBoard, locale: Locale) -> Table:
    levels = board.stock_levels()
    table = Table(title=locale.say("pharmacy_view.stock", count=len(levels)), expand=True)
    for column in ("member", "drug", "stock", "avg_daily_use", "days", "reorder_point",
                   "last_movement"):
        table.add_column(locale.label(f"pharmacy_view.{column}"))
    for lv in levels[:STOCK_ROWS_SHOWN]:
        table.add_row(lv.member_id, f"{lv.drug_name} {lv.specification or ''}",
                      f"{lv.on_hand:g} {lv.unit}", f"{lv.avg_daily_use:g}",
                      _days(lv.days_of_supply), f"{lv.reorder_point:g}",
                      f"{lv.movement.value} {lv.quantity:g} {locale.time(lv.moved_at)}")
    if len(levels) > STOCK_ROWS_SHOWN:
        table.caption = locale.say("pharmacy_view.stock_more", shown=STOCK_ROWS_SHOWN)
    return table


def _transfer_table(board: PharmacyBoard, locale: Locale) -> Table:
    transfers = board.transfer_list()
    open_count = sum(t.state is not TransferState.RECEIVED for t in transfers)
    table = Table(title=locale.say("pharmacy_view.transfers", open=open_count,
                                   count=len(transfers)), expand=True)
    for column in ("from_member", "to_member", "drug", "quantity", "state"):
        table.add_column(locale.label(f"pharmacy_view.{column}"))
    for t in transfers:
        quantity = f"{t.quantity:g} {board.unit(t.drug_code)}" if t.quantity else "-"
        table.add_row(t.from_member or "-", t.to_member or "-", t.drug_name or "-", quantity,
                      state_name(t.state, locale))
    return table


def render(board: PharmacyBoard, locale: Locale = DEFAULT_LOCALE) -> Group:
    shortages = Table(title=locale.say("pharmacy_view.shortages", count=len(board.shortages)),
                      expand=True)
    for column in ("member", "drug", "on_hand", "days", "reorder_point", "need",
                   "transfer_from", "order", "source"):
        shortages.add_column(locale.label(f"pharmacy_view.{column}"))
    for opened in board.open_shortages():
        s, unit = board.live(opened), board.unit(opened.drug_code)
        transfer = f"{s.transfer_from} ({s.transfer_quantity:g})" if s.transfer_from else "-"
        state = board.transfer_state(opened)
        if state is not None:
            transfer += f" {state_name(state, locale)}"
        shortages.add_row(s.member_id, f"{s.drug_name} {s.specification or ''}",
                          f"{s.on_hand:g} {unit}", _days(s.days_of_supply),
                          f"{s.reorder_point:g}", f"{s.suggested_quantity:g}", transfer,
                          f"{s.order_quantity:g}", s.source.value)
    orders = Table(title=locale.say("pharmacy_view.orders", count=len(board.pending_orders())),
                   expand=True)
    for column in ("member", "drug", "quantity", "mode", "cycle", "shortage_ids"):
        orders.add_column(locale.label(f"pharmacy_view.{column}"))
    for o in board.pending_orders():
        orders.add_row(o.member_id, o.drug_name, f"{o.quantity:g} {o.unit}", o.supply_mode,
                       o.cycle_start.isoformat(), str(len(o.shortage_ids)))
    return Group(_stock_table(board, locale), shortages, _transfer_table(board, locale), orders)


def _consumer(
    bootstrap: str, security: Mapping[str, str] | None = None
) -> tuple[KafkaConsumer, list[TopicPartition]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             client_id="pharmacy-view", **(security or {}))
    partitions = [
        TopicPartition(spec.name, p)
        for spec in (PHARMACY_STOCK_LEVELS, PHARMACY_SHORTAGES, PHARMACY_ORDERS)
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


def catch_up(bootstrap: str, board: PharmacyBoard, codec: AvroCodec,
             security: Mapping[str, str] | None = None) -> None:
    """Read the pharmacy topics up to where they end now."""
    consumer, partitions = _consumer(bootstrap, security)
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
    board, codec = PharmacyBoard(formulary_units()), AvroCodec()
    if export_dir is not None:
        catch_up(bootstrap, board, codec, security)
        shortages, orders, stock, transfers = board.write_csv(export_dir)
        click.echo(locale.say("pharmacy_view.exported_shortages", count=len(board.shortages),
                              path=shortages))
        click.echo(locale.say("pharmacy_view.exported_orders",
                              count=len(board.pending_orders()), path=orders))
        click.echo(locale.say("pharmacy_view.exported_stock", count=len(board.levels),
                              path=stock))
        click.echo(locale.say("pharmacy_view.exported_transfers", count=len(board.transfers),
                              path=transfers))
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
              help="追上最新消息，在此目录写出 shortages.csv、orders.csv、stock.csv 和 "
                   "transfers.csv 后退出")
@click.option("--refresh", default=1.0, show_default=True, help="Seconds between polls")
def main(broker: str, export_dir: Path | None, refresh: float) -> None:
    """中心药房：各成员实时库存、缺药、调拨和待到货订单，实时显示或导出 CSV。"""
    run_view(broker.removeprefix("kafka://"), export_dir=export_dir, refresh=refresh)


if __name__ == "__main__":
    main()
