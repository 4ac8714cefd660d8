"""Replenishment arithmetic: consumption, days of supply, reorder point, order quantities.

    average daily use = units dispensed in the window / days observed in the window
    days of supply    = on hand / average daily use          (None when nothing is used)
    reorder point     = average daily use x lead time + safety stock
    top-up quantity   = maximum stock - on hand              (at least the minimum purchase)
    requisition       = one order cycle of use, at least what brings the store back to its
                        reorder point, at most what fills it to its maximum
                        (then at least the minimum purchase)

"Days observed" runs from the member's first stock event for the drug (or the start of the
window, whichever is later) to today, so a member that joined three days ago is not judged
on thirty days of silence; a member with no history uses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from schemas.reference.formulary import StockParams, SupplyMode

# Quantities are whole packs: a computed 200.0000001 must not become 201.
_EPSILON = 1e-9
# Order cycles are counted from a Monday, so a 7-day cycle runs Monday to Sunday.
CYCLE_ANCHOR = date(2024, 1, 1)


def whole_units_up(quantity: float) -> float:
    return float(max(0, math.ceil(quantity - _EPSILON)))


def whole_units_down(quantity: float) -> float:
    return float(max(0, math.floor(quantity + _EPSILON)))


def local_day(at: datetime, utc_offset_hours: float) -> date:
    """The calendar day at the consortium of an instant (China has one zone, no DST)."""
    return at.astimezone(timezone(timedelta(hours=utc_offset_hours))).date()


def window_start(today: date, window_days: int) -> date:
    return today - timedelta(days=window_days - 1)


def average_daily_use(
    daily_use: Mapping[date, float], first_day: date | None, today: date, window_days: int
) -> float:
    """Units used per day over the last `window_days` days that the ledger has existed."""
    if first_day is None:
        return 0.0
    start = max(first_day, window_start(today, window_days))
    days_observed = max(1, (today - start).days + 1)
    used = sum(quantity for day, quantity in daily_use.items() if day >= start)
    return used / days_observed


def days_of_supply(on_hand: float, avg_daily_use: float) -> float | None:
    """How long the stock lasts at the current pace; None when nothing is being used."""
    if avg_daily_use <= 0:
        return None
    return on_hand / avg_daily_use


def reorder_point(avg_daily_use: float, params: StockParams) -> float:
    return avg_daily_use * params.lead_time_days + params.safety_stock


def top_up_quantity(params: StockParams, on_hand: float) -> float:
    gap = whole_units_up(params.max_stock - on_hand)
    return max(gap, params.min_purchase) if gap > 0 else 0.0


def requisition_quantity(params: StockParams, on_hand: float, avg_daily_use: float) -> float:
    cycle_use = avg_daily_use * params.order_cycle_days
    deficit = reorder_point(avg_daily_use, params) - on_hand
    wanted = min(max(cycle_use, deficit), params.max_stock - on_hand)
    quantity = whole_units_up(wanted)
    return max(quantity, params.min_purchase) if quantity > 0 else 0.0


def order_quantity(params: StockParams, on_hand: float, avg_daily_use: float) -> float:
    """What the member should receive to be well stocked again, by its supply mode."""
    if params.supply_mode is SupplyMode.REQUISITION:
        return requisition_quantity(params, on_hand, avg_daily_use)
    return top_up_quantity(params, on_hand)


def cycle_start(day: date, cycle_days: int) -> date:
    """First day of the order cycle `day` falls in."""
    offset = (day - CYCLE_ANCHOR).days % cycle_days
    return day - timedelta(days=offset)


@dataclass(frozen=True, slots=True)
class StockPosition:
    """Where one member stands with one drug today."""

    on_hand: float
    avg_daily_use: float
    days_of_supply: float | None
    reorder_point: float
    suggested_quantity: float

    @property
    def below_reorder_point(self) -> bool:
        return self.on_hand < self.reorder_point


def stock_position(
    on_hand: float,
    daily_use: Mapping[date, float],
    first_day: date | None,
    params: StockParams,
    today: date,
    window_days: int,
) -> StockPosition:
    avg = average_daily_use(daily_use, first_day, today, window_days)
    return StockPosition(
        on_hand=on_hand,
        avg_daily_use=avg,
        days_of_supply=days_of_supply(on_hand, avg),
        reorder_point=reorder_point(avg, params),
        suggested_quantity=order_quantity(params, on_hand, avg),
    )
