"""Events the hub emits: advice, report cards, feedback, shortages, orders, alerts."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Event, Record, UtcMillis
from schemas.models.clinical import AbnormalFlag, CaseClassification, Chronicity, RetestReason
from schemas.models.common import AgeUnit, Belonging, IdType, Occupation, Sex
from schemas.models.pharmacy import StockEventKind


class Verdict(StrEnum):
    RECOGNISABLE = "RECOGNISABLE"
    NONE_VALID = "NONE_VALID"
    RETEST_ALLOWED = "RETEST_ALLOWED"


class RecognisableResult(Record):
    NAMESPACE: ClassVar[str] = "consortium.recognition"
    result_event_id: str
    member_id: str
    member_name: str
    item_code: str
    item_name: str
    value_numeric: float | None = None
    value_text: str | None = None
    unit: str | None = None
    reference_range: str | None = None
    abnormal_flag: AbnormalFlag | None = None
    conclusion: str | None = None
    report_ref: str | None = None
    reported_at: UtcMillis
    valid_until: UtcMillis
    mark: str = Field(description="Recognition mark, e.g. HR")


class RecognitionAdvice(Event):
    NAMESPACE: ClassVar[str] = "consortium.recognition"
    order_id: str
    order_event_id: str
    item_code: str
    item_name: str
    verdict: Verdict
    retest_reason: RetestReason | None = None
    message: str
    results: list[RecognisableResult] = Field(default_factory=list)
    withdrawn_result_id: str | None = Field(
        default=None, description="Set when this advice replaces an earlier one on the same "
        "order because the result it cited (this event id) was retracted by its producer",
    )


class CardKind(StrEnum):
    """DELETION (删除): the card was entered in error and is withdrawn at the CDC."""

    INITIAL = "INITIAL"
    REVISION = "REVISION"
    DELETION = "DELETION"


class DiseaseClass(StrEnum):
    A = "A"
    B_AS_A = "B_AS_A"
    B = "B"
    C = "C"
    FOODBORNE = "FOODBORNE"


class ReportAddress(Record):
    NAMESPACE: ClassVar[str] = "consortium.reporting"
    province: str
    city: str
    county: str
    township: str | None = None
    village: str | None = None
    house_number: str | None = None
    country: str | None = None


class DiseaseReportCard(Event):
    """传染病报告卡: the card the CDC receives (the only topic with identities in clear)."""

    NAMESPACE: ClassVar[str] = "consortium.reporting"
    card_id: str
    card_number: str
    kind: CardKind
    revision_of: str | None = None
    revision_reason: str | None = None
    revised_disease_name: str | None = None
    patient_name: str
    parent_name: str | None = None
    id_type: IdType | None = None
    id_number: str | None = None
    sex: Sex
    birth_date: date | None = None
    age_value: int | None = None
    age_unit: AgeUnit | None = None
    employer: str | None = None
    phone: str | None = None
    belonging: Belonging
    address: ReportAddress
    occupation: Occupation
    case_classification: CaseClassification
    chronicity: Chronicity | None = None
    onset_date: date
    diagnosed_at: UtcMillis
    death_date: date | None = None
    disease_code: str
    disease_name: str
    subtype: str | None = None
    disease_class: DiseaseClass
    icd10: str
    reporting_unit_id: str
    reporting_unit_name: str
    reporting_unit_phone: str | None = None
    reporting_doctor: str | None = None
    filled_at: UtcMillis
    deadline: UtcMillis
    late_by_seconds: int | None = None
    remarks: str | None = None


class LateReport(Event):
    """A case past its legal limit and still without a complete card."""

    NAMESPACE: ClassVar[str] = "consortium.reporting"
    case_id: str
    reporting_unit_id: str
    disease_code: str
    disease_name: str
    disease_class: DiseaseClass
    diagnosed_at: UtcMillis
    deadline: UtcMillis
    late_by_seconds: int
    missing_fields: list[str] = Field(default_factory=list)
    lacks: list[str] = Field(
        default_factory=list, description="The missing fields as people read them (中文)")


class FeedbackStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    REPORTED = "REPORTED"
    REVISED = "REVISED"
    DUPLICATE = "DUPLICATE"
    INCOMPLETE = "INCOMPLETE"
    NOT_REPORTABLE = "NOT_REPORTABLE"
    DEADLINE_WARNING = "DEADLINE_WARNING"
    LATE = "LATE"
    TRANSFER_REQUESTED = "TRANSFER_REQUESTED"
    TRACE_DUPLICATE = "TRACE_DUPLICATE"
    WITHDRAWN = "WITHDRAWN"


class Feedback(Event):
    """What the hub tells a member about something it sent."""

    NAMESPACE: ClassVar[str] = "consortium.feedback"
    in_reply_to: str | None = Field(description="Event id answered; null if it was unreadable")
    status: FeedbackStatus
    reason_code: str | None = None
    reason: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    missing_fields: list[str] = Field(default_factory=list)
    card_id: str | None = None
    details: dict[str, str] = Field(default_factory=dict)


class ShortageStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class ShortageSource(StrEnum):
    THRESHOLD = "THRESHOLD"
    REGISTERED = "REGISTERED"


class Shortage(Event):
    NAMESPACE: ClassVar[str] = "consortium.pharmacy"
    shortage_id: str
    status: ShortageStatus
    source: ShortageSource
    member_id: str
    drug_code: str
    drug_name: str
    specification: str | None = None
    dosage_form: str | None = None
    on_hand: float
    avg_daily_use: float
    days_of_supply: float | None = None
    reorder_point: float
    suggested_quantity: float
    transfer_from: str | None = None
    transfer_quantity: float = 0.0
    order_quantity: float = 0.0
    reason: str | None = None
    expected_recovery: date | None = None


class ReplenishmentOrder(Event):
    NAMESPACE: ClassVar[str] = "consortium.pharmacy"
    order_id: str
    member_id: str
    drug_code: str
    drug_name: str
    quantity: float
    unit: str
    supply_mode: str
    cycle_start: date
    shortage_ids: list[str] = Field(default_factory=list)


class TransferState(StrEnum):
    """调拨状态: requested (the donor was asked), shipped (the donor's transfer out),
    received (the receiving member's receipt closes it)."""

    REQUESTED = "REQUESTED"
    SHIPPED = "SHIPPED"
    RECEIVED = "RECEIVED"


class StockLevel(Event):
    """库存水平: a member's stock of a drug right after one stock movement the hub applied,
    in the drug's unit. A movement that ships or receives a transfer names it."""

    NAMESPACE: ClassVar[str] = "consortium.pharmacy"
    stock_event_id: str
    member_id: str
    drug_code: str
    drug_name: str
    specification: str | None = None
    unit: str
    movement: StockEventKind
    quantity: float
    moved_at: UtcMillis
    on_hand: float
    avg_daily_use: float
    days_of_supply: float | None = None
    reorder_point: float
    transfer_id: str | None = None
    transfer_state: TransferState | None = None
    counterpart_member: str | None = None


class DeadLetter(Event):
    """A rejected input, for operators. The original bytes are sealed (encrypted)."""

    NAMESPACE: ClassVar[str] = "consortium.ops"
    VERSION: ClassVar[int] = 2  # 2: replay_of
    source_topic: str
    source_partition: int
    source_offset: int
    topic_member: str | None = None
    claimed_member: str | None = None
    original_event_id: str | None = None
    schema_name: str | None = None
    reason_code: str
    reason: str
    agent: str
    original_sealed: bytes
    original_size: int
    replay_of: str | None = Field(
        default=None, description="The letter whose replay (`hub dlq replay`) was refused "
        "again: that one is replayed after the fix, never this one",
    )


class OperatorAlert(Event):
    NAMESPACE: ClassVar[str] = "consortium.ops"
    alert_id: str
    kind: str
    severity: str
    member_ids: list[str] = Field(default_factory=list)
    summary: str
    details: dict[str, str] = Field(default_factory=dict)
