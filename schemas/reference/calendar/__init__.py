"""The working calendar: per year, the public holidays and the make-up working days (调休上班)
of the State Council General Office's annual notice (国务院办公厅关于部分节假日安排的通知),
one file per year beside this module (`2026.toml`, ...). This module only loads and checks
them; the working-time arithmetic is hub.rules.worktime.

A year without a file is not guessed: `WorkingCalendar.covers(year)` says so, and the
arithmetic then counts Monday to Friday only (the hub warns: docs/runbook.md, "Working
calendar"). The notice comes out each November; its file is added then.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CALENDAR_DIR = Path(__file__).parent
YEAR_FILE = re.compile(r"^(\d{4})\.toml$")
SATURDAY = 5


class CalendarError(ValueError):
    """A calendar file that does not load: which file, and why."""


class Holiday(BaseModel):
    """One holiday block of the notice (放假调休), with the weekend days worked for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    first: date
    last: date
    make_up_days: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.last < self.first:
            raise ValueError(f"{self.name}: last day {self.last} is before first {self.first}")
        weekdays = [d for d in self.make_up_days if d.weekday() < SATURDAY]
        if weekdays:
            raise ValueError(f"{self.name}: make-up days {weekdays} are not on a weekend "
                             "(a weekday is a working day anyway)")
        return self

    def days(self) -> list[date]:
        return [date.fromordinal(n)
                for n in range(self.first.toordinal(), self.last.toordinal() + 1)]


class CalendarYear(BaseModel):
    """One year's file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=1, description="Where the notice was published")
    holidays: tuple[Holiday, ...]

    @model_validator(mode="after")
    def _check(self) -> CalendarYear:
        off: dict[date, str] = {}
        worked: dict[date, str] = {}
        for holiday in self.holidays:
            for day in holiday.days():
                _once(off, day, holiday.name, "a holiday")
            for day in holiday.make_up_days:
                _once(worked, day, holiday.name, "a make-up day")
        for day, name in sorted({**off, **worked}.items()):
            if day.year != self.year:
                raise ValueError(f"{day} ({name}) is outside {self.year}: it goes in "
                                 f"{day.year}.toml")
        clash = sorted(set(off) & set(worked))
        if clash:
            raise ValueError(f"{clash[0]} is both a holiday ({off[clash[0]]}) and a make-up "
                             f"working day ({worked[clash[0]]})")
        return self


def _once(seen: dict[date, str], day: date, name: str, what: str) -> None:
    if day in seen:
        raise ValueError(f"{day} is listed twice as {what} ({seen[day]}, {name})")
    seen[day] = name


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Every loaded year merged: holidays and make-up days by date, and the years known."""

    holidays: Mapping[date, str]
    make_up_days: Mapping[date, str]
    sources: Mapping[int, str]

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.sources))

    @property
    def last_year(self) -> int | None:
        return max(self.sources, default=None)

    def covers(self, year: int) -> bool:
        return year in self.sources

    def holiday(self, day: date) -> str | None:
        """The holiday's name (元旦, 春节...) if the day is one."""
        return self.holidays.get(day)

    def is_make_up_day(self, day: date) -> bool:
        return day in self.make_up_days


WEEKENDS_ONLY = WorkingCalendar(holidays={}, make_up_days={}, sources={})


def parse_year(text: str, name: str = "<calendar>") -> CalendarYear:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return CalendarYear.model_validate(data)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CalendarError(f"{name}: {exc}") from exc


def merge(years: list[CalendarYear]) -> WorkingCalendar:
    holidays: dict[date, str] = {}
    make_up: dict[date, str] = {}
    sources: dict[int, str] = {}
    for year in years:
        if year.year in sources:
            raise CalendarError(f"{year.year} is given twice")
        sources[year.year] = year.source
        for holiday in year.holidays:
            holidays.update(dict.fromkeys(holiday.days(), holiday.name))
            make_up.update(dict.fromkeys(holiday.make_up_days, holiday.name))
    return WorkingCalendar(holidays, make_up, sources)


def load_working_calendar(directory: Path | None = None) -> WorkingCalendar:
    """Every `YYYY.toml` in `directory` (default: the shipped files), checked and merged.
    Any other `.toml` there, or a file whose `year` is not its name, is an error."""
    folder = directory or CALENDAR_DIR
    if not folder.is_dir():
        raise CalendarError(f"{folder}: no such calendar directory")
    years: list[CalendarYear] = []
    for path in sorted(folder.glob("*.toml")):
        named = YEAR_FILE.match(path.name)
        if named is None:
            raise CalendarError(f"{path.name}: a calendar file is named by its year (2027.toml)")
        year = parse_year(path.read_text(encoding="utf-8"), path.name)
        if year.year != int(named.group(1)):
            raise CalendarError(f"{path.name}: says year = {year.year}")
        years.append(year)
    return merge(years)
