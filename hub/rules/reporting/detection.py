"""Case detection: is this diagnosis or lab result reportable, as which disease and
subtype, in which case class, and by when.

Hours limits run on the clock from the diagnosis. Working-day limits (foodborne cases)
step day by day in the consortium's local time on the working calendar
(hub.rules.worktime: public holidays off, 调休 weekend days worked) and keep the time of
day: a case diagnosed on Thursday 10:00 with 2 working days is due on Monday 10:00, one
diagnosed on Wednesday 30 September 2026 10:00, before the National Day week, on Friday
9 October 10:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from hub.rules.reporting.state import Report
from hub.rules.worktime import add_working_days
from schemas.models import Diagnosis, LabResult
from schemas.models.clinical import (
    CaseClassification,
    Chronicity,
    DiagnosisVerification,
    ResultStatus,
)
from schemas.models.common import Patient
from schemas.reference.calendar import WorkingCalendar
from schemas.reference.diseases import DiseaseCatalogue, DiseaseMatch, Limit
from schemas.reference.items import ItemCatalogue
from schemas.reference.registry import Registry

# A preliminary result can still change; only final or corrected ones open a case.
TRIGGERING_STATUSES = frozenset({ResultStatus.FINAL, ResultStatus.CORRECTED})


def local_zone(utc_offset_hours: int) -> timezone:
    return timezone(timedelta(hours=utc_offset_hours))


def deadline_for(
    limit: Limit, diagnosed_at: datetime, utc_offset_hours: int, calendar: WorkingCalendar
) -> datetime:
    """When the card of a case diagnosed at `diagnosed_at` must be at the CDC."""
    if limit.hours is not None:
        return (diagnosed_at + timedelta(hours=limit.hours)).astimezone(UTC)
    assert limit.working_days is not None  # Limit guarantees one of the two
    return add_working_days(
        calendar, diagnosed_at, limit.working_days, local_zone(utc_offset_hours)
    )


def warning_at(opened_at: datetime, deadline: datetime) -> datetime:
    """Half the allowed time gone: the moment a still incomplete case warns its member."""
    return opened_at + (deadline - opened_at) / 2


def late_by_seconds(deadline: datetime, now: datetime) -> int | None:
    """Whole seconds past the deadline, or None when `now` is still within it."""
    if now <= deadline:
        return None
    return int((now - deadline).total_seconds())


@dataclass(frozen=True, slots=True)
class Detection:
    """A reportable condition and the report of it a member made."""

    match: DiseaseMatch
    report: Report
    verification: DiagnosisVerification = DiagnosisVerification.ASSERTED

    @property
    def takes_back(self) -> bool:
        """A refuted or erroneous diagnosis: it withdraws the case (hub.rules.reporting.
        withdrawal) instead of reporting one."""
        return self.verification is not DiagnosisVerification.ASSERTED

    def deadline(self, catalogue: DiseaseCatalogue, calendar: WorkingCalendar) -> datetime:
        return deadline_for(
            self.match.limit, self.report.diagnosed_at, catalogue.utc_offset_hours, calendar
        )


def local_date(moment: datetime, catalogue: DiseaseCatalogue) -> date:
    return moment.astimezone(local_zone(catalogue.utc_offset_hours)).date()


def _sealed(patient: Patient) -> str:
    if patient.key is None or patient.sealed is None:
        raise ValueError("patient is not pseudonymised: reporting reads only what intake sent")
    return patient.sealed.decode("ascii")


def _has_id(patient: Patient) -> bool:
    """Whether intake keyed the patient by ID number: a key from name, sex, birth date and
    address starts with "n" (hub.rules.privacy.patient_key), an ID pseudonym is hex."""
    return not (patient.key or "").startswith("n")


def _unit_level(registry: Registry, member_id: str) -> int:
    member = registry.get(member_id)
    return int(member.level) if member is not None else 0


def _reported_by(event: Diagnosis | LabResult, match: DiseaseMatch,
                 registry: Registry) -> dict[str, object]:
    """The fields of a report that come from who sent it, about whom, for which subtype."""
    member_id = event.envelope.member_id
    return {
        "event_id": event.envelope.event_id,
        "member_id": member_id,
        "unit_level": _unit_level(registry, member_id),
        "sealed": _sealed(event.patient),
        "identified_by_id": _has_id(event.patient),
        "occupation": event.patient.occupation,
        "subtype_code": match.subtype.code if match.subtype else None,
    }


def detect_diagnosis(
    diagnosis: Diagnosis, catalogue: DiseaseCatalogue, registry: Registry
) -> Detection | None:
    """The reportable condition a doctor's diagnosis names, or None if it is not one."""
    match = catalogue.match_icd(diagnosis.icd10, on=local_date(diagnosis.diagnosed_at, catalogue))
    if match is None:
        return None
    chronicity = diagnosis.chronicity
    if chronicity in (None, Chronicity.UNKNOWN):
        chronicity = match.chronicity_of(diagnosis.icd10) or chronicity
    verification = diagnosis.verification
    classification = diagnosis.case_classification
    if classification is CaseClassification.EXCLUDED:  # a HIS that says 排除 as a class
        verification, classification = DiagnosisVerification.REFUTED, None
    if verification is not DiagnosisVerification.ASSERTED:
        classification = None
    death_date = diagnosis.death_date
    if diagnosis.died_of_disease and death_date is None:
        death_date = local_date(diagnosis.diagnosed_at, catalogue)
    report = Report(
        **_reported_by(diagnosis, match, registry),
        is_treating_unit=diagnosis.is_treating_unit,
        from_lab=False,
        icd10=diagnosis.icd10,
        diagnosis_name=diagnosis.diagnosis_name,
        classification=classification,
        chronicity=chronicity,
        visit_kind=diagnosis.visit_kind,
        onset_date=diagnosis.onset_date,
        diagnosed_at=diagnosis.diagnosed_at,
        death_date=death_date,
        died_of_disease=diagnosis.died_of_disease,
        doctor=diagnosis.doctor,
        remarks=diagnosis.remarks,
    )
    return Detection(match, report, verification)


def lab_item_code(result: LabResult, items: ItemCatalogue | None) -> str:
    """The consortium item a result is for: its item code, else the member's local code (or
    its LOINC) mapped through the item catalogue, else the local code as it came."""
    if result.item_code:
        return result.item_code
    if items is not None:
        item = items.resolve(result.envelope.member_id, result.local_code)
        if item is None and result.loinc:
            item = items.by_loinc(result.loinc)
        if item is not None:
            return item.code
    return result.local_code


def detect_lab(
    result: LabResult, catalogue: DiseaseCatalogue, registry: Registry,
    items: ItemCatalogue | None = None,
) -> Detection | None:
    """A result that alone makes a reportable case (pending the doctor's diagnosis)."""
    if result.status not in TRIGGERING_STATUSES:
        return None
    match = catalogue.match_lab(
        lab_item_code(result, items), result.abnormal_flag, result.method,
        on=local_date(result.reported_at, catalogue),
    )
    if match is None:
        return None
    report = Report(
        **_reported_by(result, match, registry),
        is_treating_unit=False,
        from_lab=True,
        diagnosis_name=result.item_name,
        classification=match.classification or CaseClassification.CONFIRMED,
        onset_date=result.onset_date,
        diagnosed_at=result.reported_at,
    )
    return Detection(match, report)
