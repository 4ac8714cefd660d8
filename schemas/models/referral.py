"""Two-way referral (双向转诊, domain.md section 5): the request a member sends, each step
either party takes on it, the reserved capacity the receiver publishes, and the status the
hub tells both parties.

A referral is named everywhere by `"<referring member>:<referral_ref>"` (its referral id).
Its state lives with its receiver (`to_member`): every event about it carries the
receiver, so a receiver's referrals and its reserved pools are kept together and a slot is
booked in one place.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Code, Event, Note, PersonName, Record, ShortText, UtcMillis
from schemas.models.clinical import OrderPriority
from schemas.models.common import Patient
from schemas.models.coordination import TaskStatus


def referral_id(referrer_id: str, referral_ref: str) -> str:
    """The consortium-wide name of a referral (member ids hold no ':')."""
    return f"{referrer_id}:{referral_ref}"


class ReferralDirection(StrEnum):
    UP = "UP"  # 上转: primary care to the lead hospital
    DOWN = "DOWN"  # 下转: back to primary care, rehabilitation or chronic follow-up
    LATERAL = "LATERAL"


class ReferralKind(StrEnum):
    OUTPATIENT = "OUTPATIENT"
    ADMISSION = "ADMISSION"
    EXAMINATION = "EXAMINATION"
    REHABILITATION = "REHABILITATION"


class DocumentKind(StrEnum):
    """What travels with a referral (病历随转), always by reference."""

    SUMMARY = "SUMMARY"
    EXAM_REPORT = "EXAM_REPORT"
    LAB_REPORT = "LAB_REPORT"
    DICOM_STUDY = "DICOM_STUDY"
    PRESCRIPTION = "PRESCRIPTION"
    DISCHARGE_SUMMARY = "DISCHARGE_SUMMARY"
    REHABILITATION_PLAN = "REHABILITATION_PLAN"
    OUTCOME = "OUTCOME"
    OTHER = "OTHER"


class DocumentRef(Record):
    NAMESPACE: ClassVar[str] = "consortium.referral"
    kind: DocumentKind
    reference: Code = Field(description="Document id or URL; a DICOM Study Instance UID")
    title: ShortText | None = None
    issued_at: UtcMillis | None = None


class InsuranceContinuity(Record):
    """What the insurance settlement needs to count one admission's deductible once across
    a referral (同一次住院转诊连续计算起付线): the first stay it continues."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    insurance_type: Code | None = Field(default=None, description="e.g. 职工医保 / 居民医保 code")
    insured_region: Code | None = Field(default=None, description="参保地 area code")
    insured_number: Code | None = Field(default=None, description="医保号")
    first_admission_ref: Code | None = Field(
        default=None, description="The referring member's admission (住院号) it continues")
    first_settlement_ref: Code | None = Field(
        default=None, description="Settlement number (结算单号) of that stay")
    deductible_paid: float | None = Field(
        default=None, description="起付线 already paid in that stay, yuan")


class ReferralRequest(Event):
    """A member asks another to take a patient. The sender is the referrer."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    patient: Patient
    referral_ref: Code = Field(description="The referrer's own number for this referral")
    direction: ReferralDirection
    to_member: Code = Field(description="The member asked to take the patient")
    to_service: Code | None = Field(default=None, description="Department code there")
    to_service_name: ShortText | None = None
    priority: OrderPriority = OrderPriority.ROUTINE
    kind: ReferralKind
    reason: Note
    icd10: Code = Field(description="ICD-10 code of the diagnosis referred for")
    diagnosis_name: ShortText | None = None
    requested_by: date | None = Field(default=None, description="Wanted seen by this date")
    documents: list[DocumentRef] = Field(default_factory=list)
    returns_referral: Code | None = Field(
        default=None, description="A downward referral: the upward referral id it returns")
    onward_of: Code | None = Field(
        default=None, description="Set by the hub: the referral id this one carries onward")
    referring_doctor: PersonName | None = None
    referring_phone: Code | None = None
    insurance: InsuranceContinuity | None = None
    requested_at: UtcMillis


class ReferralAction(StrEnum):
    """One step on a referral. EXPIRED is the hub's own; every other is a party's."""

    RECEIVED = "RECEIVED"
    INFO_REQUESTED = "INFO_REQUESTED"
    INFO_PROVIDED = "INFO_PROVIDED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    REFERRED_ONWARD = "REFERRED_ONWARD"
    BOOKED = "BOOKED"
    REBOOKED = "REBOOKED"
    ARRIVED = "ARRIVED"
    NO_SHOW = "NO_SHOW"
    INTERIM_REPORT = "INTERIM_REPORT"
    COMPLETED = "COMPLETED"
    FOLLOWED_UP = "FOLLOWED_UP"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class Booking(Record):
    """A place booked for the referred patient, from the receiver's reserved pool."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    pool_id: Code
    slot_id: Code | None = Field(default=None, description="Required where the pool lists slots")
    starts_at: UtcMillis | None = None
    location: ShortText | None = None


class ReferralUpdate(Event):
    """A step a party takes on a referral (the sender is that party)."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    referral_id: Code = Field(description="'<referring member>:<referral_ref>'")
    to_member: Code = Field(description="The referral's receiver, where its state lives")
    action: ReferralAction
    booking: Booking | None = None
    reason_code: Code | None = Field(default=None, description="Coded reason (rejection, ...)")
    note: Note | None = None
    onward_to: Code | None = Field(default=None, description="REFERRED_ONWARD: the member")
    encounter_ref: Code | None = Field(
        default=None, description="ARRIVED: the receiver's encounter; FOLLOWED_UP: the visit")
    documents: list[DocumentRef] = Field(default_factory=list)
    downward_plan: Note | None = Field(
        default=None, description="COMPLETED upward referral: the plan back down (康复计划)")


class ResourceKind(StrEnum):
    SPECIALIST_SLOT = "SPECIALIST_SLOT"  # 专家号源
    BED = "BED"
    EXAMINATION = "EXAMINATION"


class ReservedSlot(Record):
    NAMESPACE: ClassVar[str] = "consortium.referral"
    slot_id: Code
    starts_at: UtcMillis


class CapacityPool(Event):
    """What a member reserves for referred patients in one period and resource. A newer
    publication of the same pool_id replaces the counts; bookings already made stay."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    pool_id: Code
    resource: ResourceKind
    resource_code: Code = Field(description="Department, ward or modality code")
    resource_name: ShortText
    period_start: UtcMillis
    period_end: UtcMillis
    total: int = Field(ge=0, description="Every slot, bed or exam of the period")
    reserved: int = Field(ge=0, description="How many of them are kept for referrals")
    slots: list[ReservedSlot] = Field(
        default_factory=list, description="The reserved slots by id, where bookable one by one")


class ReferralStatus(Event):
    """What the hub tells both parties (and only them) after each step or missed deadline."""

    NAMESPACE: ClassVar[str] = "consortium.referral"
    status_id: str
    referral_id: str
    referrer_id: str
    receiver_id: str
    direction: ReferralDirection
    kind: ReferralKind
    priority: OrderPriority
    action: ReferralAction | None = Field(description="The step; null for an escalation")
    status: TaskStatus
    business_status: str
    by_member: str = Field(description="Who took the step ('hub' for the hub's own)")
    at: UtcMillis
    due_at: UtcMillis | None = Field(default=None, description="When the state falls due")
    escalation_level: int = Field(default=0, description="1: both parties; 2: the office")
    patient: Patient
    booking: Booking | None = None
    reason_code: str | None = None
    reason: str | None = Field(default=None, description="In the reader's language")
    note: str | None = None
    onward_to: str | None = None
    onward_referral_id: str | None = None
    returns_referral: str | None = None
    encounter_ref: str | None = None
    documents: list[DocumentRef] = Field(default_factory=list)
    downward_plan: str | None = None
