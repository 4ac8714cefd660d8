"""Personal data: the keyed pseudonym and the sealed patient block."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from schemas.models.common import IdType, Patient, normalized_id


def pseudonym(secret: bytes, id_type: IdType | str, id_number: str, *, issuer: str) -> str:
    """HMAC of ID type and number: the same key at every member for a national ID; for a
    record number (or OTHER) of the issuing member too, so it matches only there."""
    return hmac.new(secret, normalized_id(id_type, id_number, issuer=issuer).encode(),
                    hashlib.sha256).hexdigest()[:32]


def keyed_hash(secret: bytes, *parts: str) -> str:
    """A keyed digest of other personal values (e.g. the no-ID duplicate rule)."""
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


class SealError(ValueError):
    pass


class Sealer:
    """Encrypts what a later step needs in clear (the report card's patient block)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SealError("sealed data does not open with this key") from exc

    def seal_patient(self, patient: Patient) -> bytes:
        block = patient.model_dump(mode="json", exclude={"key", "sealed"}, exclude_none=True)
        return self.seal(json.dumps(block, ensure_ascii=False).encode())

    def open_patient(self, patient: Patient) -> Patient:
        """The identified patient behind a pseudonymous one."""
        if patient.sealed is None:
            raise SealError("patient block was not sealed")
        block: dict[str, Any] = json.loads(self.open(patient.sealed))
        return Patient.model_validate({**block, "key": patient.key})


def patient_key(patient: Patient, secret: bytes, *, issuer: str) -> str:
    """The pseudonym: from the ID when there is one (a record number with its `issuer`,
    the member that sent it), else from name, sex, birth date and address, marked so the
    two never collide.

    The no-ID key does not name the member: it is the card's no-ID duplicate rule, which
    the national card applies across reporting units, so one person reported without an ID
    by two members is one case (and one recognition patient). Name, sex, birth date and
    address together are what the CDC accepts as one person; a record number alone is not."""
    if patient.id_type is not None and patient.id_number:
        return pseudonym(secret, patient.id_type, patient.id_number, issuer=issuer)
    if not patient.name:
        raise ValueError("patient has neither an ID number nor a name")
    address = patient.address.model_dump_json() if patient.address else ""
    return "n" + keyed_hash(
        secret, patient.name.strip(), str(patient.sex or ""), str(patient.birth_date or ""), address
    )[1:]


def pseudonymous(patient: Patient, secret: bytes, sealer: Sealer, *, issuer: str) -> Patient:
    """What travels past intake: the pseudonym, the non-identifying fields, and sealed,
    whatever the member (`issuer`) sent."""
    return Patient(
        key=patient_key(patient, secret, issuer=issuer),
        sealed=sealer.seal_patient(patient),
        id_type=patient.id_type,
        sex=patient.sex,
        age_value=patient.age_value,
        age_unit=patient.age_unit,
        belonging=patient.belonging,
        occupation=patient.occupation,
    )
