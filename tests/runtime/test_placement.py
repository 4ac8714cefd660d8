"""Where an event belongs: the SDK and the hub agree on its home partition, the home
partition of a patient never splits one pseudonym's state, and a worker refuses topics
whose partitions would put one partition number on two workers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from kafka import KafkaConsumer, TopicPartition

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from hub.ops.topic_admin import partition_mismatches
from hub.rules.privacy import patient_key, pseudonym
from hub.runtime.placement import handled_in_place
from hub.settings import HubSettings
from schemas.codec import AvroCodec
from schemas.models import RecognitionAdvice
from schemas.models.common import IdType
from schemas.models.outputs import Verdict
from schemas.partitioning import (
    home_partition,
    identity_ordering_key,
    ordering_key,
    partition_of_key,
    patient_ordering_key,
)
from schemas.reference.registry import load_registry
from schemas.topics import (
    INTERNAL_PARTITIONS,
    ORDERS,
    RESULTS,
    catalogue,
    feedback_topic,
    ingress_topic,
)
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.factories import lab_result, misplaced_key, patient, stock_event
from tests.factories import test_order as make_order

SECRET = b"placement-test-secret"
CODEC = AvroCodec()
DRUG = "XJ01CAA040E001010101445"


def test_the_home_partition_is_where_kafkas_default_partitioner_puts_the_key() -> None:
    """schemas.partitioning uses kafka-python's murmur2 (the SDK's producer); aiokafka's,
    a separate port of Java's, puts every key on the same partition."""
    rng = random.Random(7)
    for _ in range(500):
        key = rng.randbytes(rng.randrange(1, 40))
        assert partition_of_key(key) == (aiokafka_murmur2(key) & 0x7FFFFFFF) % INTERNAL_PARTITIONS


def test_one_pseudonym_is_one_home_partition() -> None:
    """Written differently by two members, the same ID is one pseudonym and one key."""
    plain = patient("11010119900307451X")
    spaced = patient(" 11010119900307451x ")
    assert patient_key(plain, SECRET, issuer="lead") == \
        patient_key(spaced, SECRET, issuer="chc-east")
    assert patient_ordering_key(plain, issuer="lead") == \
        patient_ordering_key(spaced, issuer="chc-east")
    assert patient_ordering_key(plain, issuer="lead") == identity_ordering_key(
        IdType.RESIDENT_ID, "11010119900307451x", issuer="chc-west")
    result, order = lab_result("lead"), make_order("chc-east")
    assert result.patient.id_number == order.patient.id_number
    assert home_partition(result) == home_partition(order)


def test_a_record_numbers_key_is_its_issuing_members() -> None:
    """Record number 555-44-4444 at the lead and at chc-east: two people, two ordering keys
    (as two pseudonyms), each the key the recognition API finds for its own member."""
    mrn = patient("555-44-4444", id_type=IdType.MEDICAL_RECORD_NUMBER)
    result = lab_result("lead", patient=mrn)
    order = make_order("chc-east", patient=mrn)
    assert ordering_key(result) != ordering_key(order)
    assert ordering_key(result) == identity_ordering_key(
        IdType.MEDICAL_RECORD_NUMBER, "555-44-4444", issuer="lead")
    assert ordering_key(order) == identity_ordering_key(
        IdType.MEDICAL_RECORD_NUMBER, "555-44-4444", issuer="chc-east")
    assert home_partition(make_order("lead", patient=mrn)) == home_partition(result)


def test_without_an_id_the_key_is_the_name_coarser_than_the_pseudonym() -> None:
    nameless_id: dict[str, Any] = {"id_type": None, "id_number": None}
    first = patient(**nameless_id, name=" 王芳")
    second = patient(**nameless_id, name="王芳 ", birth_date=None)
    assert patient_ordering_key(first, issuer="lead") == \
        patient_ordering_key(second, issuer="chc-east")
    # the key is coarser
    assert patient_key(first, SECRET, issuer="lead") != \
        patient_key(second, SECRET, issuer="lead")


def test_stock_events_go_home_by_drug_code() -> None:
    event = stock_event("chc-east", "RECEIPT", DRUG, 10)
    assert ordering_key(event) == DRUG.encode()
    assert home_partition(event) == partition_of_key(DRUG.encode())


def test_ingress_topics_have_the_internal_topics_partitions_by_default() -> None:
    assert HubSettings.model_fields["member_partitions"].default == INTERNAL_PARTITIONS
    assert handled_in_place()
    ingress = {spec.name: spec for spec in catalogue(["lead"])}[ingress_topic("lead")]
    assert ingress.partitions == INTERNAL_PARTITIONS


@pytest.mark.integration
def test_a_worker_refuses_topics_partitioned_otherwise_than_its_settings(
    broker: BaseBroker, tmp_path: Path,
) -> None:
    """Member topics of 8 partitions, a worker told they have 2: it stops before joining,
    saying which topics and what to do (else two workers could write one patient's state)."""
    members = load_registry().ids
    expected = sorted((name, INTERNAL_PARTITIONS, 2) for m in members
                      for name in (ingress_topic(m), feedback_topic(m)))
    # topics created a moment ago may take a moment to be in every metadata answer
    assert wait_for(lambda: partition_mismatches(broker.bootstrap, catalogue(members, 2))
                    == expected, timeout=30)
    assert partition_mismatches(broker.bootstrap, catalogue(members)) == []

    env = {**os.environ, **broker.worker_env(), "HUB_BROKER": broker.bootstrap,
           "HUB_DATA_DIR": str(tmp_path), "HUB_MEMBER_PARTITIONS": "2"}
    done = subprocess.run([sys.executable, "-m", "hub.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert f"{ingress_topic(members[0])}: {INTERNAL_PARTITIONS} != 2" in done.stderr
    assert "HUB_MEMBER_PARTITIONS=2" in done.stderr


def records_by_partition(bootstrap: str, topic: str) -> list[tuple[int, bytes | None]]:
    """(partition, key) of every record now on a topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found: list[tuple[int, bytes | None]] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=500).items():
                found.extend((tp.partition, r.key) for r in records)
        return found
    finally:
        consumer.close()


@pytest.mark.integration
def test_events_in_place_and_forwarded_meet_on_the_patients_home_partition(
    broker: BaseBroker, tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """Two patients, each with a result and an order from two members: one patient's result
    comes keyed by the SDK (handled in place) and its order keyed otherwise (forwarded to
    hub.orders), the other the other way round. With RocksDB, which looks only in the
    partition of the message being handled, each order finds its result only if both paths
    put the patient on one partition: its home, where its index entry is written."""
    app_id = f"hub-test-{tmp_path.name}"
    start_worker(HUB_APP_ID=app_id, HUB_STORE="rocksdb://")
    lead, west = publisher("lead"), publisher("chc-west")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    first, second = patient("110101199003074514"), patient("510726197505052345")
    assert home_partition(lab_result("lead", patient=first)) != \
        home_partition(lab_result("lead", patient=second))
    in_place_result = lab_result("lead", patient=first, reported_at=yesterday)
    forwarded_result = lab_result("lead", patient=second, reported_at=yesterday)
    lead.publish(in_place_result)
    lead.send_bytes(CODEC.encode(forwarded_result), key=misplaced_key(forwarded_result))
    assert wait_for(lambda: len(records_by_partition(
        broker.bootstrap, f"{app_id}-recognition-result-index-changelog")) >= 2, timeout=60)

    forwarded_order = make_order("chc-west", patient=first, order_id="W-FIRST")
    in_place_order = make_order("chc-west", patient=second, order_id="W-SECOND")
    west.send_bytes(CODEC.encode(forwarded_order), key=misplaced_key(forwarded_order))
    west.publish(in_place_order)

    def advice(events: list[Decoded]) -> dict[str, RecognitionAdvice]:
        return {e.order_id: e for _, e in events if isinstance(e, RecognitionAdvice)}

    answered = advice(read_topic(feedback_topic("chc-west"),
                                 until=lambda ev: len(advice(ev)) >= 2, timeout=60))
    for order_id, result in (("W-FIRST", in_place_result), ("W-SECOND", forwarded_result)):
        assert answered[order_id].verdict is Verdict.RECOGNISABLE, answered[order_id]
        assert [r.result_event_id for r in answered[order_id].results] == [
            result.envelope.event_id]

    secret = HubSettings().pseudonym_secret.get_secret_value().encode()
    homes = {(home_partition(lab_result("lead", patient=p)),
              json.dumps(pseudonym(secret, IdType.RESIDENT_ID, p.id_number or "",
                                   issuer="lead")).encode())
             for p in (first, second)}
    written = records_by_partition(broker.bootstrap,
                                   f"{app_id}-recognition-result-index-changelog")
    assert set(written) == homes and len(homes) == 2
    forwarded = {(partition, key) for partition, key in
                 records_by_partition(broker.bootstrap, ORDERS.name)
                 + records_by_partition(broker.bootstrap, RESULTS.name)}
    assert {p for p, _ in forwarded} == {home_partition(forwarded_order),
                                        home_partition(forwarded_result)}
