"""The keyed pseudonym and the sealed patient block."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hub.rules.privacy import Sealer, SealError, patient_key, pseudonym, pseudonymous
from schemas.models.common import IdType
from tests.factories import patient

SECRET = b"consortium-secret"
SEALER = Sealer(Fernet.generate_key())


def test_same_person_same_key_whoever_asks_and_however_typed() -> None:
    a = pseudonym(SECRET, IdType.RESIDENT_ID, "11010119900307451x")
    b = pseudonym(SECRET, "RESIDENT_ID", " 11010119900307451X ")
    assert a == b and len(a) == 32


def test_key_depends_on_the_secret_the_type_and_the_number() -> None:
    base = pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074514")
    assert pseudonym(b"other", IdType.RESIDENT_ID, "110101199003074514") != base
    assert pseudonym(SECRET, IdType.PASSPORT, "110101199003074514") != base
    assert pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074519") != base


def test_pseudonymous_patient_keeps_nothing_identifying_in_clear() -> None:
    original = patient()
    protected = pseudonymous(original, SECRET, SEALER)
    for name in original.PERSONAL_FIELDS:
        assert getattr(protected, name) is None, name
    assert protected.key == pseudonym(SECRET, IdType.RESIDENT_ID, "110101199003074514")
    assert protected.sex == original.sex and protected.occupation == original.occupation
    assert protected.sealed is not None and "张三".encode() not in protected.sealed


def test_sealed_block_opens_to_the_original_patient() -> None:
    original = patient()
    opened = SEALER.open_patient(pseudonymous(original, SECRET, SEALER))
    assert opened.id_number == original.id_number and opened.name == original.name
    assert opened.address == original.address and opened.birth_date == original.birth_date


def test_a_different_sealing_key_cannot_open_it() -> None:
    protected = pseudonymous(patient(), SECRET, SEALER)
    with pytest.raises(SealError):
        Sealer(Fernet.generate_key()).open_patient(protected)


def test_without_an_id_the_key_comes_from_name_sex_birth_date_and_address() -> None:
    no_id = patient(id_type=None, id_number=None)
    key = patient_key(no_id, SECRET)
    assert key.startswith("n") and key == patient_key(no_id, SECRET)
    assert key != patient_key(patient(id_type=None, id_number=None, name="李四"), SECRET)
    with pytest.raises(ValueError, match="neither"):
        patient_key(patient(id_type=None, id_number=None, name=None), SECRET)
