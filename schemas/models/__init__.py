"""Pydantic models of every event; the Avro schemas in `schemas/avro` are generated from them."""

from schemas.models.base import Envelope, Event, Record, deterministic_id
from schemas.models.clinical import (
    Diagnosis,
    ImagingReport,
    LabResult,
    RecognitionDecision,
    TestOrder,
)
from schemas.models.common import Address, Patient
from schemas.models.completion import CardCompletion
from schemas.models.outputs import (
    DeadLetter,
    DiseaseReportCard,
    Feedback,
    LateReport,
    OperatorAlert,
    RecognitionAdvice,
    ReplenishmentOrder,
    Shortage,
    StockLevel,
)
from schemas.models.pharmacy import ShortageRegistration, StockEvent
from schemas.models.referral import (
    CapacityPool,
    ReferralRequest,
    ReferralStatus,
    ReferralUpdate,
)
from schemas.models.remote_read import (
    CriticalValueStatus,
    CriticalValueUpdate,
    ReadRequest,
    ReadStatus,
    ReadUpdate,
)

INGRESS_EVENTS: tuple[type[Event], ...] = (
    LabResult,
    ImagingReport,
    Diagnosis,
    TestOrder,
    RecognitionDecision,
    StockEvent,
    ShortageRegistration,
    ReferralRequest,
    ReferralUpdate,
    CapacityPool,
    ReadRequest,
    ReadUpdate,
    CriticalValueUpdate,
)
HUB_EVENTS: tuple[type[Event], ...] = (
    RecognitionAdvice,
    DiseaseReportCard,
    LateReport,
    Feedback,
    Shortage,
    ReplenishmentOrder,
    StockLevel,
    DeadLetter,
    OperatorAlert,
    CardCompletion,
    ReferralStatus,
    ReadStatus,
    CriticalValueStatus,
)
ALL_EVENTS: tuple[type[Event], ...] = INGRESS_EVENTS + HUB_EVENTS
EVENTS_BY_NAME: dict[str, type[Event]] = {e.avro_name(): e for e in ALL_EVENTS}

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_NAME",
    "HUB_EVENTS",
    "INGRESS_EVENTS",
    "Address",
    "CapacityPool",
    "CardCompletion",
    "CriticalValueStatus",
    "CriticalValueUpdate",
    "DeadLetter",
    "Diagnosis",
    "DiseaseReportCard",
    "Envelope",
    "Event",
    "Feedback",
    "ImagingReport",
    "LabResult",
    "LateReport",
    "OperatorAlert",
    "Patient",
    "ReadRequest",
    "ReadStatus",
    "ReadUpdate",
    "RecognitionAdvice",
    "RecognitionDecision",
    "Record",
    "ReferralRequest",
    "ReferralStatus",
    "ReferralUpdate",
    "ReplenishmentOrder",
    "Shortage",
    "ShortageRegistration",
    "StockEvent",
    "StockLevel",
    "TestOrder",
    "deterministic_id",
]
