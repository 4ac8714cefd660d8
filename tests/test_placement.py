"""Where an event belongs: the SDK and the hub agree on its home partition, the home
partition of a patient never splits one pseudonym's state, and a worker refuses topics
whose partitions would put one partition number on two workers."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from hub.brokers import BaseBroker
from hub.ops.topic_admin import partition_mismatches
from hub.rules.privacy import patient_key
from hub.runtime.placement import handled_in_place, home_partition
from hub.settings import HubSettings
from schemas.models.common import IdType
from schemas.partitioning import (
    identity_ordering_key,
    ordering_key,
    partition_of_key,
    patient_ordering_key,
)
from schemas.reference.registry import load_registry
from schemas.topics import INTERNAL_PARTITIONS, catalogue, feedback_topic, ingress_topic
from tests.conftest import wait_for
from tests.factories import lab_result, patient, stock_event
from tests.factories import test_order as make_order

SECRET = b"placement-test-secret"
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
    assert patient_key(plain, SECRET) == patient_key(spaced, SECRET)
    assert patient_ordering_key(plain) == patient_ordering_key(spaced)
    assert patient_ordering_key(plain) == identity_ordering_key(IdType.RESIDENT_ID,
                                                                "11010119900307451x")
    result, order = lab_result("lead"), make_order("chc-east")
    assert result.patient.id_number == order.patient.id_number
    assert home_partition(result) == home_partition(order)


def test_without_an_id_the_key_is_the_name_coarser_than_the_pseudonym() -> None:
    nameless_id: dict[str, Any] = {"id_type": None, "id_number": None}
    first = patient(**nameless_id, name=" 王芳")
    second = patient(**nameless_id, name="王芳 ", birth_date=None)
    assert patient_ordering_key(first) == patient_ordering_key(second)
    assert patient_key(first, SECRET) != patient_key(second, SECRET)  # the key is coarser


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
