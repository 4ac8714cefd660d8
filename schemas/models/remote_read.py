"""Remote diagnosis (基层检查、上级诊断, domain.md section 6): a member examines (imaging,
ECG, pathology), a reading centre of another member reads and reports, the report goes
home. Images never travel through the hub: a request names the study (DICOM Study
Instance UID, or an ECG record) and where it can be fetched (WADO-RS).

A read request is named everywhere by `"<examining member>:<accession>"` (its request id);
every event about it carries that id, and its state lives on the partition of that key, so
two readers claiming one study are judged in one place. Which centre reads it comes from
reference data (who reads which modality for which members, with a backup centre).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import (
    Code,
    Event,
    Note,
    PersonName,
    Record,
    ReportText,
    ShortText,
    UtcMillis,
)
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.coordination import TaskStatus


def read_request_id(examining_member: str, accession: str) -> str:
    """The consortium-wide name of a read request (member ids hold no ':')."""
    return f"{examining_member}:{accession}"


class ReadModality(StrEnum):
    CT = "CT"
    MR = "MR"
    DR = "DR"  # digital radiography (X-ray)
    US = "US"
    ECG = "ECG"
    PATHOLOGY = "PATHOLOGY"


class PatientSetting(StrEnum):
    """Where the patient is: the report limits differ (outpatient CT/MR 4 working hours,
    inpatient 6)."""

    OUTPATIENT = "OUTPATIENT"
    INPATIENT = "INPATIENT"
    EMERGENCY = "EMERGENCY"
    PHYSICAL_EXAM = "PHYSICAL_EXAM"


class ReadRequest(Event):
    """The examining member asks for a study to be read. The sender is the examining
    member; the hub routes it to a reading centre."""

    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    patient: Patient
    accession: Code = Field(description="The examining member's accession number")
    modality: ReadModality
    item_code: Code | None = Field(default=None, description="Recognition catalogue item")
    local_code: Code = Field(description="The member's own code for the exam")
    item_name: ShortText | None = None
    body_site: ShortText | None = None
    priority: OrderPriority = OrderPriority.ROUTINE
    setting: PatientSetting = PatientSetting.OUTPATIENT
    complex_study: bool = Field(default=False, description="Complex or 3-D: the 24 h limit")
    clinical_question: Note | None = None
    study_uid: Code | None = Field(default=None, description="DICOM Study Instance UID")
    record_ref: Code | None = Field(default=None, description="ECG record or slide reference")
    wado_url: ShortText | None = Field(default=None, description="Where the images are (WADO-RS)")
    ordering_doctor: PersonName | None = None
    ordering_department: ShortText | None = None
    ordered_at: UtcMillis
    images_available_at: UtcMillis | None = Field(
        default=None, description="Set when the images are already there: the clock starts")


class ReadAction(StrEnum):
    """One step on a read request. ESCALATED and ROUTED_TO_BACKUP are the hub's own."""

    IMAGES_AVAILABLE = "IMAGES_AVAILABLE"
    CLAIMED = "CLAIMED"
    RELEASED = "RELEASED"
    REASSIGNED = "REASSIGNED"
    INFO_REQUESTED = "INFO_REQUESTED"
    INFO_PROVIDED = "INFO_PROVIDED"
    PRELIMINARY_REPORT = "PRELIMINARY_REPORT"  # 书写
    FINAL_REPORT = "FINAL_REPORT"  # 审核: reviewed and signed by a second reader, then locked
    AMENDED_REPORT = "AMENDED_REPORT"
    CORRECTED_REPORT = "CORRECTED_REPORT"
    CANCELLED = "CANCELLED"
    ROUTED_TO_BACKUP = "ROUTED_TO_BACKUP"


class Reader(Record):
    """A physician of a reading member (the member's own staff id)."""

    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    reader_id: Code
    name: PersonName | None = None
    title: ShortText | None = Field(default=None, description="e.g. 主治医师, 副主任医师")


class ReadReport(Record):
    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    report_ref: Code = Field(description="The reading member's report number")
    findings: ReportText | None = None  # 检查所见
    impression: ReportText | None = None  # 诊断意见
    writer: Reader | None = None  # 书写
    reviewer: Reader | None = None  # 审核: must not be the writer
    supersedes: Code | None = Field(
        default=None, description="Amended / corrected: the report_ref it replaces")
    amend_reason: Note | None = None


class ReadUpdate(Event):
    """A step on a read request, by the examining member (images available, information
    provided, cancelled) or by the reading member (claim, release, reassign, reports)."""

    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    request_id: Code = Field(description="'<examining member>:<accession>'")
    action: ReadAction
    reader: Reader | None = Field(default=None, description="Who claims, writes or signs")
    reassigned_to: Reader | None = None
    report: ReadReport | None = None
    reason_code: Code | None = None
    note: Note | None = None


class CriticalAction(StrEnum):
    """A critical value's steps (危急值, national core rule 2018). ESCALATED is the hub's."""

    RAISED = "RAISED"  # by the reading member, with the report
    DOUBLE_CHECKED = "DOUBLE_CHECKED"  # by a second reader before release
    DELIVERED = "DELIVERED"  # told to the ordering member (the hub marks it delivered)
    ACKNOWLEDGED = "ACKNOWLEDGED"  # by the ordering member, with the read-back text
    RESOLVED = "RESOLVED"  # by the ordering member: the doctor acted
    ESCALATED = "ESCALATED"


class CriticalValueUpdate(Event):
    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    request_id: Code
    critical_id: Code = Field(description="The raising member's id for this critical value")
    action: CriticalAction
    finding: Note | None = Field(default=None, description="RAISED: the critical finding")
    read_back: Note | None = Field(default=None, description="ACKNOWLEDGED: what was read back")
    by: Reader | None = Field(default=None, description="Who took the step")
    note: Note | None = None


class ReadStatus(Event):
    """What the hub tells the examining and the reading member after each step."""

    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    status_id: str
    request_id: str
    examining_member: str
    reading_member: str
    modality: ReadModality
    priority: OrderPriority
    action: ReadAction | None = Field(description="The step; null for an escalation")
    status: TaskStatus
    business_status: str
    by_member: str
    by_reader: Reader | None = None
    at: UtcMillis
    due_at: UtcMillis | None = None
    escalation_level: int = 0
    patient: Patient
    report: ReadReport | None = None
    reason_code: str | None = None
    reason: str | None = None
    note: str | None = None


class CriticalValueStatus(Event):
    """A critical value's register line, to both members (and kept for the register)."""

    NAMESPACE: ClassVar[str] = "consortium.remote_read"
    status_id: str
    request_id: str
    critical_id: str
    examining_member: str
    reading_member: str
    action: CriticalAction
    state: str
    finding: str | None = None
    read_back: str | None = None
    by_member: str
    by: Reader | None = None
    at: UtcMillis
    due_at: UtcMillis | None = None
    escalation_level: int = 0
    patient: Patient
