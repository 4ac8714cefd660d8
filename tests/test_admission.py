"""Intake's admission rules, without a broker."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import admit
from hub.rules.privacy import Sealer
from hub.rules.rejections import Reason, Rejection
from schemas.models import Feedback, LabResult
from schemas.models.outputs import FeedbackStatus
from schemas.reference.registry import load_registry
from schemas.topics import DIAGNOSES, RESULTS, STOCK
from tests.factories import diagnosis, lab_result, patient, stock_event

REGISTRY = load_registry()
SECRET = b"s"
SEALER = Sealer(Fernet.generate_key())


def reason_of(event: object, topic_member: str | None) -> str:
    with pytest.raises(Rejection) as info:
        admit(event, topic_member, REGISTRY, SECRET, SEALER)  # type: ignore[arg-type]
    return info.value.code


def test_clinical_event_is_pseudonymised_and_keyed_by_patient() -> None:
    admitted = admit(lab_result("lead"), "lead", REGISTRY, SECRET, SEALER)
    assert admitted.route is RESULTS
    assert isinstance(admitted.event, LabResult)
    assert admitted.key == admitted.event.patient.key
    assert admitted.event.patient.id_number is None


def test_stock_event_is_keyed_by_drug() -> None:
    admitted = admit(stock_event("mch", "RECEIPT", "X" * 23, 5), "mch", REGISTRY, SECRET, SEALER)
    assert admitted.route is STOCK and admitted.key == "X" * 23


def test_diagnosis_without_id_number_is_admitted_for_the_card_to_name_what_is_missing() -> None:
    event = diagnosis("lead", "A00.000", "霍乱", patient=patient(id_type=None, id_number=None))
    admitted = admit(event, "lead", REGISTRY, SECRET, SEALER)
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
