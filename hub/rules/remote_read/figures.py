"""Remote diagnosis figures (issue 27): remote diagnoses per reading centre and period (a
calendar month or day in the consortium's zone, by the final report), and report time
compliance per modality and priority (final reports by their deadline, out of the final
reports). Pure: over the stored records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from hub.rules.referral.figures import CONSORTIUM_ZONE, Period, period_of
from hub.rules.remote_read.record import ReadRecord


@dataclass(frozen=True, slots=True)
class CentrePeriod:
    period: str
    centre: str
    modality: str
    reports: int

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "centre": self.centre, "modality": self.modality,
                "reports": self.reports}


@dataclass(frozen=True, slots=True)
class Compliance:
    modality: str
    priority: str
    reports: int
    in_time: int

    @property
    def rate(self) -> float | None:
        return self.in_time / self.reports if self.reports else None

    def as_dict(self) -> dict[str, Any]:
        return {"modality": self.modality, "priority": self.priority, "reports": self.reports,
                "in_time": self.in_time, "rate": self.rate}


def _finals(records: Iterable[ReadRecord]) -> list[ReadRecord]:
    return [r for r in records if r.final_at is not None]


def diagnoses_per_centre(records: Iterable[ReadRecord], by: Period = "month",
                         zone: ZoneInfo = CONSORTIUM_ZONE) -> list[CentrePeriod]:
    """Final reports per period, centre (the one that signed) and modality."""
    counts: dict[tuple[str, str, str], int] = {}
    for record in _finals(records):
        assert record.final_at is not None
        key = (period_of(record.final_at, by, zone), record.reading, record.modality.value)
        counts[key] = counts.get(key, 0) + 1
    return [CentrePeriod(p, c, m, n) for (p, c, m), n in sorted(counts.items())]


def compliance(records: Iterable[ReadRecord]) -> list[Compliance]:
    """Final reports in time (by the deadline they ran on) per modality and priority."""
    totals: dict[tuple[str, str], list[int]] = {}
    for record in _finals(records):
        counts = totals.setdefault((record.modality.value, record.priority.value), [0, 0])
        counts[0] += 1
        due = record.report_due_at
        counts[1] += due is None or (record.final_at is not None and record.final_at <= due)
    return [Compliance(m, p, n, ok) for (m, p), (n, ok) in sorted(totals.items())]


def register_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    """The critical value register as CSV (UTF-8 with a BOM, so a spreadsheet opens the
    Chinese text as such), one row per step."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
