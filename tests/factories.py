"""Factories for realistic events, shared by the tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.models import Diagnosis, Event, LabResult, Patient, StockEvent, TestOrder
from schemas.models.common import Address, Belonging, IdType, Occupation, Sex
from schemas.models.referral import (
    CapacityPool,
    ReferralRequest,
    ReferralUpdate,
    ReservedSlot,
)
from schemas.models.remote_read import CriticalValueUpdate, ReadRequest, ReadUpdate
from schemas.partitioning import home_partition, partition_of_key
from schemas.topics import INTERNAL_PARTITIONS

NOW = datetime.now(UTC)


def patient(id_number: str = "110101199003074514", **overrides: Any) -> Patient:
    fields: dict[str, Any] = {
        "id_type": IdType.RESIDENT_ID, "id_number": id_number, "name": "张三",
        "sex": Sex.MALE, "birth_date": date(1990, 3, 7), "phone": "13800000000",
        "belonging": Belonging.THIS_COUNTY, "occupation": Occupation.FARMER,
        "address": Address(province="四川省", city="绵阳市", county="安县",
                           township="河口镇", village="河西村", house_number="12号"),
    }
    fields.update(overrides)
    return Patient(**fields)


def lab_result(member: str, *, item: str = "K", value: float = 4.1,
               reported_at: datetime | None = None, **overrides: Any) -> LabResult:
    at = reported_at or NOW
    fields: dict[str, Any] = {
        "envelope": LabResult.new_envelope(member, occurred_at=at),
        "patient": patient(), "item_code": item, "local_code": f"{member}-{item}",
        "value_numeric": value, "unit": "mmol/L", "reference_range": "3.5-5.3",
        "reported_at": at,
    }
    fields.update(overrides)
    return LabResult(**fields)


def test_order(member: str, *, item: str = "K", ordered_at: datetime | None = None,
               **overrides: Any) -> TestOrder:
    at = ordered_at or NOW
    fields: dict[str, Any] = {
        "envelope": TestOrder.new_envelope(member, occurred_at=at), "patient": patient(),
        "order_id": f"ORD-{member}-{at.timestamp():.0f}", "item_code": item,
        "local_code": f"{member}-{item}", "ordered_at": at,
    }
    fields.update(overrides)
    return TestOrder(**fields)


def diagnosis(member: str, icd10: str, name: str, *, at: datetime | None = None,
              **overrides: Any) -> Diagnosis:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": Diagnosis.new_envelope(member, occurred_at=when), "patient": patient(),
        "icd10": icd10, "diagnosis_name": name, "diagnosed_at": when,
        "onset_date": (when - timedelta(days=2)).date(), "doctor": "李医生",
    }
    fields.update(overrides)
    return Diagnosis(**fields)


def stock_event(member: str, kind: str, drug_code: str, quantity: float, *,
                at: datetime | None = None, **overrides: Any) -> StockEvent:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": StockEvent.new_envelope(member, occurred_at=when), "kind": kind,
        "drug_code": drug_code, "quantity": quantity, "at": when,
    }
    fields.update(overrides)
    return StockEvent(**fields)


def misplaced_key(event: Event, partitions: int = INTERNAL_PARTITIONS) -> bytes:
    """A key that puts an event on another partition than its home: what a producer that
    does not key by the SDK's ordering key may send."""
    home = home_partition(event, partitions)
    return next(key for n in range(64)
                if partition_of_key(key := f"other-{n}".encode(), partitions) != home)


def referral_request(member: str, to_member: str, ref: str, *, direction: str = "UP",
                     at: datetime | None = None, **overrides: Any) -> ReferralRequest:
    """A referral as a member's HIS sends it: a hypertension patient to the lead's
    cardiology (the patient in clear: intake seals it)."""
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": ReferralRequest.new_envelope(member, occurred_at=when),
        "patient": patient(), "referral_ref": ref, "direction": direction,
        "to_member": to_member, "to_service": "CARD", "to_service_name": "心血管内科",
        "kind": "OUTPATIENT", "reason": "血压控制不佳，三种降压药联用仍>160/100mmHg",
        "icd10": "I10.x00", "diagnosis_name": "原发性高血压", "requested_at": when,
        "referring_doctor": "王医生",
    }
    fields.update(overrides)
    return ReferralRequest(**fields)


def referral_update(member: str, referral: str, to_member: str, action: str, *,
                    at: datetime | None = None, **overrides: Any) -> ReferralUpdate:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": ReferralUpdate.new_envelope(member, occurred_at=when),
        "referral_id": referral, "to_member": to_member, "action": action,
    }
    fields.update(overrides)
    return ReferralUpdate(**fields)


def capacity_pool(member: str, pool_id: str, *, total: int, reserved: int,
                  slots: list[tuple[str, datetime]] | None = None,
                  at: datetime | None = None, **overrides: Any) -> CapacityPool:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": CapacityPool.new_envelope(member, occurred_at=when), "pool_id": pool_id,
        "resource": "SPECIALIST_SLOT", "resource_code": "CARD",
        "resource_name": "心血管内科专家号", "period_start": when,
        "period_end": when + timedelta(days=7), "total": total, "reserved": reserved,
        "slots": [ReservedSlot(slot_id=s, starts_at=t) for s, t in slots or ()],
    }
    fields.update(overrides)
    return CapacityPool(**fields)


def read_request(member: str, accession: str, *, modality: str = "CT",
                 at: datetime | None = None, **overrides: Any) -> ReadRequest:
    """A township's head CT sent for reading (the patient in clear: intake seals it)."""
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": ReadRequest.new_envelope(member, occurred_at=when), "patient": patient(),
        "accession": accession, "modality": modality, "item_code": "CT-HEAD",
        "local_code": f"{member}-CT01", "item_name": "头颅CT平扫", "body_site": "头颅",
        "clinical_question": "头晕2天，排除脑梗死", "ordered_at": when,
        "study_uid": "1.2.840.113619.2.55.3.604688119.971.1700000000.1",
        "wado_url": f"https://pacs.{member}.example/dicom-web/studies/"
                    "1.2.840.113619.2.55.3.604688119.971.1700000000.1",
        "ordering_doctor": "王医生", "ordering_department": "内科",
    }
    fields.update(overrides)
    return ReadRequest(**fields)


def read_update(member: str, request_id: str, action: str, *, at: datetime | None = None,
                **overrides: Any) -> ReadUpdate:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": ReadUpdate.new_envelope(member, occurred_at=when),
        "request_id": request_id, "action": action,
    }
    fields.update(overrides)
    return ReadUpdate(**fields)


def critical_update(member: str, request_id: str, critical_id: str, action: str, *,
                    at: datetime | None = None, **overrides: Any) -> CriticalValueUpdate:
    when = at or NOW
    fields: dict[str, Any] = {
        "envelope": CriticalValueUpdate.new_envelope(member, occurred_at=when),
        "request_id": request_id, "critical_id": critical_id, "action": action,
    }
    fields.update(overrides)
    return CriticalValueUpdate(**fields)
