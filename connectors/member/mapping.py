"""What every connector shares: the sink events are published to, the reasons an input is
rejected, and the member's local codes mapped to the consortium's (lab and examination
items through the item catalogue, drugs through the formulary, diagnoses through the local
diagnosis code map). A code that does not map is a rejection, never a silent skip."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from connectors.settings import get_settings
from schemas.models import Event
from schemas.models.clinical import Modality
from schemas.reference.formulary import Drug, Formulary, load_formulary
from schemas.reference.items import Item, ItemCatalogue, load_item_catalogue
from schemas.reference.local_diagnosis_codes import (
    ICD10,
    LocalDiagnosisCodes,
    load_local_diagnosis_codes,
    normalise_icd10,
)
from schemas.reference.messages import DEFAULT_LOCALE, Locale, Text, text

ICD10_SYSTEMS = frozenset({"", "I10", "ICD10", "ICD-10", "ICD10CN", "ICD-10-CN", "GB/T14396"})


class EventSink(Protocol):
    """Where a connector publishes. `MemberPublisher` is the real one: both calls block
    until Kafka acknowledged every event and raise if one was not written."""

    def publish(self, event: Event) -> None: ...

    def publish_many(self, events: Sequence[Event]) -> int: ...


@dataclass
class MemorySink:
    """An in-memory sink for tests and benchmarks; `fail_with` makes every publish fail."""

    events: list[Event] = field(default_factory=list)
    fail_with: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def publish(self, event: Event) -> None:
        self.publish_many([event])

    def publish_many(self, events: Sequence[Event]) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.events.extend(events)
        return len(events)


class RejectReason(StrEnum):
    MALFORMED = "MALFORMED"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_VALUE = "INVALID_VALUE"
    UNMAPPED_CODE = "UNMAPPED_CODE"
    UNSUPPORTED = "UNSUPPORTED"
    PUBLISH_FAILED = "PUBLISH_FAILED"


class Rejected(ValueError):
    """An input the connector will not publish, with where and why (for the sender)."""

    def __init__(self, code: RejectReason, reason: Text, location: str | None = None) -> None:
        self.code = code
        self.text = reason
        self.location = location
        super().__init__(self.message_in(DEFAULT_LOCALE))

    def reason_in(self, locale: Locale) -> str:
        return locale.render(self.text)

    def message_in(self, locale: Locale) -> str:
        reason = self.reason_in(locale)
        return f"{self.location}: {reason}" if self.location else reason

    @property
    def reason(self) -> str:
        """Why, in the connector's language (HUB_LANGUAGE, Chinese by default)."""
        return self.reason_in(get_settings().locale())

    @property
    def message(self) -> str:
        """Where and why, in the connector's language."""
        return self.message_in(get_settings().locale())


def _latest() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=get_settings().clock_skew_seconds)


def not_in_future(at: datetime, location: str) -> datetime:
    """An event time later than this connector's clock allows is refused where it enters,
    naming the HL7 field or FHIR element (the hub would refuse it too: FUTURE_DATE)."""
    if at > _latest():
        raise Rejected(RejectReason.INVALID_VALUE, text("connector.time_in_future", value=at),
                       location)
    return at


def date_not_in_future(day: date | None, location: str) -> date | None:
    """The same for a calendar date (a birth date): later than today anywhere on earth."""
    if day is not None and day > (_latest() + timedelta(hours=14)).date():
        raise Rejected(RejectReason.INVALID_VALUE, text("connector.time_in_future", value=day),
                       location)
    return day


def invalid_event(exc: ValidationError) -> Rejected:
    """An event the contract refuses (a text over its bound, say), as the sender's answer:
    the field, and what is wrong, never the value."""
    error = exc.errors(include_url=False, include_input=False)[0]
    field_path = ".".join(str(part) for part in error["loc"])
    limit = error.get("ctx", {}).get("max_length")
    if error["type"] in ("string_too_long", "too_long") and limit is not None:
        return Rejected(RejectReason.INVALID_VALUE, text("connector.field_too_long",
                        field=field_path, limit=limit), field_path)
    return Rejected(RejectReason.INVALID_VALUE, text("connector.invalid_field",
                    field=field_path, detail=error["msg"]), field_path)


# HL7 table 0074 diagnostic service sections and DICOM modality codes (ImagingStudy,
# and many Chinese PACS put the DICOM code in OBR-24) to the consortium's modalities.
_MODALITIES: dict[str, Modality] = {
    "RAD": Modality.XRAY, "RX": Modality.XRAY, "XRC": Modality.XRAY, "CR": Modality.XRAY,
    "DX": Modality.XRAY, "DR": Modality.XRAY, "MG": Modality.XRAY, "RF": Modality.XRAY,
    "XA": Modality.XRAY, "CT": Modality.CT, "NMR": Modality.MRI, "MR": Modality.MRI,
    "MRI": Modality.MRI, "US": Modality.ULTRASOUND, "RUS": Modality.ULTRASOUND,
    "CUS": Modality.ULTRASOUND, "OUS": Modality.ULTRASOUND, "VUS": Modality.ULTRASOUND,
    "NMS": Modality.NUCLEAR_MEDICINE, "NM": Modality.NUCLEAR_MEDICINE,
    "PT": Modality.NUCLEAR_MEDICINE, "EC": Modality.ELECTROPHYSIOLOGY,
    "EN": Modality.ELECTROPHYSIOLOGY, "ECG": Modality.ELECTROPHYSIOLOGY,
    "EEG": Modality.ELECTROPHYSIOLOGY, "EMG": Modality.ELECTROPHYSIOLOGY,
}


def modality_of(code: str | None) -> Modality | None:
    """The modality an HL7 diagnostic service section or a DICOM modality code names."""
    return _MODALITIES.get(code.strip().upper()) if code else None


@dataclass(frozen=True, slots=True)
class MappedDiagnosis:
    icd10: str
    name: str | None


class MappingTables(Protocol):
    """The catalogues a mapper reads (a `ReferenceData` of connectors/member/reference.py)."""

    @property
    def items(self) -> ItemCatalogue: ...
    @property
    def formulary(self) -> Formulary: ...
    @property
    def diagnoses(self) -> LocalDiagnosisCodes: ...


@dataclass(frozen=True, slots=True)
class _FixedTables:
    items: ItemCatalogue
    formulary: Formulary
    diagnoses: LocalDiagnosisCodes


class CodeMapper:
    """One member's local codes mapped to the consortium's, with the catalogues `tables`
    gives at the time (those the connector follows on the reference topic)."""

    def __init__(
        self,
        member_id: str,
        items: ItemCatalogue,
        formulary: Formulary,
        diagnoses: LocalDiagnosisCodes,
    ) -> None:
        fixed = _FixedTables(items, formulary, diagnoses)
        self.member_id = member_id
        self.tables: Callable[[], MappingTables] = lambda: fixed

    @classmethod
    def load(cls, member_id: str, diagnosis_codes_file: Path | None = None) -> CodeMapper:
        """The mapper of a member from the shipped catalogues."""
        return cls(member_id, load_item_catalogue(), load_formulary(),
                   load_local_diagnosis_codes(diagnosis_codes_file))

    @classmethod
    def following(cls, member_id: str, tables: Callable[[], MappingTables]) -> CodeMapper:
        """A mapper that reads the current catalogues on every lookup."""
        mapper = cls.__new__(cls)
        mapper.member_id = member_id
        mapper.tables = tables
        return mapper

    @property
    def items(self) -> ItemCatalogue:
        return self.tables().items

    @property
    def formulary(self) -> Formulary:
        return self.tables().formulary

    @property
    def diagnoses(self) -> LocalDiagnosisCodes:
        return self.tables().diagnoses

    def item(self, local_code: str | None, loinc: str | None = None,
             location: str | None = None) -> Item:
        """The catalogue item of a member's local code (or, failing that, its LOINC)."""
        if local_code:
            item = self.items.resolve(self.member_id, local_code)
            if item is not None:
                return item
        if loinc:
            item = self.items.by_loinc(loinc)
            if item is not None:
                return item
        if not local_code and not loinc:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_item_code"), location)
        shown = [text(f"connector.code_{kind}", code=code)
                 for kind, code in (("local", local_code), ("loinc", loinc)) if code]
        raise Rejected(RejectReason.UNMAPPED_CODE, text(
            "connector.item_not_in_catalogue", codes=shown, member=self.member_id), location)

    def drug(self, code: str | None, location: str | None = None) -> Drug:
        """The formulary drug of a member's local drug code (or of a national code)."""
        if not code or not code.strip():
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_drug_code"), location)
        code = code.strip()
        drug = self.formulary.resolve_local(self.member_id, code) or self.formulary.get(code)
        if drug is None:
            raise Rejected(RejectReason.UNMAPPED_CODE, text(
                "connector.drug_not_in_formulary", code=code, member=self.member_id), location)
        return drug

    def diagnosis(self, code: str | None, system: str | None = None,
                  location: str | None = None) -> MappedDiagnosis:
        """An ICD-10 code as sent, or the member's local diagnosis code mapped to one."""
        if not code or not code.strip():
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_diagnosis_code"),
                           location)
        code = code.strip()
        local = self.diagnoses.resolve(self.member_id, code)
        if local is not None:
            return MappedDiagnosis(local.icd10, local.name)
        is_icd_system = (system or "").strip().upper().replace(" ", "") in ICD10_SYSTEMS
        if is_icd_system and ICD10.match(code):
            return MappedDiagnosis(normalise_icd10(code), None)
        raise Rejected(RejectReason.UNMAPPED_CODE, text(
            "connector.diagnosis_unmapped", code=code, system=system or "-",
            member=self.member_id), location)
