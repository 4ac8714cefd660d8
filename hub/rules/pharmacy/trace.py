"""Drug traceability codes (药品追溯码): the same pack dispensed twice is a warning sign.

Every pack carries a 20-digit code whose first 7 digits identify the product. Dispensed
codes are remembered per drug in one bucket per day, `retention_days` long: a dispense
looks the code up in the retained buckets, and buckets older than that are dropped. Each
drug keeps the list of days that have a bucket, so a lookup reads only those (not one key
per retained day). Stock arrives on the stock topic keyed by drug code, so a drug's
buckets are all local to the worker that handles the drug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hub.rules.rejections import Reason, Rejection

TRACE_CODE = re.compile(r"^\d{20}$")
PRODUCT_PREFIX_DIGITS = 7
# A day's bucket: trace code -> [member id, event id] of the first dispense seen.
Bucket = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Sighting:
    member_id: str
    event_id: str


@dataclass(frozen=True, slots=True)
class TraceDuplicate:
    trace_code: str
    first: Sighting
    again: Sighting

    @property
    def product_prefix(self) -> str:
        return product_prefix(self.trace_code)

    @property
    def member_ids(self) -> list[str]:
        return sorted({self.first.member_id, self.again.member_id})


def product_prefix(trace_code: str) -> str:
    return trace_code[:PRODUCT_PREFIX_DIGITS]


def check_trace_codes(codes: Iterable[str]) -> None:
    bad = [code for code in codes if not TRACE_CODE.match(code)]
    if bad:
        raise Rejection(Reason.INVALID_EVENT, "rejection.trace_code_digits", codes=bad[:5])


def bucket_key(drug_code: str, day: date) -> str:
    return f"{drug_code}|{day.isoformat()}"


def index_key(drug_code: str) -> str:
    """The key of a drug's list of days that have a bucket (in the buckets' own table, so
    a stored list implies its buckets are stored: one changelog partition keeps order)."""
    return drug_code


def oldest_retained(today: date, retention_days: int) -> date:
    return today - timedelta(days=retention_days - 1)


def days_to_read(bucket_days: Sequence[str] | None, today: date,
                 retention_days: int) -> list[date]:
    """The retained days that have a bucket, newest first: a lookup reads only these."""
    oldest = oldest_retained(today, retention_days).isoformat()
    return [date.fromisoformat(d) for d in sorted(bucket_days or (), reverse=True)
            if oldest <= d <= today.isoformat()]


@dataclass(frozen=True, slots=True)
class DayIndexChange:
    bucket_days: list[str]  # the list to store
    expired: list[date]  # days whose buckets to drop
    changed: bool


def update_day_index(bucket_days: Sequence[str] | None, today: date, retention_days: int,
                     recorded_today: bool) -> DayIndexChange:
    """Add today when codes were recorded; drop the days that fell out of retention."""
    oldest = oldest_retained(today, retention_days).isoformat()
    current = sorted(set(bucket_days or ()))
    kept = [d for d in current if d >= oldest]
    if recorded_today and today.isoformat() not in kept:
        kept = sorted([*kept, today.isoformat()])
    expired = [date.fromisoformat(d) for d in current if d < oldest]
    return DayIndexChange(kept, expired, kept != list(bucket_days or ()))


def find_duplicates(
    codes: Sequence[str], member_id: str, event_id: str, buckets: Iterable[Bucket]
) -> list[TraceDuplicate]:
    """Codes of this dispense already dispensed by another event (or twice in this one).

    A code recorded by this very event id is a redelivery, not a duplicate."""
    remembered = list(buckets)
    again = Sighting(member_id, event_id)
    duplicates: list[TraceDuplicate] = []
    in_this_event: set[str] = set()
    for code in codes:
        if code in in_this_event:
            duplicates.append(TraceDuplicate(code, again, again))
            continue
        in_this_event.add(code)
        earlier = next((b[code] for b in remembered if code in b), None)
        if earlier is not None and earlier[1] != event_id:
            duplicates.append(TraceDuplicate(code, Sighting(earlier[0], earlier[1]), again))
    return duplicates


def unseen_codes(codes: Sequence[str], buckets: Iterable[Bucket]) -> list[str]:
    """The codes (once each) no retained bucket holds: only these are recorded, so a code
    keeps naming the member that dispensed it first."""
    remembered = list(buckets)
    return [code for code in dict.fromkeys(codes) if not any(code in b for b in remembered)]


def record_codes(
    bucket: Bucket | None, codes: Sequence[str], member_id: str, event_id: str
) -> dict[str, list[str]]:
    """Today's bucket with the codes added; a code keeps its first sighting."""
    updated = {code: list(seen) for code, seen in (bucket or {}).items()}
    for code in codes:
        updated.setdefault(code, [member_id, event_id])
    return updated
