"""Access enforced by Apache Kafka itself: a broker with a SASL/SCRAM-SHA-512 client
listener over TLS (certificates from the project's deploy/tls/make-certs.sh, reached on
loopback by the name `localhost` the broker certificate carries) and the StandardAuthorizer
(nothing allowed unless an ACL says so), its users and ACLs created by running the script
`hub acls` generates (deploy/acls/acls.sh) with Kafka's own tools. Member A's credentials
writing `in.B`, reading `out.B` or using B's consumer group are refused by the broker; A's
own lanes work, and so do the hub worker's, the CDC's and the central pharmacy's; a client
that does not trust the consortium's CA is not served. A member site reaches the broker
only through its EXTERNAL listener, bound and advertised on 127.0.0.2 (Linux routes all of
127/8 to lo), which stands in for the address the member's network sees."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from kafka.structs import OffsetAndMetadata

from connectors.member.reference import TOPIC, ReferenceFollower
from connectors.member.sdk import FeedbackReader, MemberPublisher
from hub.brokers import KafkaBroker, resolve
from hub.brokers.kafka_runtime import REPO_ROOT, unavailable_reason
from hub.brokers.kafka_tools import run_script
from hub.ops.acls import password_variable, render_script, scram_users
from hub.ops.topic_admin import create_topics
from hub.settings import HubSettings
from schemas.codec import AvroCodec
from schemas.models import DiseaseReportCard, Feedback
from schemas.models.clinical import CaseClassification
from schemas.reference.published import ReferenceData
from schemas.reference.registry import load_registry
from schemas.topics import (
    CDC_REPORTS,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    REFERENCE,
    catalogue,
)
from tests.conftest import WorkerProcess
from tests.factories import diagnosis, lab_result, patient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable_reason() is not None,
                       reason=f"Apache Kafka cannot run here: {unavailable_reason()}"),
]
APP_ID = "consortium-hub-secure"
A, B = "lead", "chc-east"
CODEC = AvroCodec()


def password(user: str) -> str:
    return "pw" + "".join(ch for ch in user if ch.isalnum()) + "2026"


TLS_DIR: list[Path] = []  # where the fixture made the certificates
OUTSIDE = "127.0.0.2"  # the EXTERNAL listener's address: a member site's view of the hub


def credentials(user: str) -> dict[str, str]:
    return {"security_protocol": "SASL_SSL", "ssl_cafile": str(TLS_DIR[0] / "ca.pem"),
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": password(user)}


def make_certificates(folder: Path) -> Path:
    """The CA and broker certificate, by the deployment's own script."""
    script = REPO_ROOT / "deploy" / "tls" / "make-certs.sh"
    made = subprocess.run(["sh", str(script)], env={**os.environ, "TLS_OUT_DIR": str(folder),
                                                    "KAFKA_EXTERNAL_SANS": f"IP:{OUTSIDE}"},
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    return folder


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    settings = HubSettings()
    runtime = resolve(settings.kafka_version, settings.kafka_cache_dir)
    folder = tmp_path_factory.mktemp("secure")
    TLS_DIR[:] = [make_certificates(folder / "tls")]
    broker = KafkaBroker(runtime, folder / "kafka", secure=True, heap_mb=384,
                         tls_dir=TLS_DIR[0], external_host=OUTSIDE, short_lived=True).start()
    try:
        ids = load_registry().ids
        script = folder / "acls.sh"
        script.write_text(render_script(ids, APP_ID))  # what `hub acls` prints
        admin_config = folder / "admin.properties"
        admin_config.write_text("security.protocol=PLAINTEXT\n")
        env = {"BOOTSTRAP": broker.internal_bootstrap, "ADMIN_CONFIG": str(admin_config),
               **{password_variable(user): password(user) for user in scram_users(ids)}}
        done = run_script(runtime, script, env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        create_topics(broker.internal_bootstrap, catalogue(ids))
        yield broker
    finally:
        broker.stop()


def refusal(action: Any) -> KafkaError | None:
    try:
        action()
    except KafkaError as exc:
        return exc
    return None


def write(bootstrap: str, user: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10_000,
                             **credentials(user))
    try:
        producer.send(topic, b"probe").get(timeout=10)
    finally:
        producer.close(timeout=2)


def read(bootstrap: str, user: str, topic: str, group: str) -> None:
    """Fetch partition 0 of `topic` and commit in `group`, as a member's reader does."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             **credentials(user))
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.poll(timeout_ms=2000)
        consumer.commit({partition: OffsetAndMetadata(consumer.position(partition), "", -1)})
    finally:
        consumer.close()


def end_offsets(broker: KafkaBroker, *topics: str) -> dict[str, int]:
    """Messages on each topic, read as the admin (for failure messages)."""
    consumer = KafkaConsumer(bootstrap_servers=broker.internal_bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(t, p) for t in topics for p in range(8)
                                     if p < len(consumer.partitions_for_topic(t) or ())])
        return {t: sum(n for tp, n in ends.items() if tp.topic == t) for t in topics}
    finally:
        consumer.close()


def test_a_member_cannot_write_or_read_another_members_lanes(secure: KafkaBroker) -> None:
    user = f"member-{A}"
    into_b = refusal(lambda: write(secure.bootstrap, user, f"in.{B}"))
    assert isinstance(into_b, TopicAuthorizationFailedError), repr(into_b)
    from_b = refusal(lambda: read(secure.bootstrap, user, f"out.{B}", f"member-{A}-x"))
    assert isinstance(from_b, TopicAuthorizationFailedError), repr(from_b)
    b_group = refusal(lambda: read(secure.bootstrap, user, f"out.{A}", f"member-{B}-feedback"))
    assert isinstance(b_group, GroupAuthorizationFailedError), repr(b_group)
    cdc = refusal(lambda: read(secure.bootstrap, user, CDC_REPORTS.name, f"member-{A}-cdc"))
    assert isinstance(cdc, TopicAuthorizationFailedError), repr(cdc)
    forged = refusal(lambda: write(secure.bootstrap, user, REFERENCE.name))  # only the hub
    assert isinstance(forged, TopicAuthorizationFailedError), repr(forged)


def test_a_client_that_does_not_trust_the_ca_is_not_served(secure: KafkaBroker) -> None:
    untrusting = {**credentials(f"member-{A}"), "ssl_cafile": None}
    refused = refusal(lambda: KafkaProducer(bootstrap_servers=secure.bootstrap,
                                            max_block_ms=5_000, request_timeout_ms=5_000,
                                            bootstrap_timeout_ms=5_000, **untrusting))
    assert refused is not None, "a client without the consortium's CA was served"


def test_a_member_site_publishes_through_the_external_listener_only(
    secure: KafkaBroker,
) -> None:
    """The member's SDK is given the EXTERNAL address alone; every broker the cluster
    names to it is there too (an advertised internal name would be unreachable from a
    hospital), it writes with SCRAM over TLS, and the hub reads the event on its own
    listener inside the cluster."""
    outside = secure.external_bootstrap
    assert outside.startswith(f"{OUTSIDE}:") and outside != secure.bootstrap
    wrong = {**credentials(f"member-{A}"), "sasl_plain_password": "not-the-password"}
    refused = refusal(lambda: KafkaProducer(bootstrap_servers=outside, max_block_ms=5_000,
                                            bootstrap_timeout_ms=5_000, **wrong))
    assert refused is not None, "the external listener served a wrong password"
    publisher = MemberPublisher(outside, A, security=credentials(f"member-{A}"))
    hub_side = KafkaConsumer(bootstrap_servers=secure.bootstrap, enable_auto_commit=False,
                             **credentials("hub"))
    try:
        result = lab_result(A)
        publisher.publish(result)
        named = {(b.host, b.port) for b in publisher.producer._metadata.brokers()}
        assert named == {(OUTSIDE, secure.ports.external)}, named
        partitions = [TopicPartition(f"in.{A}", p)
                      for p in sorted(hub_side.partitions_for_topic(f"in.{A}") or ())]
        hub_side.assign(partitions)
        hub_side.seek_to_beginning()
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while result.envelope.event_id not in seen and time.monotonic() < deadline:
            for records in hub_side.poll(timeout_ms=500).values():
                seen |= {CODEC.decode(r.value).envelope.event_id for r in records}
        assert result.envelope.event_id in seen
        assert {b.host for b in hub_side._client.cluster.brokers()} == {"localhost"}
    finally:
        hub_side.close()
        publisher.close()


def test_the_cdc_and_the_pharmacy_read_only_their_own_topics(secure: KafkaBroker) -> None:
    assert refusal(lambda: read(secure.bootstrap, "cdc", CDC_REPORTS.name, "cdc-sink")) is None
    assert refusal(lambda: read(secure.bootstrap, "pharmacy", PHARMACY_SHORTAGES.name,
                                "pharmacy-view")) is None
    stolen = refusal(lambda: read(secure.bootstrap, "cdc", PHARMACY_ORDERS.name, "cdc-x"))
    assert isinstance(stolen, TopicAuthorizationFailedError), repr(stolen)
    # no Write anywhere, so not even a producer id (idempotent producers need one)
    forged = refusal(lambda: write(secure.bootstrap, "cdc", CDC_REPORTS.name))
    assert forged is not None and "AuthorizationFailed" in repr(forged), repr(forged)


def test_the_hub_and_a_members_own_lanes_work_end_to_end(
    secure: KafkaBroker, tmp_path: Path,
) -> None:
    worker = WorkerProcess(secure.bootstrap, tmp_path, {
        "HUB_APP_ID": APP_ID, "HUB_SESSION_TIMEOUT": "6",
        "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "HUB_KAFKA_SSL_CAFILE": str(TLS_DIR[0] / "ca.pem"), "HUB_KAFKA_SASL_USERNAME": "hub",
        "HUB_KAFKA_SASL_PASSWORD": password("hub")})
    worker.start(timeout=120)
    # The worker published the reference files at start; a member's connector reads them.
    follower = ReferenceFollower(ReferenceData.packaged(), secure.bootstrap,
                                 credentials(f"member-{A}"), connect_timeout=20).start()
    try:
        assert follower.wait_ready(30), worker.hub_warnings()
        assert {follower.source(kind) for kind in follower.current.files} == {TOPIC}
    finally:
        follower.stop()
    publisher = MemberPublisher(secure.bootstrap, A, security=credentials(f"member-{A}"))
    reader = FeedbackReader(secure.bootstrap, A, security=credentials(f"member-{A}"),
                            group_id=f"member-{A}-feedback-{uuid.uuid4().hex[:6]}")
    cdc = KafkaConsumer(CDC_REPORTS.name, bootstrap_servers=secure.bootstrap,
                        group_id="cdc-sink", auto_offset_reset="earliest",
                        **credentials("cdc"))
    try:
        result = lab_result(A)
        cholera = diagnosis(A, "A00.000", "霍乱", case_classification=CaseClassification.CONFIRMED,
                            patient=patient("510726197505052345", name="李娜"))
        publisher.publish_many([result, cholera])
        answered: set[str | None] = set()
        cards: list[DiseaseReportCard] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(answered) < 2 or not cards):
            answered |= {e.in_reply_to for e in reader.poll(0.5) if isinstance(e, Feedback)}
            for records in cdc.poll(timeout_ms=200).values():
                cards += [c for r in records
                          if isinstance(c := CODEC.decode(r.value), DiseaseReportCard)]
        flow = end_offsets(secure, f"in.{A}", "hub.results", "hub.diagnoses", f"out.{A}",
                           CDC_REPORTS.name, "hub.dead-letter")
        assert {result.envelope.event_id, cholera.envelope.event_id} <= answered, (
            answered, flow, worker.hub_warnings())
        assert cards and cards[0].disease_code, worker.hub_warnings()
        assert worker.running()
    finally:
        cdc.close()
        reader.close()
        publisher.close()
        worker.kill()
