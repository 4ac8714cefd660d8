"""Clinical events a member publishes: results, reports, diagnoses, orders, decisions."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Event, UtcMillis
from schemas.models.common import Patient


class AbnormalFlag(StrEnum):
    NORMAL = "NORMAL"
    LOW = "LOW"
    HIGH = "HIGH"
    CRITICAL_LOW = "CRITICAL_LOW"
    CRITICAL_HIGH = "CRITICAL_HIGH"
    ABNORMAL = "ABNORMAL"
    POSITIVE = "POSITIVE"
    NEGATIVE = "NEGATIVE"


class ResultStatus(StrEnum):
    PRELIMINARY = "PRELIMINARY"
    FINAL = "FINAL"
    CORRECTED = "CORRECTED"


class Modality(StrEnum):
    XRAY = "XRAY"
    CT = "CT"
    MRI = "MRI"
    ULTRASOUND = "ULTRASOUND"
    ELECTROPHYSIOLOGY = "ELECTROPHYSIOLOGY"
    NUCLEAR_MEDICINE = "NUCLEAR_MEDICINE"


class CaseClassification(StrEnum):
    SUSPECTED = "SUSPECTED"
    CLINICAL = "CLINICAL"
    CONFIRMED = "CONFIRMED"
    CARRIER = "CARRIER"


class Chronicity(StrEnum):
    ACUTE = "ACUTE"
    CHRONIC = "CHRONIC"
    UNKNOWN = "UNKNOWN"


class VisitKind(StrEnum):
    INITIAL = "INITIAL"
    FOLLOW_UP = "FOLLOW_UP"


class OrderPriority(StrEnum):
    ROUTINE = "ROUTINE"
    URGENT = "URGENT"
    EMERGENCY = "EMERGENCY"


class RetestReason(StrEnum):
    """Why a recognisable result may be re-done (domain.md, section 1)."""

    CONDITION_CHANGED = "CONDITION_CHANGED"
    FAST_CHANGING_VALUE = "FAST_CHANGING_VALUE"
    MAJOR_INTERVENTION = "MAJOR_INTERVENTION"
    EMERGENCY = "EMERGENCY"
    FORENSIC_OR_DISABILITY = "FORENSIC_OR_DISABILITY"
    OTHER_CLINICAL_NEED = "OTHER_CLINICAL_NEED"
    PATIENT_REQUEST = "PATIENT_REQUEST"
    PRODUCER_FAILED_EQA = "PRODUCER_FAILED_EQA"
    RESULT_TOO_OLD = "RESULT_TOO_OLD"


class Decision(StrEnum):
    RECOGNISED = "RECOGNISED"
    RETESTED = "RETESTED"


class LabResult(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    item_code: str | None = Field(default=None, description="Consortium item code, if mapped")
    local_code: str = Field(description="The member's own code for the item")
    loinc: str | None = None
    item_name: str | None = None
    order_ref: str | None = Field(default=None, description="Accession or order number")
    value_numeric: float | None = None
    value_text: str | None = None
    unit: str | None = None
    reference_range: str | None = None
    abnormal_flag: AbnormalFlag | None = None
    specimen: str | None = None
    method: str | None = Field(default=None, description="e.g. CULTURE, SMEAR, PCR, WESTERN_BLOT")
    status: ResultStatus = ResultStatus.FINAL
    reported_at: UtcMillis
    onset_date: date | None = Field(
        default=None, description="Illness onset the result's message gave (LOINC 11368-8)")


class ImagingReport(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    item_code: str | None = None
    local_code: str
    item_name: str | None = None
    modality: Modality
    body_site: str | None = None
    order_ref: str | None = None
    report_ref: str = Field(description="Where the report and images are (accession, study UID)")
    findings: str | None = None
    conclusion: str | None = Field(default=None, description="Impression; not recognised itself")
    status: ResultStatus = ResultStatus.FINAL
    reported_at: UtcMillis


class Diagnosis(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    icd10: str = Field(description="ICD-10 code, national clinical version 2.0 (e.g. A22.101)")
    diagnosis_name: str
    encounter_ref: str | None = None
    case_classification: CaseClassification | None = None
    chronicity: Chronicity | None = None
    visit_kind: VisitKind = VisitKind.INITIAL
    onset_date: date | None = None
    diagnosed_at: UtcMillis
    death_date: date | None = None
    died_of_disease: bool = False
    is_treating_unit: bool = True
    doctor: str | None = None
    remarks: str | None = None


class TestOrder(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    __test__: ClassVar[bool] = False  # not a pytest test class
    patient: Patient
    order_id: str
    item_code: str | None = None
    local_code: str
    ordered_at: UtcMillis
    priority: OrderPriority = OrderPriority.ROUTINE
    retest_reason: RetestReason | None = None
    ordering_doctor: str | None = None
    department: str | None = None


class RecognitionDecision(Event):
    """What the ordering doctor did with the recognition advice."""

    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    order_id: str
    item_code: str
    decision: Decision
    recognised_result_id: str | None = Field(
        default=None, description="Event id of the result that was recognised"
    )
    retest_reason: RetestReason | None = None
    note: str | None = None
