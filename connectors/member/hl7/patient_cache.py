"""The connector's local patient-demographics cache (SQLite, one file at the member).

ADT^A01/A04/A08 store the patient of PID under every identifier of PID-3, so a later
message that names the patient by any of them (a diagnosis from the HIS, a FHIR Condition)
can be completed with what the report card needs: name, sex, birth date, phone, address,
and the resident ID number when the later message only had the medical record number.
The file holds personal data in clear: it stays on the member's machine, like the HIS.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from schemas.models import Patient
from schemas.models.common import IdType

IDENTITY_RANK: dict[IdType | None, int] = {
    IdType.RESIDENT_ID: 0, IdType.PASSPORT: 1, IdType.HK_MACAO_PERMIT: 2,
    IdType.TAIWAN_PERMIT: 3, IdType.FOREIGN_PERMANENT_RESIDENT: 4,
    IdType.MEDICAL_RECORD_NUMBER: 5, IdType.OTHER: 6, None: 7,
}


def identity_key(id_type: IdType | None, id_number: str | None) -> str | None:
    if not id_number:
        return None
    return f"{id_type.value if id_type else ''}:{id_number.strip().upper()}"


class PatientCache:
    """Patients by identifier. `path=None` keeps the cache in memory (tests)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS patients ("
                " identity TEXT PRIMARY KEY, patient TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )

    def store(self, patient: Patient, identities: list[tuple[IdType, str]]) -> None:
        """Keep the patient under each of its identifiers (the newest message wins)."""
        document = patient.model_dump_json(exclude_none=True)
        now = datetime.now(UTC).isoformat()
        keys = {identity_key(t, n) for t, n in identities} | {
            identity_key(patient.id_type, patient.id_number)
        }
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO patients (identity, patient, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(identity) DO UPDATE SET patient = excluded.patient, "
                "updated_at = excluded.updated_at",
                [(key, document, now) for key in keys if key],
            )

    def get(self, id_type: IdType | None, id_number: str | None) -> Patient | None:
        key = identity_key(id_type, id_number)
        if key is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT patient FROM patients WHERE identity = ?", (key,)
            ).fetchone()
        return Patient.model_validate_json(row[0]) if row else None

    def complete(self, patient: Patient) -> Patient:
        """The patient with the fields it lacks taken from the cache; its own values win,
        except that a better identity (a resident ID over a record number) replaces it."""
        cached = self.get(patient.id_type, patient.id_number)
        if cached is None:
            return patient
        merged = {**cached.model_dump(exclude_none=True), **patient.model_dump(exclude_none=True)}
        if IDENTITY_RANK[cached.id_type] < IDENTITY_RANK[patient.id_type]:
            merged["id_type"], merged["id_number"] = cached.id_type, cached.id_number
        return Patient.model_validate(merged)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM patients").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
