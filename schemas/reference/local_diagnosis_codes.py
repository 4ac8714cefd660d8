"""Members' local diagnosis codes (本院诊断编码) mapped to ICD-10 (national clinical
version 2.0), loaded from `local_diagnosis_codes.csv` (columns member, local_code, icd10,
name) and checked at load. Members normally send ICD-10; this map is for those whose HIS
sends its own codes."""

from __future__ import annotations

import csv
import io
import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.reference import DATA_DIR, Source, source_text
from schemas.reference.registry import MEMBER_ID

LOCAL_DIAGNOSIS_CODES_FILE = DATA_DIR / "local_diagnosis_codes.csv"
# WHO category, optional subcategory, and the national clinical version's extension
# (A15.000, I10.x00, A01.000x002); a trailing + or * marks dagger/asterisk coding.
ICD10 = re.compile(r"^[A-Z]\d{2}(?:\.[0-9X]{1,4}(?:X\d{3})?)?[+*]?$", re.IGNORECASE)


def normalise_icd10(code: str) -> str:
    """Codes are compared with the chapter letter upper case; the extension keeps its 'x'."""
    code = code.strip()
    return code[:1].upper() + code[1:]


class LocalDiagnosisCode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member: str = Field(pattern=MEMBER_ID.pattern)
    local_code: str = Field(min_length=1)
    icd10: str
    name: str = Field(min_length=1)

    @field_validator("icd10")
    @classmethod
    def _icd10(cls, value: str) -> str:
        if not ICD10.match(value.strip()):
            raise ValueError(f"{value!r} is not an ICD-10 code")
        return normalise_icd10(value)


class LocalDiagnosisCodes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    codes: tuple[LocalDiagnosisCode, ...]

    @cached_property
    def _by_local(self) -> dict[tuple[str, str], LocalDiagnosisCode]:
        return {(c.member, c.local_code.strip().upper()): c for c in self.codes}

    def resolve(self, member_id: str, local_code: str) -> LocalDiagnosisCode | None:
        """The ICD-10 code (and name) a member means by its own diagnosis code."""
        return self._by_local.get((member_id, local_code.strip().upper()))

    def __len__(self) -> int:
        return len(self.codes)


def load_local_diagnosis_codes(path: Source | None = None) -> LocalDiagnosisCodes:
    name = path.name if not isinstance(path, bytes) and path else LOCAL_DIAGNOSIS_CODES_FILE.name
    codes: list[LocalDiagnosisCode] = []
    seen: set[tuple[str, str]] = set()
    with io.StringIO(source_text(path, LOCAL_DIAGNOSIS_CODES_FILE), newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                code = LocalDiagnosisCode(
                    member=(row.get("member") or "").strip(),
                    local_code=(row.get("local_code") or "").strip(),
                    icd10=(row.get("icd10") or "").strip(),
                    name=(row.get("name") or "").strip(),
                )
            except ValueError as exc:
                raise ValueError(f"{name} line {line}: {exc}") from exc
            key = (code.member, code.local_code.upper())
            if key in seen:
                raise ValueError(f"{name} line {line}: {code.member} {code.local_code} twice")
            seen.add(key)
            codes.append(code)
    return LocalDiagnosisCodes(codes=tuple(codes))
