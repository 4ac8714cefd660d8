"""Drug traceability codes (药品追溯码): the same pack dispensed twice is a warning sign.

Every pack carries a 20-digit code whose first 7 digits identify the product. Dispensed
codes are remembered per drug in one bucket per day, `retention_days` long: a dispense
looks the code up in the retained buckets, and buckets older than that are dropped. Stock
arrives on the stock topic keyed by drug code, so a drug's buckets are all local to the
worker that handles the drug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hub.rejections import Reason, Rejection

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
        raise Rejection(
            Reason.INVALID_EVENT, f"trace codes must be 20 digits: {', '.join(bad[:5])}"
        )


def bucket_key(drug_code: str, day: date) -> str:
    return f"{drug_code}|{day.isoformat()}"


def retained_days(today: date, retention_days: int) -> list[date]:
    """The days whose buckets a lookup reads, newest first."""
    return [today - timedelta(days=n) for n in range(retention_days)]


def expired_days(kept_from: date | None, today: date, retention_days: int) -> list[date]:
    """Days whose buckets fell out of retention since buckets were last dropped on
    `kept_from` (None: nothing was ever dropped, nothing older exists)."""
    oldest_kept = today - timedelta(days=retention_days - 1)
    if kept_from is None or kept_from >= oldest_kept:
        return []
    return [kept_from + timedelta(days=n) for n in range((oldest_kept - kept_from).days)]


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
