"""Report time limits (domain.md section 6): rules from a data file (HUB_READ_LIMITS_FILE,
shipped: schemas/reference/read_limits.toml), the first matching rule giving a request's
limit, in clock time, working hours or working days on the working calendar. The clock
starts when the images are available."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from hub.rules.worktime import WorkingHours, add_working_days, add_working_hours
from schemas.models.clinical import OrderPriority
from schemas.models.remote_read import PatientSetting, ReadModality
from schemas.reference import DATA_DIR
from schemas.reference.calendar import WorkingCalendar

SHIPPED_LIMITS = DATA_DIR / "read_limits.toml"
E = TypeVar("E", bound=StrEnum)
_LIMIT = re.compile(r"^\s*(\d+)\s*(m|h|wh|wd)\s*$")


class Unit(StrEnum):
    MINUTES = "m"
    HOURS = "h"
    WORKING_HOURS = "wh"
    WORKING_DAYS = "wd"


@dataclass(frozen=True, slots=True)
class Limit:
    amount: int
    unit: Unit

    @classmethod
    def parse(cls, text: object, where: str) -> Limit:
        found = _LIMIT.match(text) if isinstance(text, str) else None
        if found is None or int(found.group(1)) <= 0:
            raise ValueError(f"{where}: {text!r} is not a limit like 30m, 2h, 4wh or 4wd")
        return cls(int(found.group(1)), Unit(found.group(2)))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


@dataclass(frozen=True, slots=True)
class LimitRule:
    limit: Limit
    modalities: frozenset[ReadModality] | None = None
    priorities: frozenset[OrderPriority] | None = None
    settings: frozenset[PatientSetting] | None = None
    complex_study: bool | None = None

    def matches(self, modality: ReadModality, priority: OrderPriority,
                setting: PatientSetting, complex_study: bool) -> bool:
        return ((self.modalities is None or modality in self.modalities)
                and (self.priorities is None or priority in self.priorities)
                and (self.settings is None or setting in self.settings)
                and (self.complex_study is None or complex_study == self.complex_study))


def _set(kind: type[E], value: object, where: str) -> frozenset[E] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ValueError(f"{where}: expected a name or a list of names")
    known = {e.value for e in kind}
    wrong = [n for n in names if n not in known]
    if wrong:
        raise ValueError(f"{where}: unknown {wrong} (one of {sorted(known)})")
    return frozenset(kind(n) for n in names)


def _rule(raw: dict[str, Any], where: str) -> LimitRule:
    unknown = set(raw) - {"modality", "priority", "setting", "complex", "limit"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    complex_study = raw.get("complex")
    if complex_study is not None and not isinstance(complex_study, bool):
        raise ValueError(f"{where}.complex: true or false")
    return LimitRule(
        limit=Limit.parse(raw.get("limit"), f"{where}.limit"),
        modalities=_set(ReadModality, raw.get("modality"), f"{where}.modality"),
        priorities=_set(OrderPriority, raw.get("priority"), f"{where}.priority"),
        settings=_set(PatientSetting, raw.get("setting"), f"{where}.setting"),
        complex_study=complex_study)


def parse_limits(text: str) -> tuple[LimitRule, ...]:
    """The rules of a limits file; every modality and priority must find one."""
    raw = tomllib.loads(text).get("limits", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValueError("limits: expected a list of tables ([[limits]])")
    rules = tuple(_rule(r, f"limits[{i}]") for i, r in enumerate(raw))
    for modality in ReadModality:
        for priority in OrderPriority:
            for setting in PatientSetting:
                if not any(r.matches(modality, priority, setting, False) for r in rules):
                    raise ValueError(f"limits: no rule for {modality} {priority} {setting}")
    return rules


def load_limits(path: Path | None = None) -> tuple[LimitRule, ...]:
    return parse_limits((path or SHIPPED_LIMITS).read_text(encoding="utf-8"))


def report_limit(rules: tuple[LimitRule, ...], modality: ReadModality,
                 priority: OrderPriority, setting: PatientSetting,
                 complex_study: bool) -> Limit:
    """The first rule's limit for this request (parse_limits made sure one matches)."""
    return next(r.limit for r in rules
                if r.matches(modality, priority, setting, complex_study))


@dataclass(frozen=True, slots=True)
class WorkingTime:
    """What working-time limits count on: the calendar, the day's hours, the zone."""

    calendar: WorkingCalendar
    hours: WorkingHours
    zone: tzinfo


def deadline(limit: Limit, start: datetime, work: WorkingTime) -> datetime:
    """When a report started (images available) at `start` falls due."""
    if limit.unit is Unit.MINUTES:
        return start + timedelta(minutes=limit.amount)
    if limit.unit is Unit.HOURS:
        return start + timedelta(hours=limit.amount)
    if limit.unit is Unit.WORKING_HOURS:
        return add_working_hours(work.calendar, start, limit.amount, work.hours, work.zone)
    return add_working_days(work.calendar, start, limit.amount, work.zone)
