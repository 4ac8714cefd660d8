"""The keyed pseudonym and the sealed patient block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import admit
from hub.rules.privacy import Sealer, SealError, patient_key, pseudonym, pseudonymous
from schemas.models.common import NATIONAL_ID_TYPES, IdType, normalized_id
from schemas.reference.registry import load_registry
from tests.factories import lab_result, patient

SECRET = b"consortium-secret"
SEALER = Sealer(Fernet.generate_key())


def test_same_person_same_key_whoever_asks_and_however_typed() -> None:
    a = pseudonym(SECRET, IdType.RESIDENT_ID, "11010119900307451x", issuer="lead")
    b = pseudonym(SECRET, "RESIDENT_ID", " 11010119900307451X ", issuer="chc-east")
    assert a == b and len(a) == 32


def test_key_depends_on_the_secret_the_type_and_the_number() -> None:
    base = pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074514", issuer="lead")
    assert pseudonym(b"other", IdType.RESIDENT_ID, "110101199003074514", issuer="lead") != base
    assert pseudonym(SECRET, IdType.PASSPORT, "110101199003074514", issuer="lead") != base
    assert pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074519", issuer="lead") != base


def test_every_national_id_matches_across_members() -> None:
    for kind in NATIONAL_ID_TYPES:
        assert pseudonym(SECRET, kind, "E12345678", issuer="lead") == \
            pseudonym(SECRET, kind, "e12345678 ", issuer="chc-east"), kind


def test_a_national_ids_text_is_what_it_was_before_issuers() -> None:
    """Existing deployments keep their resident-ID pseudonyms, state keys and partitions."""
    assert normalized_id(IdType.RESIDENT_ID, " 11010119900307451x", issuer="lead") == \
        "RESIDENT_ID:11010119900307451X"


def test_a_record_number_matches_only_at_the_member_that_issued_it() -> None:
    """Two women with record number 555-44-4444 at two hospitals are two people."""
    for kind in (IdType.MEDICAL_RECORD_NUMBER, IdType.OTHER):
        at_lead = pseudonym(SECRET, kind, "555-44-4444", issuer="lead")
        assert pseudonym(SECRET, kind, " 555-44-4444 ", issuer="lead") == at_lead
        assert pseudonym(SECRET, kind, "555-44-4444", issuer="chc-east") != at_lead
    mrn = patient(id_type=IdType.MEDICAL_RECORD_NUMBER, id_number="555-44-4444")
    assert patient_key(mrn, SECRET, issuer="lead") != patient_key(mrn, SECRET, issuer="chc-east")
    assert pseudonymous(mrn, SECRET, SEALER, issuer="lead").key == \
        patient_key(mrn, SECRET, issuer="lead")


def test_intake_pseudonymises_a_record_number_with_the_member_that_sent_it() -> None:
    mrn = patient("555-44-4444", id_type=IdType.MEDICAL_RECORD_NUMBER)
    registry = load_registry()
    now, skew = datetime.now(UTC), timedelta(minutes=5)
    at_lead = admit(lab_result("lead", patient=mrn), "lead", registry, SECRET, SEALER,
                    now=now, clock_skew=skew)
    at_east = admit(lab_result("chc-east", patient=mrn), "chc-east", registry, SECRET, SEALER,
                    now=now, clock_skew=skew)
    assert at_lead.key == patient_key(mrn, SECRET, issuer="lead") != at_east.key
    assert at_east.key == patient_key(mrn, SECRET, issuer="chc-east")


def test_a_record_number_without_its_issuer_is_refused() -> None:
    with pytest.raises(ValueError, match="issued"):
        pseudonym(SECRET, IdType.MEDICAL_RECORD_NUMBER, "555-44-4444", issuer="")


def test_pseudonymous_patient_keeps_nothing_identifying_in_clear() -> None:
    original = patient()
    protected = pseudonymous(original, SECRET, SEALER, issuer="lead")
    for name in original.PERSONAL_FIELDS:
        assert getattr(protected, name) is None, name
    assert protected.key == pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074514",
                                     issuer="chc-east")
    assert protected.sex == original.sex and protected.occupation == original.occupation
    assert protected.sealed is not None and "张三".encode() not in protected.sealed


def test_sealed_block_opens_to_the_original_patient() -> None:
    original = patient()
    opened = SEALER.open_patient(pseudonymous(original, SECRET, SEALER, issuer="lead"))
    assert opened.id_number == original.id_number and opened.name == original.name
    assert opened.address == original.address and opened.birth_date == original.birth_date


def test_a_different_sealing_key_cannot_open_it() -> None:
    protected = pseudonymous(patient(), SECRET, SEALER, issuer="lead")
    with pytest.raises(SealError):
        Sealer(Fernet.generate_key()).open_patient(protected)


def test_without_an_id_the_key_comes_from_name_sex_birth_date_and_address() -> None:
    """Across members too: the card's no-ID duplicate rule applies across reporting units."""
    no_id = patient(id_type=None, id_number=None)
    key = patient_key(no_id, SECRET, issuer="lead")
    assert key.startswith("n") and key == patient_key(no_id, SECRET, issuer="chc-east")
    assert key != patient_key(patient(id_type=None, id_number=None, name="李四"), SECRET,
                              issuer="lead")
    with pytest.raises(ValueError, match="neither"):
        patient_key(patient(id_type=None, id_number=None, name=None), SECRET, issuer="lead")
