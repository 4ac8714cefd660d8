"""Working days: Monday to Friday, less the public holidays, plus the weekend days worked in
exchange (调休上班), as the year's calendar file says. A year without a file counts Monday to
Friday only: `uncovered_years` names such years so the hub can warn about them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from schemas.reference.calendar import WorkingCalendar

SATURDAY = 5
DECEMBER = 12


def is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    if calendar.holiday(day) is not None:
        return False
    return day.weekday() < SATURDAY or calendar.is_make_up_day(day)


def add_working_days(
    calendar: WorkingCalendar, start: datetime, days: int, zone: tzinfo
) -> datetime:
    """`days` working days after `start`, stepping day by day in local time and keeping the
    time of day: Thursday 10:00 plus 2 is Monday 10:00; a start on a day off counts from
    the next working day (Saturday 10:00 plus 2 is Tuesday 10:00)."""
    moment = start.astimezone(zone)
    counted = 0
    while counted < days:
        moment += timedelta(days=1)
        if is_working_day(calendar, moment.date()):
            counted += 1
    return moment.astimezone(UTC)


def uncovered_years(
    calendar: WorkingCalendar, start: datetime, end: datetime, zone: tzinfo
) -> list[int]:
    """The years from `start` to `end` (local time) that have no calendar file: working time
    in them was counted on weekends alone."""
    first, last = start.astimezone(zone).year, end.astimezone(zone).year
    return [y for y in range(min(first, last), max(first, last) + 1) if not calendar.covers(y)]


def missing_years(calendar: WorkingCalendar, today: date) -> list[int]:
    """The years the hub should warn about on `today`: this year without a file (working
    days counted on weekends alone now), and from December next year's (the notice is out
    by then, usually in November)."""
    wanted = [today.year, today.year + 1] if today.month == DECEMBER else [today.year]
    return [year for year in wanted if not calendar.covers(year)]
