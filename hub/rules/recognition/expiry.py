"""Expiry of recognition state: what the result index and the order ledger keep, and when a
patient's entry goes altogether.

`add_result` already trims the item it writes; a patient's other items, and the patients
who never come back, are trimmed here: on every write of the patient (the whole index is
pruned, not only the item written) and by a periodic sweep of the table
(hub/agents/recognition_sweep.py). A result is kept for its item's recognition window
plus the late-order grace, a retraction's tombstone until its `keep_until`, an order for
`recognition_ledger_days` after it was placed. An index or ledger left empty is deleted
(a tombstone on the changelog, which compaction then drops), so the table settles at the
patients seen within the longest window instead of every patient ever seen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hub.rules.recognition.index import PatientIndex, from_ms
from hub.rules.recognition.retraction import TOMBSTONES
from hub.rules.recognition.stats import OrderLedger
from schemas.reference.items import ItemCatalogue

# How many days a result of an item code is kept; None: the code is not in the catalogue.
KeptDays = Callable[[str], int | None]


def kept_days(catalogue: ItemCatalogue, late_order_days: int) -> KeptDays:
    """Days a result of each item stays in the index: its window plus the grace for orders
    uploaded late (the same horizon `add_result` is given)."""
    by_code = {item.code: item.window_days + late_order_days
               for item in catalogue.items if item.recognisable}

    def days(code: str) -> int | None:
        return by_code.get(code)

    return days


def longest_kept_days(catalogue: ItemCatalogue, late_order_days: int) -> int:
    """The longest any result is kept: how far back the index settles."""
    windows = [item.window_days for item in catalogue.items if item.recognisable]
    return max(windows, default=0) + late_order_days


def prune_index(
    index: PatientIndex, now: datetime, days_of: KeptDays, fallback_days: int
) -> PatientIndex:
    """The index without the results past their item's horizon and the tombstones past
    their `keep_until`; an item left with none is dropped. A code no longer in the
    catalogue is kept `fallback_days` (the longest window), so a catalogue edit does not
    drop results at once. Returns `index` itself when nothing expired."""
    updated: PatientIndex = {}
    for code, entries in index.items():
        if code == TOMBSTONES:
            kept = [t for t in entries if from_ms(t["until"]) >= now]
        else:
            days = days_of(code)
            horizon = now - timedelta(days=fallback_days if days is None else days)
            kept = [e for e in entries if from_ms(e["at"]) >= horizon]
        if kept:
            updated[code] = kept
    if updated.keys() == index.keys() and all(
            len(updated[code]) == len(index[code]) for code in index):
        return index
    return updated


def prune_ledger(ledger: OrderLedger, kept_after: datetime) -> OrderLedger:
    """A patient's order ledger without the orders placed before `kept_after` (their
    decisions no longer count). Returns `ledger` itself when nothing expired."""
    kept = {key: record for key, record in ledger.items() if from_ms(record[2]) >= kept_after}
    return ledger if len(kept) == len(ledger) else kept
