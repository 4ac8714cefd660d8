"""Stock events and shortage registrations a member publishes."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.models.base import Code, Event, Note, ShortText, UtcMillis


class StockEventKind(StrEnum):
    RECEIPT = "RECEIPT"
    DISPENSE = "DISPENSE"
    ADJUSTMENT = "ADJUSTMENT"
    COUNT = "COUNT"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"


class StockEvent(Event):
    NAMESPACE: ClassVar[str] = "consortium.pharmacy"
    kind: StockEventKind
    drug_code: Code = Field(description="National insurance drug code, 23 characters")
    local_drug_code: Code | None = None
    quantity: float = Field(
        description="Units moved; for COUNT the counted balance; for ADJUSTMENT signed"
    )
    reason: Note | None = Field(default=None, description="Required for ADJUSTMENT")
    trace_codes: list[Code] = Field(
        default_factory=list, max_length=10_000,
        description="20-digit traceability codes of the packs dispensed",
    )
    counterpart_member: Code | None = Field(default=None, description="Other side of a transfer")
    transfer_ref: Code | None = None
    batch_no: Code | None = None
    expiry_date: date | None = None
    at: UtcMillis


class ShortageRegistration(Event):
    """A shortage registered by hand (缺药登记)."""

    NAMESPACE: ClassVar[str] = "consortium.pharmacy"
    drug_code: Code
    specification: ShortText | None = None
    dosage_form: ShortText | None = None
    quantity_short: float
    reason: Note
    expected_recovery: date | None = None
