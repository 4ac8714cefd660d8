"""Times and dates an ingress event cannot truly have are refused, naming the field: what a
tester sent (a result reported in 2096, a measles diagnosis dated 2096 that became a card
for the CDC, an onset after the diagnosis, a death on 1900-01-01) and the cases that must
still pass (a member's clock a little ahead, a newborn, a diagnosis made after death)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.rules.plausibility import check_plausible
from hub.rules.rejections import Reason, Rejection
from schemas.models import Event
from schemas.reference.messages import Locale
from tests.factories import diagnosis, lab_result, patient, stock_event
from tests.factories import test_order as make_order

# 01:00 on 2026-12-08 in Beijing: the member's calendar day is already the next one.
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
IN_2096 = NOW.replace(year=2096)
DRUG = "XJ01CAA040E001010101445"


def refusal(event: Event) -> Rejection:
    with pytest.raises(Rejection) as info:
        check_plausible(event, NOW, SKEW)
    return info.value


def measles(**fields: object) -> Event:
    return diagnosis("lead", "B05.900", "麻疹", at=NOW - timedelta(hours=3), **fields)


@pytest.mark.parametrize(("event", "field"), [
    (lab_result("lead", reported_at=IN_2096), "envelope.occurred_at"),
    (lab_result("lead", reported_at=NOW).model_copy(update={"reported_at": IN_2096}),
     "reported_at"),
    (diagnosis("lead", "B05.900", "麻疹", at=NOW).model_copy(
        update={"diagnosed_at": IN_2096}), "diagnosed_at"),
    (make_order("lead", ordered_at=NOW).model_copy(update={"ordered_at": IN_2096}),
     "ordered_at"),
    (stock_event("chc-east", "DISPENSE", DRUG, 2, at=NOW).model_copy(update={"at": IN_2096}),
     "at"),
    (measles(onset_date=date(2096, 1, 3)), "onset_date"),
    (measles(death_date=date(2096, 1, 3)), "death_date"),
    (lab_result("lead", reported_at=NOW, patient=patient(birth_date=date(2096, 3, 7))),
     "patient.birth_date"),
], ids=["occurred_at", "reported_at", "diagnosed_at", "ordered_at", "stock_at", "onset",
        "death", "birth"])
def test_a_time_after_the_hubs_clock_is_refused_naming_the_field(event: Event, field: str) -> None:
    refused = refusal(event)
    assert refused.code == Reason.FUTURE_DATE
    assert refused.text.params["field"] == field
    assert field in refused.reason
    assert field in refused.reason_in(Locale.of("en", "Asia/Shanghai"))


def test_the_clock_skew_allowance_is_the_edge() -> None:
    check_plausible(lab_result("lead", reported_at=NOW + SKEW), NOW, SKEW)
    late = lab_result("lead", reported_at=NOW + SKEW + timedelta(seconds=1))
    assert refusal(late).code == Reason.FUTURE_DATE


def test_the_english_reason_says_which_time_is_late_and_when_the_hub_is() -> None:
    reason = refusal(lab_result("lead", reported_at=IN_2096)).reason_in(
        Locale.of("en", "Asia/Shanghai"))
    assert reason == ("envelope.occurred_at is 2096-12-08 01:00 +08:00, later than the "
                      "hub's clock 2026-12-08 01:00 +08:00 (beyond the allowed clock skew)")


@pytest.mark.parametrize(("event", "field", "message"), [
    (measles(death_date=date(1900, 1, 1)), "death_date", "rejection.date_too_early"),
    (measles(patient=patient(birth_date=date(1899, 5, 1))), "patient.birth_date",
     "rejection.date_too_early"),
    (lab_result("lead", reported_at=datetime(1900, 1, 1, tzinfo=UTC)), "envelope.occurred_at",
     "rejection.date_too_early"),
    (diagnosis("lead", "B05.900", "麻疹", at=datetime(2026, 11, 20, 2, tzinfo=UTC),
               onset_date=date(2026, 11, 22)), "onset_date", "rejection.onset_after_diagnosis"),
    (measles(onset_date=None, death_date=date(1950, 1, 1)), "death_date",
     "rejection.before_birth"),
    (measles(onset_date=date(1989, 1, 1)), "onset_date", "rejection.before_birth"),
    (measles(onset_date=NOW.date() - timedelta(days=2), death_date=NOW.date() - timedelta(
        days=5)), "onset_date", "rejection.after_death"),
    (diagnosis("lead", "B05.900", "麻疹", at=datetime(2025, 6, 1, tzinfo=UTC), onset_date=None,
               patient=patient(birth_date=date(2026, 1, 1))),
     "patient.birth_date", "rejection.born_after"),
], ids=["death-1900", "birth-1899", "timestamp-1900", "onset-after-diagnosis",
        "death-before-birth", "onset-before-birth", "onset-after-death", "born-after-event"])
def test_dates_that_cannot_be_true_are_refused_naming_the_field(
    event: Event, field: str, message: str,
) -> None:
    refused = refusal(event)
    assert (refused.code, refused.text.key) == (Reason.IMPLAUSIBLE_DATE, message)
    assert refused.text.params["field"] == field and field in refused.reason


def test_what_can_be_true_passes() -> None:
    """A newborn's result on its Beijing birth date (still the day before in UTC), an onset
    on the diagnosis' Beijing date, a diagnosis made after death, a member a minute ahead."""
    today_in_beijing = date(2026, 12, 8)
    check_plausible(lab_result("lead", reported_at=NOW, patient=patient(
        birth_date=today_in_beijing)), NOW, SKEW)
    check_plausible(diagnosis("lead", "B05.900", "麻疹", at=NOW, onset_date=today_in_beijing),
                    NOW, SKEW)
    check_plausible(measles(onset_date=date(2026, 11, 20), death_date=date(2026, 11, 30)),
                    NOW, SKEW)
    check_plausible(stock_event("chc-east", "RECEIPT", DRUG, 10, at=NOW + timedelta(minutes=1),
                                expiry_date=date(2029, 6, 30)), NOW, SKEW)
