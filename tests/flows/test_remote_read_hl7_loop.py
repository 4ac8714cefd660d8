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

The harness (fake RIS/HIS behind the members' own connector classes) is hl7_loop.py's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7
import pytest

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from schemas.models import RecognitionAdvice
from schemas.topics import REMOTE_READS, feedback_topic
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
from tests.flows.hl7_loop import (
    FakeSystem,
    MemberSides,
    has_segment,
    hl7_time,
    start_loop_worker,
    until,
)

pytestmark = pytest.mark.integration

READ, LATE = "thc-river:CT20261207-0042", "thc-river:CT20261207-0043"
CRITICAL = "LD0001297-3"  # the centre's report number and the flagged OBX's set id
PARTIES = ("thc-river", "lead")


def dated(message: str, at: datetime, request: str = READ) -> str:
    """The fixture's times (2026-12-07 hh:mm:ss) moved to `at`; its request id to ours."""
    return re.sub(r"20261207\d{6}(?:\+0800)?", hl7_time(at), message).replace(
        REQUEST_ID, request)


def about(system: FakeSystem, request: str, kind: str = "ORU") -> list[hl7.Message]:
    """The messages of a kind about one request (ORC-2 names it), in order."""
    return [m for m in system.of_kind(kind) if str(m.segment("ORC")[2]) == request]


def steps(system: FakeSystem, request: str) -> list[tuple[str, str, str, str]]:
    """(OBR-25, ZRR-1 action, ZRR-15 business status, ZRR-17 escalation) per status."""
    return [(str(m["OBR.F25"]), str(m["ZRR.F1"]), str(m["ZRR.F15"]), str(m["ZRR.F17"]))
            for m in about(system, request) if has_segment(m, "ZRR")]


def critical(system: FakeSystem, critical_id: str) -> list[tuple[str, str]]:
    """(ZCV-2 action, ZCV-9 state) per critical-value ORU."""
    return [(str(m["ZCV.F2"]), str(m["ZCV.F9"])) for m in system.received
            if has_segment(m, "ZCV") and str(m["ZCV.F1"]) == critical_id]


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    started = start_loop_worker(broker, tmp_path_factory, "remote-read-loop",
                                REMOTE_READS.name, {"HUB_REMOTE_READ_SWEEP_SECONDS": "1"})
    yield started
    started.kill()


def test_an_hl7_remote_read_goes_home_earns_recognition_and_a_late_one_escalates(
    worker: WorkerProcess, broker: BaseBroker, tmp_path: Path,
) -> None:
    ris, his = FakeSystem("lead", "RIS"), FakeSystem("thc-river")
    systems = {"lead": ris, "thc-river": his}
    # Every step is dated in the recent past: a report stamped even a second ahead of the
    # hub's clock is not yet a result for an order placed in that second.
    examined = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)

    def at(seconds: int) -> datetime:
        return examined + timedelta(seconds=5 + seconds)

    async def scenario(sides: MemberSides) -> None:
        await sides.send("thc-river", dated(mesa_omi_o23(), examined).encode())
        hour_ago = examined - timedelta(hours=1, minutes=1)
        await sides.send("thc-river", dated(mesa_omi_o23(), hour_ago).replace(
            "CT20261207-0042", "CT20261207-0043").replace(
            "1001125", "1001126").encode())
        await until(lambda: bool(about(ris, READ, "ORM")), "ORM^O01 at the lead's RIS",
                    seen=lambda: ([str(m.segment("MSH")[9]) for m in ris.received],
                                  sides.answers))
        await sides.send("lead", dated(orthanc_claim_orm(), at(0)).replace(  # the writer
            "1024^张^伟", "2048^陈^静").encode())
        await sides.send("lead", dated(pacs_oru_r01(
            obr_25="P", obx_status="P", control="LD-P-1"), at(1)).replace(
            "1024&张&伟&&&&^", "").encode())
        final = dated(pacs_oru_r01(control="LD-F-1", extra=(
            "OBX|3|TX|CRIT^危急所见^L||右侧大量气胸|||AA|||F",)), at(2))
        await sides.send("lead", final.replace("|P|2.3|\r", "|P|2.3||||||GBK\r").encode(
            "gb18030"))
        await sides.send("lead", dated(his_critical_ack(
            "DOUBLE_CHECKED", read_back="", control="LDACK-0"), at(3)).replace(
            "HIS|THCRIVER", "RIS|LEAD").replace("CV-LD-0001", CRITICAL).replace(
            "N017^周^丽^^^^护士", "3002^赵^刚^^^^主任医师").encode())
        await until(lambda: "DELIVERED" in [a for a, _ in critical(his, CRITICAL)],
                    "critical value at the HIS", seen=lambda: (
                        steps(his, READ), critical(his, CRITICAL), critical(ris, CRITICAL),
                        sides.answers))
        await sides.send("lead", dated(his_critical_ack(control="LDACK-1"), at(3)).replace(
            "HIS|THCRIVER", "RIS|LEAD").replace("CV-LD-0001", CRITICAL).encode(),
            expect="AE")
        await sides.send("thc-river", dated(his_critical_ack(), at(3)).replace(
            "CV-LD-0001", CRITICAL).encode())
        await sides.send("thc-river", dated(his_critical_ack(
            "RESOLVED", control="HKACK-0002"), at(4)).replace(
            "CV-LD-0001", CRITICAL).encode())
        await until(lambda: all(
            "RESOLVED" in [a for a, _ in critical(s, CRITICAL)]
            and any(step[3] == "1" for step in steps(s, LATE)) for s in systems.values()),
            "resolved and escalated", seen=lambda: (
                [(steps(s, LATE), critical(s, CRITICAL)) for s in systems.values()]))

    async def run() -> list[tuple[str, str]]:
        async with MemberSides(broker, systems, tmp_path) as sides:
            await scenario(sides)
            return sides.answers["lead"] + sides.answers["thc-river"]

    answers = asyncio.run(asyncio.wait_for(run(), 240))

    [order] = about(ris, READ, "ORM")
    assert (str(order["ORC.F1"]), str(order["OBR.F18"]), str(order["OBR.F24"])) == (
        "NW", "CT20261207-0042", "CT")
    assert str(order["PID.F3.R1.C1"]) == RESIDENT_ID
    assert about(his, READ, "ORM") == []  # the examining member is not sent its own request
    for fake in (ris, his):
        assert steps(fake, READ) == [
            ("I", "", "waiting-for-images", "0"),
            ("I", "IMAGES_AVAILABLE", "images-available", "0"),
            ("I", "CLAIMED", "claimed", "0"), ("P", "PRELIMINARY_REPORT", "preliminary", "0"),
            ("F", "FINAL_REPORT", "final", "0")], fake.member
        assert [action for action, _ in critical(fake, CRITICAL)] == [
            "RAISED", "DOUBLE_CHECKED", "DELIVERED", "ACKNOWLEDGED", "RESOLVED"], fake.member
        assert "1" in [step[3] for step in steps(fake, LATE)], fake.member
    refused = [(code, error) for code, error in answers if code != "AA"]
    assert refused == [("AE", "ZCV^1^2")]  # only the lead's acknowledgement
    final_oru = [m for m in about(his, READ) if str(m["OBR.F25"]) == "F"][-1]
    assert str(final_oru.segment("OBR")[32]) == "1024&张伟"  # the reviewer
    findings = final_oru.segments("OBX")[0]
    assert "右肺下叶见斑片状高密度影" in "".join(str(line) for line in findings[5])


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
    assert "右肺下叶炎症" in (told.results[0].conclusion or "")
