"""What the demo members publish: a scripted morning, then a random trickle."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schemas.codec import AvroCodec
from schemas.models import (
    Diagnosis,
    Event,
    ImagingReport,
    LabResult,
    Patient,
    StockEvent,
    TestOrder,
)
from schemas.models.clinical import CaseClassification, Modality
from schemas.models.common import Address, Belonging, IdType, Occupation, Sex
from schemas.reference.messages import Text, text

AMOXICILLIN = "XJ01CAA040E001010101445"
METFORMIN = "XA10BAE054A001010101603"


@dataclass(frozen=True)
class Step:
    member: str
    label: Text
    event: Event | None = None
    raw: bytes | None = None
    # (referral id, business status) the hub must have told the parties before this step
    after: tuple[str, str] | None = None


def person(id_number: str | None, name: str, sex: Sex, born: date, village: str,
           occupation: Occupation = Occupation.FARMER, parent: str | None = None) -> Patient:
    return Patient(
        id_type=IdType.RESIDENT_ID if id_number else None, id_number=id_number, name=name,
        sex=sex, birth_date=born, phone="13900000000", belonging=Belonging.THIS_COUNTY,
        occupation=occupation, parent_name=parent,
        address=Address(province="四川省", city="绵阳市", county="安县", township="河口镇",
                        village=village, house_number="1号"),
    )


ZHANG = person("510726198001011237", "张伟", Sex.MALE, date(1980, 1, 1), "河西村")
LI = person("510726197505052345", "李娜", Sex.FEMALE, date(1975, 5, 5), "山下村")
WANG = person("510726201503033457", "王小明", Sex.MALE, date(2015, 3, 3), "东街",
              Occupation.STUDENT, parent="王建国")
NO_ID = person(None, "赵强", Sex.MALE, date(1968, 8, 8), "河西村")


def _diagnosis(member: str, who: Patient, icd: str, name: str, at: datetime,
               cls: CaseClassification) -> Diagnosis:
    return Diagnosis(envelope=Diagnosis.new_envelope(member, occurred_at=at), patient=who,
                     icd10=icd, diagnosis_name=name, case_classification=cls,
                     onset_date=(at - timedelta(days=2)).date(), diagnosed_at=at,
                     doctor="值班医生")


def _stock(member: str, kind: str, drug: str, qty: float, at: datetime,
           trace: list[str] | None = None) -> StockEvent:
    return StockEvent(envelope=StockEvent.new_envelope(member, occurred_at=at), kind=kind,
                      drug_code=drug, quantity=qty, at=at, trace_codes=trace or [],
                      reason="盘点" if kind == "COUNT" else None)


def morning(now: datetime) -> Iterator[Step]:
    three_days_ago = now - timedelta(days=3)
    potassium = LabResult(
        envelope=LabResult.new_envelope("lead", occurred_at=three_days_ago), patient=ZHANG,
        item_code="K", local_code="LIS-K", value_numeric=4.1, unit="mmol/L",
        reference_range="3.5-5.3", reported_at=three_days_ago)
    yield Step("lead", text("demo.potassium_zhang"), potassium)
    yield Step("lead", text("demo.ct_zhang"), ImagingReport(
        envelope=ImagingReport.new_envelope("lead", occurred_at=three_days_ago), patient=ZHANG,
        item_code="CT-CHEST", local_code="PACS-CT-CHEST", modality=Modality.CT,
        report_ref="ACC-2026-0001", conclusion="双肺未见明显异常", reported_at=three_days_ago))
    yield Step("chc-east", text("demo.order_potassium_zhang"), TestOrder(
        envelope=TestOrder.new_envelope("chc-east", occurred_at=now), patient=ZHANG,
        order_id="E-1001", item_code="K", local_code="K", ordered_at=now))
    yield Step("chc-east", text("demo.order_hba1c_zhang"), TestOrder(
        envelope=TestOrder.new_envelope("chc-east", occurred_at=now), patient=ZHANG,
        order_id="E-1002", item_code="HBA1C", local_code="HBA1C", ordered_at=now))
    yield Step("lead", text("demo.cholera_li"), _diagnosis(
        "lead", LI, "A00.000", "霍乱", now, CaseClassification.CONFIRMED))
    yield Step("thc-river", text("demo.measles_suspected_wang"), _diagnosis(
        "thc-river", WANG, "B05.900", "麻疹", now, CaseClassification.SUSPECTED))
    yield Step("thc-river", text("demo.measles_confirmed_wang"), _diagnosis(
        "thc-river", WANG, "B05.900", "麻疹", now + timedelta(minutes=1),
        CaseClassification.CONFIRMED))
    yield Step("vp-hexi", text("demo.tb_zhao"), _diagnosis(
        "vp-hexi", NO_ID, "A15.000", "肺结核", now, CaseClassification.CLINICAL))
    yield Step("chc-east", text("demo.hypertension_zhang"), _diagnosis(
        "chc-east", ZHANG, "I10.x00", "高血压", now, CaseClassification.CONFIRMED))
    yield Step("lead", text("demo.count_amoxicillin_max"),
               _stock("lead", "COUNT", AMOXICILLIN, 1800, now))
    yield Step("thc-river", text("demo.count_amoxicillin_100"),
               _stock("thc-river", "COUNT", AMOXICILLIN, 100, now))
    yield Step("thc-river", text("demo.count_metformin_120"),
               _stock("thc-river", "COUNT", METFORMIN, 120, now))
    yield Step("mch", text("demo.count_amoxicillin_300"),
               _stock("mch", "COUNT", AMOXICILLIN, 300, now))
    for i, qty in enumerate((20.0, 15.0, 20.0)):
        yield Step("thc-river", text("demo.dispense_amoxicillin", quantity=float(qty)), _stock(
            "thc-river", "DISPENSE", AMOXICILLIN, qty, now + timedelta(seconds=i),
            [f"8{i:03d}1234567890123456"]))
    yield Step("thc-river", text("demo.dispense_metformin_45"),
               _stock("thc-river", "DISPENSE", METFORMIN, 45, now))
    yield Step("mch", text("demo.dispense_pack_twice"), _stock(
        "mch", "DISPENSE", AMOXICILLIN, 1, now, ["80001234567890123456"]))
    yield Step("vp-hexi", text("demo.claims_lead"),
               raw=AvroCodec().encode(LabResult(
                   envelope=LabResult.new_envelope("lead", occurred_at=now), patient=ZHANG,
                   item_code="GLU", local_code="GLU", value_numeric=5.2, reported_at=now)))
    yield Step("vp-hexi", text("demo.not_an_event"), raw=b"MSH|^~\\&|not avro")
    yield Step("lead", text("demo.resend_potassium"), potassium)


def trickle(rng: random.Random, now: datetime) -> Step:
    """A small random event, so figures keep moving after the script."""
    who = rng.choice([ZHANG, LI, WANG])
    if rng.random() < 0.5:
        member = rng.choice(["lead", "chc-east", "mch"])
        value = round(rng.uniform(3.6, 5.0), 1)
        return Step(member, text("demo.potassium_result"), LabResult(
            envelope=LabResult.new_envelope(member, occurred_at=now), patient=who,
            item_code="K", local_code="K", value_numeric=value, unit="mmol/L",
            reported_at=now))
    member = rng.choice(["chc-east", "thc-river"])
    return Step(member, text("demo.order_potassium"), TestOrder(
        envelope=TestOrder.new_envelope(member, occurred_at=now), patient=who,
        order_id=f"T-{rng.randrange(10**6)}", item_code="K", local_code="K", ordered_at=now))
