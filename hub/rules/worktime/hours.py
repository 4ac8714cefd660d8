"""Working hours: the periods of a working day the clock runs in (HUB_WORKING_HOURS, e.g.
"08:00-12:00,14:30-17:30": a county hospital's morning and afternoon, the lunch break not
counted), on the working days of hub.rules.worktime.days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from hub.rules.worktime.days import is_working_day
from schemas.reference.calendar import WorkingCalendar

DEFAULT_WORKING_HOURS = "08:00-12:00,14:30-17:30"
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class WorkingHours:
    periods: tuple[tuple[time, time], ...]

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """"08:00-12:00,14:30-17:30": periods within one day, in order, not overlapping."""
        periods: list[tuple[time, time]] = []
        for part in text.split(","):
            found = _PERIOD.match(part)
            if found is None:
                raise ValueError(f"working hours {part.strip()!r} are not HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(g) for g in found.groups())
            if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
                raise ValueError(f"working hours {part.strip()!r} are not times of day")
            begin, end = time(h1, m1), time(h2, m2)
            if end <= begin:
                raise ValueError(f"working hours {part.strip()!r} end before they begin")
            if periods and begin < periods[-1][1]:
                raise ValueError(f"working hours {part.strip()!r} overlap or are out of order")
            periods.append((begin, end))
        return cls(tuple(periods))

    def per_day(self) -> timedelta:
        return sum((_span(b, e) for b, e in self.periods), timedelta())

    def on(self, day: date, zone: tzinfo) -> list[tuple[datetime, datetime]]:
        return [(datetime.combine(day, b, zone), datetime.combine(day, e, zone))
                for b, e in self.periods]


def _span(begin: time, end: time) -> timedelta:
    day = date(2000, 1, 3)
    return datetime.combine(day, end) - datetime.combine(day, begin)


def add_working_hours(
    calendar: WorkingCalendar, start: datetime, hours: float | timedelta,
    working_hours: WorkingHours, zone: tzinfo,
) -> datetime:
    """The moment `hours` of working time after `start`. A start outside working hours
    counts from the next period; an end exactly at a period's close stays there (4 hours
    from 08:00 is 12:00, not 14:30)."""
    remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
    if remaining <= timedelta():
        return start.astimezone(UTC)
    local = start.astimezone(zone)
    day = local.date()
    while True:
        if is_working_day(calendar, day):
            for begin, end in working_hours.on(day, zone):
                if end <= local:
                    continue
                begin = max(begin, local)
                if remaining <= end - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= end - begin
        day += timedelta(days=1)


def working_time_between(
    calendar: WorkingCalendar, a: datetime, b: datetime, working_hours: WorkingHours,
    zone: tzinfo,
) -> timedelta:
    """Working time from `a` to `b` (negative if `b` is earlier): what a time-to-report
    figure against a working-hours limit counts."""
    if b < a:
        return -working_time_between(calendar, b, a, working_hours, zone)
    total = timedelta()
    day, last = a.astimezone(zone).date(), b.astimezone(zone).date()
    while day <= last:
        if is_working_day(calendar, day):
            for begin, end in working_hours.on(day, zone):
                overlap = min(end, b) - max(begin, a)
                if overlap > timedelta():
                    total += overlap
        day += timedelta(days=1)
    return total
