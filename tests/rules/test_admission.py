"""Intake's admission rules, without a broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import Admitted, admit, dedup_key
from hub.rules.privacy import Sealer
from hub.rules.rejections import Reason, Rejection
from schemas.models import Event, Feedback, LabResult
from schemas.models.outputs import FeedbackStatus
from schemas.reference.registry import load_registry
from schemas.topics import DIAGNOSES, RESULTS, STOCK
from tests.factories import NOW, diagnosis, lab_result, patient, stock_event

REGISTRY = load_registry()
SECRET = b"s"
SEALER = Sealer(Fernet.generate_key())
SKEW = timedelta(minutes=5)


def admit_on(event: Event, topic_member: str | None) -> Admitted:
    """Intake's admission of `event` arriving on in.<topic_member>, with the hub's clock at
    NOW."""
    return admit(event, topic_member, REGISTRY, SECRET, SEALER, now=NOW, clock_skew=SKEW)


def reason_of(event: object, topic_member: str | None) -> str:
    with pytest.raises(Rejection) as info:
        admit_on(event, topic_member)  # type: ignore[arg-type]
    return info.value.code


def test_clinical_event_is_pseudonymised_and_keyed_by_patient() -> None:
    admitted = admit_on(lab_result("lead"), "lead")
    assert admitted.route is RESULTS
    assert isinstance(admitted.event, LabResult)
    assert admitted.key == admitted.event.patient.key
    assert admitted.event.patient.id_number is None


def test_stock_event_is_keyed_by_drug() -> None:
    admitted = admit_on(stock_event("mch", "RECEIPT", "X" * 23, 5), "mch")
    assert admitted.route is STOCK and admitted.key == "X" * 23


def test_diagnosis_without_id_number_is_admitted_for_the_card_to_name_what_is_missing() -> None:
    event = diagnosis("lead", "A00.000", "霍乱", patient=patient(id_type=None, id_number=None))
    admitted = admit_on(event, "lead")
    assert admitted.route is DIAGNOSES and admitted.key.startswith("n")


def test_event_claiming_another_member_is_refused() -> None:
    assert reason_of(lab_result("lead"), "chc-east") == Reason.MEMBER_MISMATCH


def test_topic_of_no_registered_member_is_refused() -> None:
    assert reason_of(lab_result("nobody"), "nobody") == Reason.UNKNOWN_MEMBER


def test_hub_output_schemas_are_not_accepted_from_members() -> None:
    fb = Feedback(envelope=Feedback.new_envelope("lead"), in_reply_to=None,
                  status=FeedbackStatus.ACCEPTED)
    assert reason_of(fb, "lead") == Reason.NOT_ACCEPTED_ON_INGRESS


def test_envelope_naming_another_schema_is_refused() -> None:
    event = lab_result("lead")
    wrong = event.model_copy(update={"envelope": event.envelope.model_copy(
        update={"schema_name": "consortium.clinical.Diagnosis"})})
    assert reason_of(wrong, "lead") == Reason.ENVELOPE_MISMATCH


def test_member_may_not_set_the_pseudonym() -> None:
    event = lab_result("lead", patient=patient(key="forged"))
    assert reason_of(event, "lead") == Reason.PSEUDONYM_FROM_MEMBER


def test_patient_with_neither_id_nor_name_is_refused() -> None:
    event = lab_result("lead", patient=patient(id_type=None, id_number=None, name=None))
    assert reason_of(event, "lead") == Reason.MISSING_PATIENT_IDENTITY


def _with_event_id(event: Event, event_id: str) -> Event:
    return event.model_copy(update={"envelope": event.envelope.model_copy(
        update={"event_id": event_id})})


@pytest.mark.parametrize("event_id", [
    "", "   ", "LAB20250301001", "3f2b8c1e9d4a4f6b8e215c7d0a9b1e42",  # no hyphens
    "{3f2b8c1e-9d4a-4f6b-8e21-5c7d0a9b1e42}", "urn:uuid:3f2b8c1e-9d4a-4f6b-8e21-5c7d0a9b1e42",
    "00000000-0000-0000-0000-000000000000",
])
def test_an_event_id_that_is_not_a_uuid_of_its_own_is_refused(event_id: str) -> None:
    assert reason_of(_with_event_id(lab_result("lead"), event_id), "lead") == \
        Reason.INVALID_EVENT_ID


def test_an_upper_case_uuid_is_an_event_id_and_deduplicates_as_lower_case() -> None:
    upper = _with_event_id(lab_result("lead"), "3F2B8C1E-9D4A-4F6B-8E21-5C7D0A9B1E42")
    assert admit_on(upper, "lead").event.envelope.event_id == upper.envelope.event_id
    assert dedup_key(upper) == "lead/3f2b8c1e-9d4a-4f6b-8e21-5c7d0a9b1e42"


def test_the_same_event_id_from_two_members_is_two_events() -> None:
    ours = lab_result("lead")
    theirs = _with_event_id(lab_result("chc-east"), ours.envelope.event_id)
    assert dedup_key(ours) != dedup_key(theirs)


def test_who_sent_it_is_checked_before_the_id_and_the_times() -> None:
    """A forged event is named as forged, whatever else is wrong with it."""
    forged = _with_event_id(lab_result("lead", reported_at=NOW.replace(year=2096)), "")
    assert reason_of(forged, "chc-east") == Reason.MEMBER_MISMATCH
    assert reason_of(forged, "lead") == Reason.INVALID_EVENT_ID


def test_a_result_reported_in_2096_is_refused() -> None:
    assert reason_of(lab_result("lead", reported_at=NOW.replace(year=2096)), "lead") == \
        Reason.FUTURE_DATE
