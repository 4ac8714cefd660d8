"""The privacy boundary, checked on the bytes: a demo morning (connectors/demo/script.py,
what `hub dev` publishes) plus a few more patients run through a worker; then every topic
on the broker is read raw, keys and values. A patient's ID number, name, phone or address
may appear in clear only on in.<m> and out.<m> of a member m that itself sent that
patient's data, and on cdc.disease-reports. The worker's log never holds a secret (nor a
patient's identity), and the unauthenticated reporting pages hold no identity either."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from kafka import KafkaConsumer, TopicPartition

from connectors.demo.script import LI, ZHANG, Step, morning
from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from hub.ops.topic_admin import list_topics
from schemas.models import Diagnosis, LabResult, Patient, TestOrder
from schemas.models.clinical import CaseClassification
from schemas.models.common import Address, Belonging, IdType, Occupation, Sex
from schemas.reference.registry import load_registry
from schemas.topics import CDC_REPORTS, feedback_topic, ingress_topic
from tests.conftest import WorkerProcess

pytestmark = pytest.mark.integration
SECRETS = {
    "HUB_PSEUDONYM_SECRET": "privacy-scan-pseudonym-secret-5e1f0c",
    "HUB_SEALING_KEY": Fernet.generate_key().decode(),
    "HUB_API_SECRET": "privacy-scan-api-secret-a83d27",
}
ENCODINGS = ("utf-8", "gb18030")
SHORTEST_NEEDLE = 4  # bytes: shorter ones could turn up by chance inside binary fields


def person(id_number: str | None, name: str, phone: str | None, address: Address | None
           ) -> Patient:
    return Patient(id_type=IdType.RESIDENT_ID if id_number else None, id_number=id_number,
                   name=name, sex=Sex.FEMALE, birth_date=date(1991, 4, 9), phone=phone,
                   belonging=Belonging.THIS_COUNTY, occupation=Occupation.TEACHER,
                   address=address)


SUN = person("510726199104091129", "孙丽华", "13712345678", Address(
    province="四川省", city="绵阳市", county="安县", township="桃园镇", village="杏花村",
    house_number="桃园路88号"))
ZHOU = person("51072619910409114X", "周建国", None, None)  # a card will miss the address


def more_patients(now: datetime) -> list[Step]:
    """Beyond the demo: a result, an order and a notifiable diagnosis with a full identity,
    and one whose card cannot be complete (no address, no phone)."""
    def dx(member: str, who: Patient, icd: str, name: str) -> Diagnosis:
        return Diagnosis(envelope=Diagnosis.new_envelope(member, occurred_at=now), patient=who,
                         icd10=icd, diagnosis_name=name, diagnosed_at=now,
                         case_classification=CaseClassification.CONFIRMED,
                         onset_date=(now - timedelta(days=1)).date(), doctor="接诊医生")

    return [
        Step("chc-west", "glucose for Sun", LabResult(
            envelope=LabResult.new_envelope("chc-west", occurred_at=now), patient=SUN,
            item_code="GLU", local_code="GLU", value_numeric=5.1, unit="mmol/L",
            reported_at=now - timedelta(hours=2))),
        Step("mch", "orders glucose for Sun", TestOrder(
            envelope=TestOrder.new_envelope("mch", occurred_at=now), patient=SUN,
            order_id="M-77", item_code="GLU", local_code="GLU", ordered_at=now)),
        Step("mch", "measles for Sun", dx("mch", SUN, "B05.900", "麻疹")),
        Step("chc-west", "cholera for Zhou, no address", dx("chc-west", ZHOU, "A00.000", "霍乱")),
    ]


def personal_values(who: Patient) -> list[str]:
    address = who.address
    parts = [address.township, address.village, address.house_number] if address else []
    return [v for v in (who.id_number, who.name, who.phone, *parts) if v]


def needles(steps: Iterable[Step]) -> dict[bytes, tuple[str, set[str]]]:
    """Each personal value in both encodings -> (encoding, the members that sent it).
    Values that are also reference data (a village named in a member's name) are not
    personal there."""
    reference = [m.name for m in load_registry().members] + [load_registry().consortium.name]
    senders: dict[str, set[str]] = {}
    for step in steps:
        event = step.event
        who = getattr(event, "patient", None)
        if step.raw is not None and b"MSH" not in step.raw:  # the forged event names Zhang
            who = ZHANG
        for value in personal_values(who) if who is not None else ():
            senders.setdefault(value, set()).add(step.member)
    found: dict[bytes, tuple[str, set[str]]] = {}
    for value, members in senders.items():
        if any(value in name for name in reference):
            continue
        for encoding in ENCODINGS:
            encoded = value.encode(encoding)
            if len(encoded) >= SHORTEST_NEEDLE:
                found.setdefault(encoded, (encoding, set()))[1].update(members)
    return found


def snapshot(bootstrap: str, topics: list[str]) -> dict[str, bytes]:
    """Each topic's raw keys and values now, joined, all read by one consumer (a consumer
    per topic made each look at the broker take seconds)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found: dict[str, list[bytes]] = {topic: [] for topic in topics}
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=500).items():
                found[tp.topic] += [b"\x00".join((r.key or b"", r.value or b""))
                                    for r in records]
        return {topic: b"\x00".join(chunks) for topic, chunks in found.items()}
    finally:
        consumer.close()


def settle(bootstrap: str, quiet_for: float = 4.0, timeout: float = 90.0) -> dict[str, bytes]:
    """Every topic's raw keys and values once nothing has been added for `quiet_for` s."""
    deadline = time.monotonic() + timeout
    last: dict[str, bytes] = {}
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = snapshot(bootstrap, list_topics(bootstrap))
        if {t: len(v) for t, v in now.items()} != {t: len(v) for t, v in last.items()}:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_for:
            return now
        time.sleep(1.0)
    raise TimeoutError("the topics never settled")


def test_identities_stay_inside_the_boundary(
    broker: BaseBroker, start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
) -> None:
    worker = start_worker(**SECRETS)
    now = datetime.now(UTC)
    steps = [*morning(now), *more_patients(now)]
    for step in steps:
        if step.raw is not None:
            publisher(step.member).send_bytes(step.raw)
        else:
            assert step.event is not None
            publisher(step.member).publish(step.event)
    topics = settle(broker.bootstrap)
    assert CDC_REPORTS.name in topics and any("changelog" in t for t in topics)

    leaks = []
    for needle, (encoding, members) in needles(steps).items():
        allowed = {CDC_REPORTS.name} | {ingress_topic(m) for m in members} \
            | {feedback_topic(m) for m in members}
        seen_in = {topic for topic, data in topics.items() if needle in data}
        if encoding == "utf-8":  # events are Avro, whose strings are UTF-8
            assert seen_in & {ingress_topic(m) for m in members}, needle  # the scan finds it
        leaks += [(needle.decode(encoding), encoding, t) for t in sorted(seen_in - allowed)]
    assert leaks == []
    for value in (SUN.name, SUN.id_number, LI.id_number):  # the CDC gets identities in clear
        assert str(value).encode() in topics[CDC_REPORTS.name], value

    for secret in SECRETS.values():
        assert not [t for t, data in topics.items() if secret.encode() in data], secret
    log = worker.log_path.read_bytes()
    assert [name for name, secret in SECRETS.items() if secret.encode() in log] == []
    assert [n for n in needles(steps) if n in log] == []
    for page in ("/reporting/open-cases", "/reporting/timeliness"):
        status, body = worker.get(page)
        assert status == 200 and [n for n in needles(steps) if n in body] == [], page

