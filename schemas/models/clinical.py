"""Clinical events a member publishes: results, reports, diagnoses, orders, decisions."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Code, Event, Note, PersonName, ReportText, ShortText, UtcMillis
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
    """RETRACTED: the producer takes back the result it sent earlier (HL7 OBX-11 W or D,
    FHIR entered-in-error or cancelled). It names that result by the same member, patient,
    item and order_ref (an imaging report: order_ref or report_ref); see
    docs/member-integration.md."""

    PRELIMINARY = "PRELIMINARY"
    FINAL = "FINAL"
    CORRECTED = "CORRECTED"
    RETRACTED = "RETRACTED"


class Modality(StrEnum):
    XRAY = "XRAY"
    CT = "CT"
    MRI = "MRI"
    ULTRASOUND = "ULTRASOUND"
    ELECTROPHYSIOLOGY = "ELECTROPHYSIOLOGY"
    NUCLEAR_MEDICINE = "NUCLEAR_MEDICINE"


class CaseClassification(StrEnum):
    """EXCLUDED (排除病例): the disease was ruled out; a revision card carries it."""

    SUSPECTED = "SUSPECTED"
    CLINICAL = "CLINICAL"
    CONFIRMED = "CONFIRMED"
    CARRIER = "CARRIER"
    EXCLUDED = "EXCLUDED"


class DiagnosisVerification(StrEnum):
    """Whether the doctor still holds the diagnosis: REFUTED (ruled out, FHIR refuted) or
    ENTERED_IN_ERROR (it should never have been recorded) take back the member's earlier
    diagnosis of the same disease for the same patient."""

    ASSERTED = "ASSERTED"
    REFUTED = "REFUTED"
    ENTERED_IN_ERROR = "ENTERED_IN_ERROR"


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
    item_code: Code | None = Field(default=None, description="Consortium item code, if mapped")
    local_code: Code = Field(description="The member's own code for the item")
    loinc: Code | None = None
    item_name: ShortText | None = None
    order_ref: Code | None = Field(default=None, description="Accession or order number")
    value_numeric: float | None = None
    value_text: Note | None = None
    unit: Code | None = None
    reference_range: ShortText | None = None
    abnormal_flag: AbnormalFlag | None = None
    specimen: ShortText | None = None
    method: ShortText | None = Field(
        default=None, description="e.g. CULTURE, SMEAR, PCR, WESTERN_BLOT"
    )
    status: ResultStatus = ResultStatus.FINAL
    reported_at: UtcMillis
    onset_date: date | None = Field(
        default=None, description="Illness onset the result's message gave (LOINC 11368-8)")


class ImagingReport(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    item_code: Code | None = None
    local_code: Code
    item_name: ShortText | None = None
    modality: Modality
    body_site: ShortText | None = None
    order_ref: Code | None = None
    report_ref: ShortText = Field(
        description="Where the report and images are (accession, study UID)"
    )
    findings: ReportText | None = None
    conclusion: ReportText | None = Field(
        default=None, description="Impression; not recognised itself"
    )
    status: ResultStatus = ResultStatus.FINAL
    reported_at: UtcMillis


class Diagnosis(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    icd10: Code = Field(description="ICD-10 code, national clinical version 2.0 (e.g. A22.101)")
    diagnosis_name: ShortText
    encounter_ref: Code | None = None
    case_classification: CaseClassification | None = None
    chronicity: Chronicity | None = None
    visit_kind: VisitKind = VisitKind.INITIAL
    onset_date: date | None = None
    diagnosed_at: UtcMillis
    death_date: date | None = None
    died_of_disease: bool = False
    is_treating_unit: bool = True
    doctor: PersonName | None = None
    remarks: Note | None = None
    verification: DiagnosisVerification = DiagnosisVerification.ASSERTED


class TestOrder(Event):
    NAMESPACE: ClassVar[str] = "consortium.clinical"
    __test__: ClassVar[bool] = False  # not a pytest test class
    patient: Patient
    order_id: Code
    item_code: Code | None = None
    local_code: Code
    ordered_at: UtcMillis
    priority: OrderPriority = OrderPriority.ROUTINE
    retest_reason: RetestReason | None = None
    ordering_doctor: PersonName | None = None
    department: ShortText | None = None


class RecognitionDecision(Event):
    """What the ordering doctor did with the recognition advice."""

    NAMESPACE: ClassVar[str] = "consortium.clinical"
    patient: Patient
    order_id: Code
    item_code: Code
    decision: Decision
    recognised_result_id: Code | None = Field(
        default=None, description="Event id of the result that was recognised"
    )
    retest_reason: RetestReason | None = None
    note: Note | None = None
