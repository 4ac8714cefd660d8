"""Issue 26's "done when", end to end on the broker with one hub worker and each party's
own connector: 河西村卫生室's HIS sends an upward referral as HL7 v2 REF^I12 over MLLP (HAPI's
message, adapted); the hub brings it to the lead hospital's HIS as REF^I12 through
`deliver-feedback`; the lead publishes its reserved specialist slots through the SDK (its
HIS has no HL7 message for them) and its HIS answers RRI^I12 RF1-1 A booking one slot (ZRF),
then the arrival (ZRF ARRIVED with the encounter) and the completion with the plan back
down. Every state reaches BOTH HIS as RRI^I12, the patient's resident ID in clear. A second,
urgent referral dated back past its 2 hours (the controlled clock: its time, not a sleep)
escalates: both HIS get an RRI with the escalation level.

The harness (fake HIS behind the members' own connector classes) is hl7_loop.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7
import pytest

from hub.brokers import BaseBroker
from schemas.topics import REFERRALS
from tests.conftest import WorkerProcess
from tests.connectors.referral_messages import (
    RESIDENT_ID,
    hapi_village_ref_i12,
    zato_lead_rri_i12,
)
from tests.connectors.test_hl7_messages import seg
from tests.factories import capacity_pool
from tests.flows.hl7_loop import FakeSystem, MemberSides, hl7_time, start_loop_worker, until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SLOT_AT = (NOW + timedelta(days=1)).replace(minute=0, second=0)
LOOP_REF, STALLED_REF = "R2026-0107", "R2026-0108"
LOOP, STALLED = f"vp-hexi:{LOOP_REF}", f"vp-hexi:{STALLED_REF}"
ENCOUNTER = "MZ2026120800417"
PLAN = "回村卫生室随访：每周测血压，4周后复查"
PARTIES = ("vp-hexi", "lead")


def about(system: FakeSystem, referral: str, kind: str = "RRI") -> list[hl7.Message]:
    """The messages of a kind about one referral (RF1-11 names it), in order."""
    return [m for m in system.of_kind(kind)
            if str(m.segment("RF1")[11]).split("^")[0] == referral]


def steps(system: FakeSystem, referral: str) -> list[tuple[str, str, str, str]]:
    """(RF1-1, ZRF-1 action, ZRF-14 business status, ZRF-16 escalation) per RRI."""
    return [(str(m["RF1.F1"]), str(m["ZRF.F1"]), str(m["ZRF.F14"]), str(m["ZRF.F16"]))
            for m in about(system, referral)]


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    started = start_loop_worker(broker, tmp_path_factory, "referral-loop", REFERRALS.name,
                                {"HUB_REFERRAL_SWEEP_SECONDS": "1"})
    yield started
    started.kill()


def test_an_hl7_referral_closes_its_loop_at_both_his_and_a_stalled_one_escalates(
    worker: WorkerProcess, broker: BaseBroker, tmp_path: Path,
) -> None:
    his = {member: FakeSystem(member) for member in PARTIES}

    async def scenario(sides: MemberSides) -> None:
        sides.publishers["lead"].publish(capacity_pool(
            "lead", "LEAD-XNK-LOOP", total=10, reserved=2, at=NOW,
            slots=[("S-0830", SLOT_AT), ("S-0900", SLOT_AT + timedelta(minutes=30))]))
        await sides.send("vp-hexi", hapi_village_ref_i12(
            "HEXI-0107", ref=LOOP_REF, at=hl7_time(NOW)).encode())
        await sides.send("vp-hexi", hapi_village_ref_i12(
            "HEXI-0108", ref=STALLED_REF, priority="A",
            at=hl7_time(NOW - timedelta(hours=2, minutes=1))).encode())
        lead = his["lead"]
        await until(lambda: bool(about(lead, LOOP, "REF")), "REF^I12 at the lead's HIS")
        lead_at = hl7_time(datetime.now(UTC).replace(microsecond=0))
        await sides.send("lead", zato_lead_rri_i12(
            "LEAD-0107-1", "A", seg("ZRF", {2: "LEAD-XNK-LOOP", 3: "S-0830",
                                            4: hl7_time(SLOT_AT)}),
            ref=LOOP_REF, at=lead_at))
        await until(lambda: all(len(about(h, LOOP)) >= 3 for h in his.values()), "booked")
        await sides.send("lead", zato_lead_rri_i12(
            "LEAD-0107-2", "A", "ZRF|ARRIVED", ref=LOOP_REF, at=lead_at,
            extra=(seg("PV1", {1: "1", 2: "O", 3: "XNK^^^LEAD", 19: ENCOUNTER}),)))
        await until(lambda: all(len(about(h, LOOP)) >= 4 for h in his.values()), "arrived")
        await sides.send("lead", zato_lead_rri_i12(
            "LEAD-0107-3", "A", seg("ZRF", {1: "COMPLETED", 9: PLAN}), ref=LOOP_REF,
            at=lead_at))
        await until(lambda: all(len(about(h, LOOP)) >= 5 and len(about(h, STALLED)) >= 2
                                for h in his.values()), "completed and escalated")

    async def run() -> None:
        async with MemberSides(broker, his, tmp_path) as sides:
            await scenario(sides)

    asyncio.run(asyncio.wait_for(run(), 240))

    for member, fake in his.items():
        assert steps(fake, LOOP) == [
            ("P", "", "requested", "0"), ("A", "ACCEPTED", "accepted", "0"),
            ("A", "BOOKED", "booked", "0"), ("A", "ARRIVED", "arrived", "0"),
            ("A", "COMPLETED", "completed", "0")], member
        messages = about(fake, LOOP)
        booked, arrived, completed = messages[2], messages[3], messages[4]
        assert [str(booked[f"ZRF.F{n}"]) for n in (2, 3, 4)] == [
            "LEAD-XNK-LOOP", "S-0830", hl7_time(SLOT_AT)], member
        assert str(arrived["ZRF.F5"]) == ENCOUNTER
        assert completed.unescape(str(completed["ZRF.F9"])) == PLAN
        assert steps(fake, STALLED)[:2] == [("P", "", "requested", "0"),
                                           ("P", "", "requested", "1")], member
        escalated = about(fake, STALLED)[1]
        assert "已逾期（第 1 级督办）" in escalated.unescape(str(escalated["ZRF.F17"]))
        for message in about(fake, LOOP) + about(fake, STALLED):
            assert str(message["PID.F3.R1.C1"]) == RESIDENT_ID, member
    [request] = about(his["lead"], LOOP, "REF")
    assert str(request["PID.F3.R1.C1"]) == RESIDENT_ID and str(request["RF1.F1"]) == "P"
    assert about(his["vp-hexi"], LOOP, "REF") == []  # the referrer is not sent its own request
