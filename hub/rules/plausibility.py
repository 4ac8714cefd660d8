"""What cannot be true of an ingress event's times and dates: a time after the hub's clock
(beyond the clock-skew allowance), a date on or before 1900-01-01 (also the usual
placeholder of an empty date), a birth after the event, a death
before the birth, an onset after the diagnosis or after the death. Such an event would
otherwise travel on as if it were real (a card to the CDC dated 2096, a pharmacy ledger
whose event time jumps 70 years).

Dates (birth, onset, death) are calendar dates at the member, timestamps are instants:
a date is compared with an instant by the range of calendar dates the instant falls on
somewhere on earth (UTC-12 to UTC+14), so no time zone has to be assumed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from hub.rules.rejections import Reason, Rejection
from schemas.models import (
    Diagnosis,
    Event,
    ImagingReport,
    LabResult,
    RecognitionDecision,
    TestOrder,
)
from schemas.models.common import Patient
from schemas.models.pharmacy import StockEvent

FLOOR = date(1900, 1, 1)  # a date must be after it
_EAST_MOST = timedelta(hours=14)
_WEST_MOST = timedelta(hours=12)
_FLOOR_INSTANT = datetime(FLOOR.year, FLOOR.month, FLOOR.day, tzinfo=UTC) + timedelta(days=1)


def latest_date(instant: datetime) -> date:
    """The latest calendar date anywhere on earth at `instant`."""
    return (instant + _EAST_MOST).date()


def earliest_date(instant: datetime) -> date:
    """The earliest calendar date anywhere on earth at `instant`."""
    return (instant - _WEST_MOST).date()


def timestamps(event: Event) -> Iterator[tuple[str, datetime]]:
    """Every instant an ingress event states, by field name."""
    yield "envelope.occurred_at", event.envelope.occurred_at
    if isinstance(event, LabResult | ImagingReport):
        yield "reported_at", event.reported_at
    elif isinstance(event, Diagnosis):
        yield "diagnosed_at", event.diagnosed_at
    elif isinstance(event, TestOrder):
        yield "ordered_at", event.ordered_at
    elif isinstance(event, StockEvent):
        yield "at", event.at


def _patient(event: Event) -> Patient | None:
    if isinstance(event, LabResult | ImagingReport | Diagnosis | TestOrder
                  | RecognitionDecision):
        return event.patient
    return None


def _refuse_date(field: str, value: date | datetime, message: str, **params: object) -> Rejection:
    return Rejection(Reason.IMPLAUSIBLE_DATE, message, field=field, value=value, **params)


def check_plausible(event: Event, now: datetime, skew: timedelta) -> None:
    """Refuse an event with a time or date that cannot be true, naming the field."""
    latest = now + skew
    stated = list(timestamps(event))
    for field, instant in stated:
        if instant > latest:
            raise Rejection(Reason.FUTURE_DATE, "rejection.time_in_future", field=field,
                            value=instant, now=now)
        if instant < _FLOOR_INSTANT - _EAST_MOST:
            raise _refuse_date(field, instant, "rejection.date_too_early", floor=FLOOR)
    dates = _dates(event)
    for field, day in dates.items():
        if day > latest_date(latest):
            raise Rejection(Reason.FUTURE_DATE, "rejection.time_in_future", field=field,
                            value=day, now=now)
        if day <= FLOOR:
            raise _refuse_date(field, day, "rejection.date_too_early", floor=FLOOR)
    birth = dates.get("patient.birth_date")
    if birth is not None:
        for field, instant in stated:
            if birth > latest_date(instant):
                raise _refuse_date("patient.birth_date", birth, "rejection.born_after",
                                   other=field, other_value=instant)
    if isinstance(event, Diagnosis):
        _check_course(event, birth)


def _dates(event: Event) -> dict[str, date]:
    found: dict[str, date] = {}
    patient = _patient(event)
    if patient is not None and patient.birth_date is not None:
        found["patient.birth_date"] = patient.birth_date
    if isinstance(event, Diagnosis):
        if event.onset_date is not None:
            found["onset_date"] = event.onset_date
        if event.death_date is not None:
            found["death_date"] = event.death_date
    return found


def _check_course(event: Diagnosis, birth: date | None) -> None:
    """Birth, onset, diagnosis and death in an order that can have happened (a death
    before the diagnosis can: a diagnosis made after death)."""
    onset, death = event.onset_date, event.death_date
    if onset is not None:
        if onset > latest_date(event.diagnosed_at):
            raise _refuse_date("onset_date", onset, "rejection.onset_after_diagnosis",
                               other="diagnosed_at", other_value=event.diagnosed_at)
        if birth is not None and onset < birth:
            raise _refuse_date("onset_date", onset, "rejection.before_birth", birth=birth)
        if death is not None and onset > death:
            raise _refuse_date("onset_date", onset, "rejection.after_death", death=death)
    if death is not None and birth is not None and death < birth:
        raise _refuse_date("death_date", death, "rejection.before_birth", birth=birth)
