"""Working time on the consortium's working calendar (schemas.reference.calendar): which
days are worked, working days and working hours added to a moment, and the working time
between two moments. Pure: the calendar, the working hours and the zone are arguments."""

from hub.rules.worktime.days import (
    add_working_days,
    is_working_day,
    missing_years,
    uncovered_years,
)
from hub.rules.worktime.hours import (
    DEFAULT_WORKING_HOURS,
    WorkingHours,
    add_working_hours,
    working_time_between,
)

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "WorkingHours",
    "add_working_days",
    "add_working_hours",
    "is_working_day",
    "missing_years",
    "uncovered_years",
    "working_time_between",
]
