"""The broker goes away for a while and comes back (the embedded broker stopped and started
again on the same port and data folder): the connectors stay up, the MLLP listener never
ACKs what it could not write (AR while the broker is down), the FHIR endpoint answers 503,
and the member's resends succeed once the broker is back. Nothing ACKed is lost, and what
a NACKed message eventually wrote is the same events (same ids) as its resend."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import hl7
import pytest
from aiohttp import web

from connectors.member.deadletter import DeadLetterFile
from connectors.member.fhir.server import build_app
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mllp.client import MllpClient
from connectors.member.sdk import MemberPublisher
from connectors.settings import ConnectorSettings
from hub.brokers import BaseBroker
from schemas.topics import feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess, start_broker, wait_for
from tests.connectors.test_fhir_resources import observation
from tests.connectors.test_hl7_messages import lab_oru
from tests.connectors.test_mllp_integration import event_ids
from tests.factories import lab_result

pytestmark = pytest.mark.integration
MEMBER = "lead"
RESEND_FOR = 60.0  # seconds a member's system keeps resending a NACKed message


def short_timeout_publisher(bootstrap: str) -> MemberPublisher:
    """A publisher that gives up after 3 s and reconnects quickly once the broker is back."""
    return MemberPublisher(bootstrap, MEMBER, timeout=3.0, reconnect_backoff_max_ms=1000)


def msa(reply: bytes) -> list[str]:
    segment = hl7.parse(reply.decode()).segment("MSA")
    return [str(segment[n]) for n in range(1, len(segment))]


async def until_accepted(send: Callable[[], Awaitable[bool]]) -> int:
    """Resend every second until accepted, as a member's interface engine does; the
    number of attempts it took."""
    deadline = time.monotonic() + RESEND_FOR
    attempts = 0
    while True:
        attempts += 1
        if await send():
            return attempts
        assert time.monotonic() < deadline, f"still refused after {attempts} resends"
        await asyncio.sleep(1.0)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBroker]:
    """A broker of the module's own, not the session's: these tests stop and start it."""
    started = start_broker(tmp_path_factory.mktemp("outage-broker"))
    yield started
    started.stop()


@pytest.fixture
def outage(broker: BaseBroker) -> Iterator[Callable[[], Awaitable[None]]]:
    """`await outage()` stops the broker; `await outage()` again starts it on its port."""
    port = broker.port

    async def toggle() -> None:
        running = broker.process is not None and broker.process.poll() is None
        await asyncio.to_thread(broker.stop if running else broker.start)
        assert broker.port == port

    yield toggle
    if broker.process is None or broker.process.poll() is not None:
        broker.start()


def test_mllp_nacks_while_the_broker_is_down_and_the_resend_is_acked(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]],
    outage: Callable[[], Awaitable[None]],
) -> None:
    dead_letters = DeadLetterFile(tmp_path / "dead-letter", MEMBER)
    during = [lab_oru(control=f"OUTAGE-{n}").encode() for n in range(3)]

    async def scenario() -> tuple[bytes, list[bytes], list[bytes], list[int]]:
        publisher = short_timeout_publisher(broker.bootstrap)
        server = await start_hl7_listener(publisher, MEMBER, dead_letters=dead_letters)
        try:
            async with MllpClient("127.0.0.1", server.port, timeout=30) as client:
                before = await client.send(lab_oru(control="BEFORE-OUTAGE").encode())
                await outage()
                nacks = [await client.send(m) for m in during]  # same connection, still served
                await outage()
                acks: list[bytes] = []
                attempts = []
                for message in during:
                    async def resend(message: bytes = message) -> bool:
                        reply = await client.send(message)
                        acks.append(reply)
                        return msa(reply)[0] == "AA"
                    attempts.append(await until_accepted(resend))
                return before, nacks, [a for a in acks if msa(a)[0] == "AA"], attempts
        finally:
            await server.close()
            publisher.close()

    before, nacks, acks, attempts = asyncio.run(asyncio.wait_for(scenario(), 240))
    assert msa(before)[0] == "AA"
    for nack in nacks:
        assert msa(nack)[0] == "AR" and "请稍后重发" in msa(nack)[2]
        assert "207^Application internal error" in nack.decode()
    assert len(acks) == len(during) and all(n >= 1 for n in attempts)
    refused = dead_letters.read_all()
    assert len(refused) >= len(during)
    assert {r["reason_code"] for r in refused} == {"PUBLISH_FAILED"}

    acked = event_ids(before).union(*(event_ids(a) for a in acks))
    assert len(acked) == 3 * (1 + len(during))  # three results per message
    on_topic = read_topic(ingress_topic(MEMBER),
                          until=lambda got: {e.envelope.event_id for _, e in got} >= acked)
    # the message ACKed before the outage survived it; a NACKed write that went through
    # later carries the same ids as its resend, so the distinct ids are exactly the ACKed
    assert {e.envelope.event_id for _, e in on_topic} == acked


def test_fhir_answers_503_while_the_broker_is_down_and_the_resend_is_created(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]],
    outage: Callable[[], Awaitable[None]],
) -> None:
    settings = ConnectorSettings(member_id=MEMBER, dead_letter_dir=tmp_path / "dead-letter")
    body = observation(identifier=[{"system": "urn:lead:lis:observations", "value": "OUT-9"}])

    async def scenario() -> tuple[int, dict[str, Any], int, str]:
        publisher = short_timeout_publisher(broker.bootstrap)
        runner = web.AppRunner(build_app(settings, publisher, patients=PatientCache(None)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/fhir/Observation"
        created: list[str] = []
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                await outage()
                async with http.post(url, json=body) as reply:
                    down = reply.status, json.loads(await reply.read())
                await outage()

                async def resend() -> bool:
                    async with http.post(url, json=body) as reply:
                        created.append(reply.headers.get("Location", ""))
                        return reply.status == 201
                attempts = await until_accepted(resend)
        finally:
            await runner.cleanup()
            publisher.close()
        return down[0], down[1], attempts, created[-1]

    status, outcome, attempts, location = asyncio.run(asyncio.wait_for(scenario(), 180))
    assert status == 503 and outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
    assert "请稍后重发" in outcome["issue"][0]["diagnostics"]
    assert attempts >= 1
    event_id = location.rsplit("/", 1)[-1]
    on_topic = read_topic(ingress_topic(MEMBER), until=lambda got: any(
        e.envelope.event_id == event_id for _, e in got))
    assert any(e.envelope.event_id == event_id for _, e in on_topic)


# aiokafka's connection errors: about 4,000 lines over such an outage before they were
# collapsed (hub/process/outages.py)
CONNECTION_ERRORS = ("Unable connect to", "Unable to update metadata",
                     "Unable to request metadata", "Failed fetch messages",
                     "Group Coordinator Request failed")


def test_a_worker_rides_out_a_broker_outage_in_a_few_log_lines(
    broker: BaseBroker, start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher], read_topic: Callable[..., list[Decoded]],
    outage: Callable[[], Awaitable[None]],
) -> None:
    """The hub's worker is still running after the broker came back, and processes what
    members publish then; the outage is a few lines in its log (started, ended with its
    duration), not thousands of connection errors, and the metrics saw it."""
    worker = start_worker(HUB_LOG_OUTAGE_QUIET_S="3")
    logged_before = worker.log_path.stat().st_size
    asyncio.run(outage())
    unreachable_during = wait_for(lambda: worker.metric("hub_broker_unreachable"), 20)
    time.sleep(8)  # about 12 s away, with the broker's stop and start
    asyncio.run(outage())
    assert worker.running(), worker.log_tail()
    after = lab_result(MEMBER)
    publisher(MEMBER).publish(after)
    out = read_topic(feedback_topic(MEMBER), timeout=90, until=lambda got: any(
        e.envelope.correlation_id == after.envelope.event_id for _, e in got))
    assert any(e.envelope.correlation_id == after.envelope.event_id for _, e in out), \
        f"{worker.hub_warnings()}\n...\n{worker.log_tail(20)}"

    def since_outage() -> list[str]:
        with worker.log_path.open("rb") as log:
            log.seek(logged_before)
            return log.read().decode(errors="replace").splitlines()

    wait_for(lambda: any("outage ended" in line for line in since_outage()), 30)
    lines = since_outage()
    errors = [line for line in lines if any(text in line for text in CONNECTION_ERRORS)]
    assert 1 <= len(errors) <= 20, f"{len(errors)} connection error lines:\n" + "\n".join(
        errors[:40])
    assert any("Kafka connection outage started" in line for line in lines)
    assert any("Kafka connection outage ended" in line and "held back" in line
               for line in lines)
    assert unreachable_during == 1
    assert worker.metric("hub_broker_connection_errors_total") > 100  # held back, counted
    assert wait_for(lambda: worker.metric("hub_broker_unreachable") == 0, 10)
