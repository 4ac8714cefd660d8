"""Issue 26's "done when", end to end on the broker with one hub worker and each party's
own connector: 河西村卫生室's HIS sends an upward referral as HL7 v2 REF^I12 over MLLP (HAPI's
message, adapted); the hub brings it to the lead hospital's HIS as REF^I12 through
`deliver-feedback`; the lead publishes its reserved specialist slots through the SDK (its
HIS has no HL7 message for them) and its HIS answers RRI^I12 RF1-1 A booking one slot (ZRF),
then the arrival (ZRF ARRIVED with the encounter) and the completion with the plan back
down. Every state reaches BOTH HIS as RRI^I12, the patient's resident ID in clear. A second,
urgent referral dated back past its 2 hours (the controlled clock: its time, not a sleep)
escalates: both HIS get an RRI with the escalation level.

The fake HIS are MLLP servers on 127.0.0.1 answering AA; the connectors are the real
classes (HL7 listener publishing with MemberPublisher, FeedbackReader + FeedbackDelivery
with an MllpTarget), all in one event loop, every wait bounded.
"""

from __future__ import annotations

import asyncio
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
from schemas.reference.registry import load_registry
from schemas.topics import REFERRALS, feedback_topic, ingress_topic
from tests.conftest import WorkerProcess
from tests.connectors.referral_messages import (
    RESIDENT_ID,
    hapi_village_ref_i12,
    zato_lead_rri_i12,
)
from tests.connectors.test_hl7_messages import seg
from tests.factories import capacity_pool
from tests.runtime.test_store_rollback import start_past_what_is_there

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC).replace(microsecond=0)
SLOT_AT = (NOW + timedelta(days=1)).replace(minute=0, second=0)
LOOP_REF, STALLED_REF = "R2026-0107", "R2026-0108"
LOOP, STALLED = f"vp-hexi:{LOOP_REF}", f"vp-hexi:{STALLED_REF}"
ENCOUNTER = "MZ2026120800417"
PLAN = "回村卫生室随访：每周测血压，4周后复查"
PARTIES = ("vp-hexi", "lead")


def hl7_time(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%Y%m%d%H%M%S%z")


class FakeHis:
    """A member's HIS: takes what `deliver-feedback` sends over MLLP, answers AA."""

    def __init__(self, member: str) -> None:
        self.member = member
        self.received: list[hl7.Message] = []

    async def answer(self, raw: bytes) -> bytes:
        self.received.append(hl7.parse(raw.decode()))
        return (f"MSH|^~\\&|HIS|{self.member}|HUB|CONSORTIUM|{hl7_time(NOW)}||ACK|"
                f"A{len(self.received)}|P|2.5\rMSA|AA|X\r").encode()

    def about(self, referral: str, kind: str = "RRI") -> list[hl7.Message]:
        """The messages of a kind about one referral (RF1-11 names it), in order."""
        return [m for m in self.received if str(m.segment("MSH")[9]).startswith(kind)
                and str(m.segment("RF1")[11]).split("^")[0] == referral]

    def steps(self, referral: str) -> list[tuple[str, str, str, str]]:
        """(RF1-1, ZRF-1 action, ZRF-14 business status, ZRF-16 escalation) per RRI."""
        return [(str(m["RF1.F1"]), str(m["ZRF.F1"]), str(m["ZRF.F14"]), str(m["ZRF.F16"]))
                for m in self.about(referral)]


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    data = tmp_path_factory.mktemp("referral-loop")
    app_id = f"hub-referral-loop-{data.name}"
    env = {**broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6",
           "HUB_REFERRAL_SWEEP_SECONDS": "1"}
    inputs = [ingress_topic(m) for m in load_registry().ids] + [REFERRALS.name]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    started = WorkerProcess(broker.bootstrap, data, env).start()
    yield started
    started.kill()


def test_an_hl7_referral_closes_its_loop_at_both_his_and_a_stalled_one_escalates(
    worker: WorkerProcess, broker: BaseBroker, tmp_path: Path,
) -> None:
    his = {member: FakeHis(member) for member in PARTIES}

    async def scenario() -> None:
        servers = {m: await start_mllp_server(his[m].answer, "127.0.0.1", 0) for m in PARTIES}
        publishers = {m: MemberPublisher(broker.bootstrap, m) for m in PARTIES}
        listeners = {m: await start_hl7_listener(
            publishers[m], m, dead_letters=DeadLetterFile(tmp_path / m, m)) for m in PARTIES}
        # run alone, the module may come before the hub's first write to out.<member>: the
        # reader must see the topic appear within the test, not at the 5-minute refresh
        topics = KafkaProducer(bootstrap_servers=broker.bootstrap)
        for m in PARTIES:  # the topics exist before the readers subscribe (see above)
            topics.partitions_for(feedback_topic(m))
        topics.close()
        readers = {m: FeedbackReader(broker.bootstrap, m, enable_auto_commit=False,
                                     group_id=f"his-{m}-{tmp_path.name}",
                                     metadata_max_age_ms=1000) for m in PARTIES}
        stop = asyncio.Event()
        deliveries = [asyncio.create_task(deliver_from(
            readers[m].poll, readers[m].consumer.commit, FeedbackDelivery(MllpTarget(
                "127.0.0.1", servers[m].port, m, charset_label="UNICODE UTF-8", zone=ZONE),
                retry_seconds=0.2), stop, 0.2)) for m in PARTIES]

        async def send(member: str, message: bytes) -> None:
            async with MllpClient("127.0.0.1", listeners[member].port, timeout=30) as client:
                ack = hl7.parse((await client.send(message)).decode("gb18030", "replace"))
            assert str(ack["MSA.F1"]) == "AA", str(ack)

        try:
            publishers["lead"].publish(capacity_pool(
                "lead", "LEAD-XNK-LOOP", total=10, reserved=2, at=NOW,
                slots=[("S-0830", SLOT_AT), ("S-0900", SLOT_AT + timedelta(minutes=30))]))
            await send("vp-hexi", hapi_village_ref_i12(
                "HEXI-0107", ref=LOOP_REF, at=hl7_time(NOW)).encode())
            await send("vp-hexi", hapi_village_ref_i12(
                "HEXI-0108", ref=STALLED_REF, priority="A",
                at=hl7_time(NOW - timedelta(hours=2, minutes=1))).encode())
            lead = his["lead"]
            await until(lambda: bool(lead.about(LOOP, "REF")), "REF^I12 at the lead's HIS")
            lead_at = hl7_time(datetime.now(UTC).replace(microsecond=0))
            await send("lead", zato_lead_rri_i12(
                "LEAD-0107-1", "A", seg("ZRF", {2: "LEAD-XNK-LOOP", 3: "S-0830",
                                                4: hl7_time(SLOT_AT)}),
                ref=LOOP_REF, at=lead_at))
            await until(lambda: all(len(h.about(LOOP)) >= 3 for h in his.values()), "booked")
            await send("lead", zato_lead_rri_i12(
                "LEAD-0107-2", "A", "ZRF|ARRIVED", ref=LOOP_REF, at=lead_at,
                extra=(seg("PV1", {1: "1", 2: "O", 3: "XNK^^^LEAD", 19: ENCOUNTER}),)))
            await until(lambda: all(len(h.about(LOOP)) >= 4 for h in his.values()), "arrived")
            await send("lead", zato_lead_rri_i12(
                "LEAD-0107-3", "A", seg("ZRF", {1: "COMPLETED", 9: PLAN}), ref=LOOP_REF,
                at=lead_at))
            await until(lambda: all(len(h.about(LOOP)) >= 5 and len(h.about(STALLED)) >= 2
                                    for h in his.values()), "completed and escalated")
        finally:
            stop.set()
            await asyncio.gather(*deliveries)
            for m in PARTIES:
                await listeners[m].close()
                await servers[m].close()
                readers[m].close()
                publishers[m].close()

    asyncio.run(asyncio.wait_for(scenario(), 240))

    for member, fake in his.items():
        assert fake.steps(LOOP) == [
            ("P", "", "requested", "0"), ("A", "ACCEPTED", "accepted", "0"),
            ("A", "BOOKED", "booked", "0"), ("A", "ARRIVED", "arrived", "0"),
            ("A", "COMPLETED", "completed", "0")], member
        messages = fake.about(LOOP)
        booked, arrived, completed = messages[2], messages[3], messages[4]
        assert [str(booked[f"ZRF.F{n}"]) for n in (2, 3, 4)] == [
            "LEAD-XNK-LOOP", "S-0830", hl7_time(SLOT_AT)], member
        assert str(arrived["ZRF.F5"]) == ENCOUNTER
        assert completed.unescape(str(completed["ZRF.F9"])) == PLAN
        assert fake.steps(STALLED)[:2] == [("P", "", "requested", "0"),
                                           ("P", "", "requested", "1")], member
        escalated = fake.about(STALLED)[1]
        assert "已逾期（第 1 级督办）" in escalated.unescape(str(escalated["ZRF.F17"]))
        for message in fake.about(LOOP) + fake.about(STALLED):
            assert str(message["PID.F3.R1.C1"]) == RESIDENT_ID, member
    [request] = his["lead"].about(LOOP, "REF")
    assert str(request["PID.F3.R1.C1"]) == RESIDENT_ID and str(request["RF1.F1"]) == "P"
    assert his["vp-hexi"].about(LOOP, "REF") == []  # the referrer is not sent its own request
