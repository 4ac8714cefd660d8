"""Issue 27's "done when", end to end on the broker with one hub worker and each party's own
connector: 河口镇卫生院 (thc-river) does an emergency head CT and its RIS sends IHE MESA's
OMI^O23 (adapted) over MLLP; the hub routes it to the lead hospital, whose RIS receives it
as ORM^O01 through `deliver-feedback`; the lead's RIS sends a claim (ORM^O01 ORC-5 IP), a
preliminary ORU^R01 (OBR-25 P) and the final one (OBR-25 F, in GBK) signed by a different
reviewer with a critical finding. The township's HIS receives every status as ORU^R01, the
final report with its findings and reviewer, and the critical value, which it acknowledges
with the read-back (ACK^R01 + ZCV) and resolves; the lead's attempt to acknowledge it is
refused at its connector (AE, ZCV-2). City East's order for the same CT is advised to
recognise the lead's report. A second request dated back past its hour (the controlled
clock: its times, not a sleep) escalates: both sides' systems get the escalation.

The fake RIS/HIS are MLLP servers on 127.0.0.1 answering AA; the connectors are the real
classes, all in one event loop, every wait bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from kafka import KafkaProducer

from connectors.member.deadletter import DeadLetterFile
from connectors.member.feedback_delivery import FeedbackDelivery, MllpTarget, deliver_from
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mllp.client import MllpClient
from connectors.member.mllp.server import start_mllp_server
from connectors.member.sdk import FeedbackReader, MemberPublisher
from hub.brokers import BaseBroker
from schemas.models import RecognitionAdvice
from schemas.reference.registry import load_registry
from schemas.topics import REMOTE_READS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess
from tests.connectors.referral_messages import RESIDENT_ID
from tests.connectors.remote_read_messages import (
    REQUEST_ID,
    his_critical_ack,
    mesa_omi_o23,
    orthanc_claim_orm,
    pacs_oru_r01,
)
from tests.factories import patient
from tests.factories import test_order as make_order
from tests.runtime.test_store_rollback import start_past_what_is_there

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC).replace(microsecond=0)
READ, LATE = "thc-river:CT20261207-0042", "thc-river:CT20261207-0043"
CRITICAL = "LD0001297-3"  # the centre's report number and the flagged OBX's set id
PARTIES = ("thc-river", "lead")

# Not in the default suite yet (issue 27 is open): in 2 of about 9 runs the lead's RIS never
# received the township's ORM, and the recognition check below fails on this path.
pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    os.environ.get("HUB_TEST_REMOTE_READ_LOOP") != "1",
    reason="issue 27 open: HUB_TEST_REMOTE_READ_LOOP=1 runs the HL7 remote-read loop")]


def hl7_time(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%Y%m%d%H%M%S%z")


def dated(message: str, at: datetime, request: str = READ) -> str:
    """The fixture's times (2026-12-07 hh:mm:ss) moved to `at`; its request id to ours."""
    return re.sub(r"20261207\d{6}(?:\+0800)?", hl7_time(at), message).replace(
        REQUEST_ID, request)


class FakeSystem:
    """A member's RIS or HIS: takes what `deliver-feedback` sends over MLLP, answers AA."""

    def __init__(self, member: str) -> None:
        self.member = member
        self.received: list[hl7.Message] = []

    async def answer(self, raw: bytes) -> bytes:
        self.received.append(hl7.parse(raw.decode()))
        return (f"MSH|^~\\&|RIS|{self.member}|HUB|CONSORTIUM|{hl7_time(NOW)}||ACK|"
                f"A{len(self.received)}|P|2.5\rMSA|AA|X\r").encode()

    def about(self, request: str, kind: str = "ORU") -> list[hl7.Message]:
        """The messages of a kind about one request (ORC-2 names it), in order."""
        return [m for m in self.received if str(m.segment("MSH")[9]).startswith(kind)
                and str(m.segment("ORC")[2]) == request]

    def steps(self, request: str) -> list[tuple[str, str, str, str]]:
        """(OBR-25, ZRR-1 action, ZRR-15 business status, ZRR-17 escalation) per status."""
        return [(str(m["OBR.F25"]), str(m["ZRR.F1"]), str(m["ZRR.F15"]), str(m["ZRR.F17"]))
                for m in self.about(request) if _has(m, "ZRR")]

    def critical(self, critical_id: str) -> list[tuple[str, str]]:
        """(ZCV-2 action, ZCV-9 state) per critical-value ORU."""
        return [(str(m["ZCV.F2"]), str(m["ZCV.F9"])) for m in self.received
                if _has(m, "ZCV") and str(m["ZCV.F1"]) == critical_id]


def _has(message: hl7.Message, name: str) -> bool:
    return any(str(s[0]) == name for s in message)


async def until(condition: Callable[[], bool], what: str, timeout: float = 60,
                seen: Callable[[], object] = lambda: "") -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}; seen {seen()}") from None


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    data = tmp_path_factory.mktemp("remote-read-loop")
    app_id = f"hub-remote-read-loop-{data.name}"
    env = {**broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6",
           "HUB_REMOTE_READ_SWEEP_SECONDS": "1"}
    inputs = [ingress_topic(m) for m in load_registry().ids] + [REMOTE_READS.name]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    started = WorkerProcess(broker.bootstrap, data, env).start()
    yield started
    started.kill()


def test_an_hl7_remote_read_goes_home_earns_recognition_and_a_late_one_escalates(
    worker: WorkerProcess, broker: BaseBroker, tmp_path: Path,
) -> None:
    system = {member: FakeSystem(member) for member in PARTIES}
    answers: dict[str, list[tuple[str, str]]] = {m: [] for m in PARTIES}

    async def scenario() -> None:
        servers = {m: await start_mllp_server(system[m].answer, "127.0.0.1", 0)
                   for m in PARTIES}
        publishers = {m: MemberPublisher(broker.bootstrap, m) for m in PARTIES}
        listeners = {m: await start_hl7_listener(
            publishers[m], m, dead_letters=DeadLetterFile(tmp_path / m, m)) for m in PARTIES}
        topics = KafkaProducer(bootstrap_servers=broker.bootstrap)
        for m in PARTIES:  # the topics exist before the readers subscribe
            topics.partitions_for(feedback_topic(m))
        topics.close()
        readers = {m: FeedbackReader(broker.bootstrap, m, enable_auto_commit=False,
                                     group_id=f"sys-{m}-{tmp_path.name}",
                                     metadata_max_age_ms=1000) for m in PARTIES}
        stop = asyncio.Event()
        deliveries = [asyncio.create_task(deliver_from(
            readers[m].poll, readers[m].consumer.commit, FeedbackDelivery(MllpTarget(
                "127.0.0.1", servers[m].port, m, charset_label="UNICODE UTF-8", zone=ZONE),
                retry_seconds=0.2), stop, 0.2)) for m in PARTIES]

        async def send(member: str, message: bytes, expect: str = "AA") -> None:
            async with MllpClient("127.0.0.1", listeners[member].port, timeout=30) as client:
                ack = hl7.parse((await client.send(message)).decode("gb18030", "replace"))
            answers[member].append((str(ack["MSA.F1"]), str(ack.segment("ERR")[2]) if _has(
                ack, "ERR") else ""))
            assert str(ack["MSA.F1"]) == expect, str(ack)

        def at(seconds: int) -> datetime:
            return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)

        try:
            await send("thc-river", dated(mesa_omi_o23(), NOW).encode())
            hour_ago = NOW - timedelta(hours=1, minutes=1)
            await send("thc-river", dated(mesa_omi_o23(), hour_ago).replace(
                "CT20261207-0042", "CT20261207-0043").replace("1001125", "1001126").encode())
            ris, his = system["lead"], system["thc-river"]
            await until(lambda: bool(ris.about(READ, "ORM")), "ORM^O01 at the lead's RIS",
                        timeout=120, seen=lambda: ([str(m.segment("MSH")[9]) for m in
                                                    ris.received], answers))
            await send("lead", dated(orthanc_claim_orm(), at(0)).replace(  # the writer claims
                "1024^张^伟", "2048^陈^静").encode())
            await send("lead", dated(pacs_oru_r01(
                obr_25="P", obx_status="P", control="LD-P-1"), at(1)).replace(
                "1024&张&伟&&&&^", "").encode())
            final = dated(pacs_oru_r01(control="LD-F-1", extra=(
                "OBX|3|TX|CRIT^危急所见^L||右侧大量气胸|||AA|||F",)), at(2))
            await send("lead", final.replace("|P|2.3|\r", "|P|2.3||||||GBK\r").encode(
                "gb18030"))
            await send("lead", dated(his_critical_ack(
                "DOUBLE_CHECKED", read_back="", control="LDACK-0"), at(3)).replace(
                "HIS|THCRIVER", "RIS|LEAD").replace("CV-LD-0001", CRITICAL).replace(
                "N017^周^丽^^^^护士", "3002^赵^刚^^^^主任医师").encode())
            await until(lambda: "DELIVERED" in [a for a, _ in his.critical(CRITICAL)],
                        "critical value at the HIS", seen=lambda: (
                            his.steps(READ), his.critical(CRITICAL), ris.critical(CRITICAL),
                            answers))
            await send("lead", dated(his_critical_ack(control="LDACK-1"), at(3)).replace(
                "HIS|THCRIVER", "RIS|LEAD").replace("CV-LD-0001", CRITICAL).encode(),
                expect="AE")
            await send("thc-river", dated(his_critical_ack(), at(3)).replace(
                "CV-LD-0001", CRITICAL).encode())
            await send("thc-river", dated(his_critical_ack(
                "RESOLVED", control="HKACK-0002"), at(4)).replace(
                "CV-LD-0001", CRITICAL).encode())
            await until(lambda: all(
                "RESOLVED" in [a for a, _ in s.critical(CRITICAL)]
                and any(step[3] == "1" for step in s.steps(LATE)) for s in system.values()),
                "resolved and escalated", seen=lambda: (
                    [(s.steps(LATE), s.critical(CRITICAL)) for s in system.values()]))
        finally:
            stop.set()
            await asyncio.gather(*deliveries)
            for m in PARTIES:
                await listeners[m].close()
                await servers[m].close()
                readers[m].close()
                publishers[m].close()

    asyncio.run(asyncio.wait_for(scenario(), 240))

    ris, his = system["lead"], system["thc-river"]
    [order] = ris.about(READ, "ORM")
    assert (str(order["ORC.F1"]), str(order["OBR.F18"]), str(order["OBR.F24"])) == (
        "NW", "CT20261207-0042", "CT")
    assert str(order["PID.F3.R1.C1"]) == RESIDENT_ID
    assert his.about(READ, "ORM") == []  # the examining member is not sent its own request
    for fake in (ris, his):
        assert fake.steps(READ) == [
            ("I", "", "waiting-for-images", "0"),
            ("I", "IMAGES_AVAILABLE", "images-available", "0"),
            ("I", "CLAIMED", "claimed", "0"), ("P", "PRELIMINARY_REPORT", "preliminary", "0"),
            ("F", "FINAL_REPORT", "final", "0")], fake.member
        assert [action for action, _ in fake.critical(CRITICAL)] == [
            "RAISED", "DOUBLE_CHECKED", "DELIVERED", "ACKNOWLEDGED", "RESOLVED"], fake.member
        assert "1" in [step[3] for step in fake.steps(LATE)], fake.member
    assert answers["lead"][-1] == ("AE", "ZCV^1^2")  # its acknowledgement refused
    assert all(code == "AA" for code, _ in answers["thc-river"] + answers["lead"][:-1])
    final_oru = [m for m in his.about(READ) if str(m["OBR.F25"]) == "F"][-1]
    assert str(final_oru.segment("OBR")[32]) == "1024&张伟"  # the reviewer
    findings = final_oru.segments("OBX")[0]
    assert "右肺下叶见斑片状高密度影" in "".join(str(line) for line in findings[5])


@pytest.mark.xfail(strict=True, reason="open (issue 27): the HL7-read CT's final report earns "
                   "no recognition advice on this path; the SDK path does "
                   "(tests/flows/test_remote_read_integration.py)")
def test_city_easts_order_for_the_same_ct_is_advised_to_recognise_the_leads_report(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    publisher("chc-east").publish(make_order(
        "chc-east", item="CT-HEAD", patient=patient(RESIDENT_ID, name="李建国"),
        order_id="ORD-EAST-RR1", ordered_at=datetime.now(UTC) + timedelta(minutes=1)))

    def advice(events: list[Decoded]) -> list[RecognitionAdvice]:
        return [e for _, e in events if isinstance(e, RecognitionAdvice)
                and e.order_id == "ORD-EAST-RR1"]

    [told] = advice(read_topic(feedback_topic("chc-east"), timeout=30, until=advice))[:1]
    assert [(r.member_id, r.item_code) for r in told.results] == [("lead", "CT-HEAD")]
