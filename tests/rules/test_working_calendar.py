"""The working calendar (schemas/reference/calendar/) and working-time arithmetic
(hub.rules.worktime): the 2026 arrangement of the State Council General Office's notice,
make-up days, working hours, a year without a file, and the loader's errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from hub.rules.worktime import (
    WorkingHours,
    add_working_days,
    add_working_hours,
    is_working_day,
    missing_years,
    uncovered_years,
    working_time_between,
)
from hub.settings import HubSettings
from schemas.reference.calendar import (
    WEEKENDS_ONLY,
    CalendarError,
    load_working_calendar,
)

CALENDAR = load_working_calendar()
CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = WorkingHours.parse("08:00-12:00,14:30-17:30")


def cst(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


def test_2026_is_the_state_councils_arrangement() -> None:
    assert CALENDAR.years == (2026,)
    spring = [d for d, name in CALENDAR.holidays.items() if name == "春节"]
    assert (min(spring), max(spring), len(spring)) == (date(2026, 2, 15), date(2026, 2, 23), 9)
    national = [d for d, name in CALENDAR.holidays.items() if name == "国庆节"]
    assert (min(national), max(national)) == (date(2026, 10, 1), date(2026, 10, 7))
    assert sorted(CALENDAR.make_up_days) == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
        date(2026, 9, 20), date(2026, 10, 10)]
    assert len(CALENDAR.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 13), True),  # Friday before the Spring Festival
    (date(2026, 2, 14), True),  # Saturday, worked (调休)
    (date(2026, 2, 16), False),  # Monday inside the Spring Festival
    (date(2026, 2, 24), True),  # first weekday after it
    (date(2026, 9, 20), True),  # Sunday, worked for National Day
    (date(2026, 10, 8), True),  # Thursday after the National Day week
    (date(2026, 10, 10), True),  # Saturday, worked
    (date(2026, 11, 28), False),  # an ordinary Saturday
    (date(2026, 6, 19), False),  # Dragon Boat Festival, a Friday
])
def test_which_days_are_worked(day: date, working: bool) -> None:
    assert is_working_day(CALENDAR, day) is working


@pytest.mark.parametrize(("start", "due"), [
    # Friday before the Spring Festival: Saturday 14th worked, then 15-23 off
    (cst(2, 13), cst(2, 24)),
    (cst(2, 14), cst(2, 25)),  # on the make-up Saturday itself: 24th and 25th
    (cst(2, 18), cst(2, 25)),  # inside the holiday
    (cst(9, 30), cst(10, 9)),  # the eve of National Day: 8th and 9th
    (cst(10, 9), cst(10, 12)),  # Friday: Saturday 10th worked, then Monday
    (cst(9, 18), cst(9, 21)),  # Friday: Sunday 20th worked, then Monday
    (cst(11, 26), cst(11, 30)),  # an ordinary Thursday: Friday, Monday
])
def test_working_days_follow_the_calendar(start: datetime, due: datetime) -> None:
    assert add_working_days(CALENDAR, start, 2, CST) == due
    assert add_working_days(CALENDAR, start.astimezone(UTC), 2, SHANGHAI) == due


def test_a_year_without_a_file_counts_weekends_only_and_is_named() -> None:
    new_year_eve = cst(12, 31)
    # 1 January 2027 is surely a holiday, but its notice is not in the calendar: not guessed
    assert add_working_days(CALENDAR, new_year_eve, 2, CST) == cst(1, 4, year=2027)
    assert add_working_days(WEEKENDS_ONLY, cst(9, 30), 2, CST) == cst(10, 2)
    assert uncovered_years(CALENDAR, new_year_eve, cst(1, 4, year=2027), CST) == [2027]
    assert uncovered_years(CALENDAR, cst(1, 4), cst(12, 31), CST) == []
    assert not CALENDAR.covers(2027) and CALENDAR.last_year == 2026


def test_the_hub_warns_of_this_year_and_from_december_of_next_year() -> None:
    assert missing_years(CALENDAR, date(2026, 6, 1)) == []
    assert missing_years(CALENDAR, date(2026, 11, 30)) == []
    assert missing_years(CALENDAR, date(2026, 12, 7)) == [2027]
    assert missing_years(CALENDAR, date(2027, 3, 1)) == [2027]
    assert missing_years(WEEKENDS_ONLY, date(2026, 1, 1)) == [2026]


@pytest.mark.parametrize(("start", "hours", "end"), [
    (cst(11, 30, 11), 2, cst(11, 30, 15, 30)),  # across lunch
    (cst(11, 30, 17), 1, cst(12, 1, 8, 30)),  # overnight
    (cst(11, 30, 8), 4, cst(11, 30, 12)),  # ends at the close of the morning
    (cst(11, 30, 12, 30), 1, cst(11, 30, 15, 30)),  # starts at lunch
    (cst(11, 28, 9), 1, cst(11, 30, 9)),  # an ordinary Saturday: Monday morning
    (cst(9, 30, 16), 4, cst(10, 8, 10, 30)),  # 1.5 h before National Day, 2.5 h after
    (cst(2, 13, 16), 4, cst(2, 14, 10, 30)),  # into the make-up Saturday
    (cst(11, 30, 9), 0, cst(11, 30, 9)),
])
def test_working_hours_skip_lunch_nights_and_days_off(
    start: datetime, hours: float, end: datetime,
) -> None:
    assert add_working_hours(CALENDAR, start, hours, HOURS, CST) == end
    if hours:
        assert working_time_between(CALENDAR, start, end, HOURS, CST) == timedelta(hours=hours)


def test_working_time_between_counts_only_working_hours() -> None:
    assert working_time_between(CALENDAR, cst(11, 30, 9), cst(11, 30, 16), HOURS, CST) == (
        timedelta(hours=4.5))
    # Friday 2 October to Friday 9 October: only 8 and 9 October are worked
    week = working_time_between(CALENDAR, cst(10, 2, 0), cst(10, 9, 23), HOURS, CST)
    assert week == 2 * HOURS.per_day() == timedelta(hours=14)
    assert working_time_between(CALENDAR, cst(11, 30, 16), cst(11, 30, 9), HOURS, CST) == (
        -timedelta(hours=4.5))
    assert working_time_between(CALENDAR, cst(11, 28, 8), cst(11, 29, 18), HOURS, CST) == (
        timedelta())


@pytest.mark.parametrize("text", [
    "8-12", "12:00-08:00", "08:00-12:00,11:00-17:00", "14:00-17:00,08:00-12:00",
    "25:00-26:00", "",
])
def test_working_hours_that_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="working hours"):
        WorkingHours.parse(text)
    with pytest.raises(ValidationError):
        HubSettings(working_hours=text)


def test_working_hours_are_a_setting() -> None:
    assert HubSettings().working_hours == "08:00-12:00,14:30-17:30"
    custom = WorkingHours.parse(HubSettings(working_hours="08:00-12:00,14:00-17:30")
                                .working_hours)
    assert custom.per_day() == timedelta(hours=7.5)


YEAR_2027 = """year = 2027
source = "https://www.gov.cn/example"

[[holidays]]
name = "元旦"
first = 2027-01-01
last = 2027-01-03
make_up_days = [{make_up}]
"""


def _folder(tmp_path: Path, text: str, name: str = "2027.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_folder_of_year_files_is_merged(tmp_path: Path) -> None:
    shipped = (Path(__file__).parents[2] / "schemas/reference/calendar/2026.toml").read_text(
        encoding="utf-8")
    (tmp_path / "2026.toml").write_text(shipped, encoding="utf-8")
    merged = load_working_calendar(_folder(tmp_path, YEAR_2027.format(make_up="2027-01-09")))
    assert merged.years == (2026, 2027)
    assert merged.holiday(date(2027, 1, 1)) == "元旦" and merged.is_make_up_day(date(2027, 1, 9))
    assert add_working_days(merged, cst(12, 31), 2, CST) == cst(1, 5, year=2027)


@pytest.mark.parametrize(("text", "name", "error"), [
    (YEAR_2027.format(make_up="2027-01-02"), "2027.toml",
     "2027-01-02 is both a holiday .元旦. and a make-up working day"),
    (YEAR_2027.format(make_up="2026-12-27"), "2027.toml",
     r"2026-12-27 \(元旦\) is outside 2027: it goes in 2026.toml"),
    (YEAR_2027.format(make_up="2027-01-04"), "2027.toml", "not on a weekend"),
    (YEAR_2027.format(make_up="2027-01-09, 2027-01-09"), "2027.toml",
     "2027-01-09 is listed twice as a make-up day"),
    (YEAR_2027.format(make_up="") + '\n[[holidays]]\nname = "x"\nfirst = 2027-01-03\n'
     "last = 2027-01-04\n", "2027.toml", "2027-01-03 is listed twice as a holiday"),
    (YEAR_2027.format(make_up="").replace("last = 2027-01-03", "last = 2026-12-30"),
     "2027.toml", "last day 2026-12-30 is before first"),
    (YEAR_2027.format(make_up=""), "2028.toml", "2028.toml: says year = 2027"),
    (YEAR_2027.format(make_up=""), "next.toml", "named by its year"),
    ("year = 2027\n[[holidays]", "2027.toml", "2027.toml: "),
    (YEAR_2027.format(make_up="").replace('source = "https://www.gov.cn/example"\n', ""),
     "2027.toml", "source"),
])
def test_a_calendar_file_that_is_wrong_is_refused_saying_why(
    tmp_path: Path, text: str, name: str, error: str,
) -> None:
    with pytest.raises(CalendarError, match=error):
        load_working_calendar(_folder(tmp_path, text, name))


def test_a_missing_calendar_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="no such calendar directory"):
        load_working_calendar(tmp_path / "nowhere")
