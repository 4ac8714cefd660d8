"""The harness of the HL7 loop tests (referral, remote read): each party's system is a fake
MLLP server on 127.0.0.1 answering AA, fed by the member's own `deliver-feedback` classes
(FeedbackReader + FeedbackDelivery with an MllpTarget); each party sends through the real
HL7 listener publishing with MemberPublisher. All in one event loop, every wait bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

import hl7
import pytest

from connectors.member.deadletter import DeadLetterFile
from connectors.member.feedback_delivery import FeedbackDelivery, MllpTarget, deliver_from
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mllp.client import MllpClient
from connectors.member.mllp.server import MllpServer, start_mllp_server
from connectors.member.sdk import FeedbackReader, MemberPublisher
from hub.brokers import BaseBroker
from schemas.reference.registry import load_registry
from schemas.topics import ingress_topic
from tests.conftest import WorkerProcess
from tests.runtime.test_store_rollback import start_past_what_is_there

ZONE = ZoneInfo("Asia/Shanghai")


def hl7_time(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%Y%m%d%H%M%S%z")


def has_segment(message: hl7.Message, name: str) -> bool:
    return any(str(s[0]) == name for s in message)


class FakeSystem:
    """A member's HIS or RIS: keeps what `deliver-feedback` sends over MLLP, answers AA."""

    def __init__(self, member: str, application: str = "HIS") -> None:
        self.member = member
        self.application = application
        self.received: list[hl7.Message] = []

    async def answer(self, raw: bytes) -> bytes:
        self.received.append(hl7.parse(raw.decode()))
        return (f"MSH|^~\\&|{self.application}|{self.member}|HUB|CONSORTIUM|"
                f"{hl7_time(datetime.now(UTC))}||ACK|A{len(self.received)}|P|2.5\r"
                "MSA|AA|X\r").encode()

    def of_kind(self, kind: str) -> list[hl7.Message]:
        return [m for m in self.received if str(m.segment("MSH")[9]).startswith(kind)]


async def until(condition: Callable[[], bool], what: str, timeout: float = 60,
                seen: Callable[[], object] = lambda: "") -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}; seen {seen()}") from None


def start_loop_worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
                      name: str, flow_topic: str, env: dict[str, str]) -> WorkerProcess:
    """One hub worker for a loop module, its group starting past the earlier modules'
    inputs, with the flow's watchdog sweeping every second."""
    data = tmp_path_factory.mktemp(name)
    app_id = f"hub-{name}-{data.name}"
    inputs = [ingress_topic(m) for m in load_registry().ids] + [flow_topic]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    return WorkerProcess(broker.bootstrap, data, {
        **broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6", **env,
    }).start()


class MemberSides:
    """Each party's systems wired to the hub as a member site runs them: its fake system
    behind `deliver-feedback`, its HL7 listener in front of the broker."""

    def __init__(self, broker: BaseBroker, systems: dict[str, FakeSystem], folder: Path) -> None:
        self.broker, self.systems, self.folder = broker, systems, folder
        self.answers: dict[str, list[tuple[str, str]]] = {m: [] for m in systems}
        self.publishers: dict[str, MemberPublisher] = {}
        self._servers: dict[str, MllpServer] = {}
        self._listeners: dict[str, MllpServer] = {}
        self._readers: dict[str, FeedbackReader] = {}
        self._stop = asyncio.Event()
        self._deliveries: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> MemberSides:
        for m, system in self.systems.items():
            self._servers[m] = await start_mllp_server(system.answer, "127.0.0.1", 0)
            self.publishers[m] = MemberPublisher(self.broker.bootstrap, m)
            self._listeners[m] = await start_hl7_listener(
                self.publishers[m], m, dead_letters=DeadLetterFile(self.folder / m, m))
            self._readers[m] = reader = FeedbackReader(
                self.broker.bootstrap, m, enable_auto_commit=False,
                group_id=f"site-{m}-{self.folder.name}", metadata_max_age_ms=1000)
            target = MllpTarget("127.0.0.1", self._servers[m].port, m,
                                charset_label="UNICODE UTF-8", zone=ZONE)
            self._deliveries.append(asyncio.create_task(deliver_from(
                reader.poll, reader.consumer.commit,
                FeedbackDelivery(target, retry_seconds=0.2), self._stop, 0.2)))
        return self

    async def send(self, member: str, message: bytes, expect: str = "AA") -> None:
        """One message from the member's system through its listener; the ACK is kept."""
        async with MllpClient("127.0.0.1", self._listeners[member].port, timeout=30) as client:
            ack = hl7.parse((await client.send(message)).decode("gb18030", "replace"))
        error = str(ack.segment("ERR")[2]) if has_segment(ack, "ERR") else ""
        self.answers[member].append((str(ack["MSA.F1"]), error))
        assert str(ack["MSA.F1"]) == expect, str(ack)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self._stop.set()
        await asyncio.gather(*self._deliveries)
        for m in self.systems:
            await self._listeners[m].close()
            await self._servers[m].close()
            self._readers[m].close()
            self.publishers[m].close()
