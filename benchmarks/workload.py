"""Synthetic but realistic member traffic for each flow, deterministic per seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from benchmarks.referral_traffic import ReferralTraffic
from benchmarks.remote_read_traffic import ReadTraffic
from schemas.models import Diagnosis, Event, LabResult, Patient, StockEvent, TestOrder
from schemas.models.clinical import CaseClassification
from schemas.models.common import Address, Belonging, IdType, Occupation, Sex
from schemas.reference.formulary import load_formulary

MEMBERS = ("lead", "chc-east", "chc-west", "thc-river", "mch")
LAB_ITEMS = ("K", "NA", "CL", "GLU", "CRE", "UREA", "ALT", "AST", "WBC", "HB", "PLT", "TC")
NOTIFIABLE = (("B05.900", "麻疹"), ("A09.900", "感染性腹泻"), ("J10.100", "流行性感冒"))
ORDINARY = (("I10.x00", "高血压"), ("E11.900", "2型糖尿病"), ("J06.900", "上呼吸道感染"))


# The mix's share of referral requests and steps (issue 26), taken from its stock events'
# share (30% before; every other share as it was)
REFERRAL_SHARE = 0.03
# ... and of read requests, their steps and critical values (issue 27), from the same share
READ_SHARE = 0.02
ITEMS_PER_PATIENT = 4  # results the large-index benchmarks seed for each patient


def seeded_items(n: int) -> tuple[str, ...]:
    """The items patient n has results for in an index seeded by `benchmarks.index_scale`."""
    return LAB_ITEMS[n % 3:n % 3 + ITEMS_PER_PATIENT]


def _patient(rng: random.Random, patients: int) -> Patient:
    return patient_number(rng.randrange(patients))


def patient_number(n: int) -> Patient:
    """The n-th synthetic patient (the large-index benchmarks seed results for them)."""
    return Patient(
        id_type=IdType.RESIDENT_ID, id_number=f"5107261980{n:08d}", name=f"患者{n}",
        sex=Sex.FEMALE if n % 2 else Sex.MALE, birth_date=datetime(1980, 1, 1).date(),
        belonging=Belonging.THIS_COUNTY, occupation=Occupation.FARMER,
        address=Address(province="四川省", city="绵阳市", county="安县", township="河口镇",
                        village="河西村", house_number=f"{n % 300}号"),
    )


class Workload:
    """Events for one flow or the mix; `now` stamps occurred_at for latency."""

    def __init__(self, seed: int = 1, patients: int = 20_000,
                 opening_quantity: float = 100_000.0,
                 referral_share: float = REFERRAL_SHARE,
                 read_share: float = READ_SHARE) -> None:
        self.rng = random.Random(seed)
        self.patients = patients
        self.opening_quantity = opening_quantity
        self.referral_share = referral_share
        self.read_share = read_share
        self.drugs = [d.code for d in load_formulary().drugs][:20]
        self._sequence = 0
        self.referrals = ReferralTraffic(random.Random(seed + 1),
                                         lambda rng: _patient(rng, self.patients))
        self.reads = ReadTraffic(random.Random(seed + 2), lambda rng: _patient(rng, self.patients))

    def _member(self) -> str:
        return self.rng.choice(MEMBERS)

    def lab_result(self, now: datetime) -> Event:
        member, item = self._member(), self.rng.choice(LAB_ITEMS)
        return LabResult(
            envelope=LabResult.new_envelope(member, occurred_at=now),
            patient=_patient(self.rng, self.patients), item_code=item, local_code=item,
            value_numeric=round(self.rng.uniform(1, 10), 2), unit="mmol/L",
            reference_range="3.5-5.3", reported_at=now - timedelta(days=self.rng.randrange(5)),
        )

    def order(self, now: datetime) -> Event:
        member, item = self._member(), self.rng.choice(LAB_ITEMS)
        self._sequence += 1
        return TestOrder(
            envelope=TestOrder.new_envelope(member, occurred_at=now),
            patient=_patient(self.rng, self.patients), order_id=f"B-{self._sequence}",
            item_code=item, local_code=item, ordered_at=now,
        )

    def recognised_order(self, now: datetime) -> Event:
        """An order that earns advice from an index seeded by `benchmarks.index_scale`
        (results reported by "lead", so it is ordered by another member)."""
        n = self.rng.randrange(self.patients)
        self._sequence += 1
        item = self.rng.choice(seeded_items(n))
        return TestOrder(
            envelope=TestOrder.new_envelope(self.rng.choice(MEMBERS[1:]), occurred_at=now),
            patient=patient_number(n), order_id=f"B-{self._sequence}",
            item_code=item, local_code=item, ordered_at=now,
        )

    def diagnosis(self, now: datetime) -> Event:
        member = self._member()
        icd, name = self.rng.choice(NOTIFIABLE if self.rng.random() < 0.3 else ORDINARY)
        return Diagnosis(
            envelope=Diagnosis.new_envelope(member, occurred_at=now),
            patient=_patient(self.rng, self.patients), icd10=icd, diagnosis_name=name,
            case_classification=CaseClassification.CLINICAL, onset_date=now.date(),
            diagnosed_at=now, doctor="医生",
        )

    def stock(self, now: datetime) -> Event:
        member, drug = self._member(), self.rng.choice(self.drugs)
        self._sequence += 1
        if self.rng.random() < 0.1:
            kind, qty = "RECEIPT", float(self.rng.randrange(50, 200))
        else:
            kind, qty = "DISPENSE", float(self.rng.randrange(1, 3))
        trace = [f"{self._sequence:020d}"] if kind == "DISPENSE" else []
        return StockEvent(
            envelope=StockEvent.new_envelope(member, occurred_at=now), kind=kind,
            drug_code=drug, quantity=qty, at=now, trace_codes=trace,
        )

    def opening_counts(self, now: datetime) -> Iterator[Event]:
        """A physical count for every member and drug, so dispenses have stock to draw on."""
        for member in MEMBERS:
            for drug in self.drugs:
                yield StockEvent(
                    envelope=StockEvent.new_envelope(member, occurred_at=now), kind="COUNT",
                    drug_code=drug, quantity=self.opening_quantity, at=now,
                    reason="opening count",
                )

    def opening(self, now: datetime) -> Iterator[Event]:
        """What the mix needs in place first: the stock counts and the reserved pools."""
        yield from self.opening_counts(now)
        if self.referral_share:
            yield from self.referrals.pools(now)

    def mix(self, now: datetime) -> Event:
        draw = self.rng.random()
        if draw >= 1 - self.referral_share:
            return self.referrals.next(now)
        if draw >= 1 - self.referral_share - self.read_share:
            return self.reads.next(now)
        if draw < 0.45:
            return self.lab_result(now)
        if draw < 0.65:
            return self.order(now)
        if draw < 0.70:
            return self.diagnosis(now)
        return self.stock(now)

    def generator(self, flow: str) -> Callable[[datetime], Event]:
        return {
            "intake": self.lab_result, "recognition": self.order, "results": self.lab_result,
            "reporting": self.diagnosis, "pharmacy": self.stock, "mix": self.mix,
        }[flow]


def utcnow() -> datetime:
    return datetime.now(UTC)
