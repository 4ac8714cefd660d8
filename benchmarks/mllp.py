"""HL7 v2 over MLLP, ACK to ACK: a listener publishing to the embedded broker (each ACK
only after Kafka has the events), and clients that each send the next message when the
previous ACK arrives, over one connection and over ten."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import Stage
from connectors.member.deadletter import DeadLetterFile
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mllp.client import MllpClient
from connectors.member.sdk import MemberPublisher

MEMBER = "lead"
ORU = (
    "MSH|^~\\&|LIS|LEAD|HUB|ANXIAN|20260301093000+0800||ORU^R01^ORU_R01|{control}|P|2.5.1"
    "|||||CHN|UNICODE UTF-8\r"
    "PID|1||510725198506123019^^^LEAD^ID||张^三||19850612|M\r"
    "OBR|1|ORD{control}|ACC{control}|BMP^基础代谢组合^L|||20260301071500+0800"
    "|||||||||D001^李^医生||||||20260301091500+0800||CH|F\r"
    "OBX|1|NM|L0001^钾^L||4.1|mmol/L|3.5-5.3|N|||F|||20260301080000+0800\r"
    "OBX|2|NM|L0002^钠^L||140|mmol/L|137-147|N|||F|||20260301080000+0800\r"
)


@dataclass
class MllpFigures:
    connections: int
    messages: int
    messages_per_s: float
    accepted: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _client(port: int, prefix: str, count: int) -> int:
    accepted = 0
    async with MllpClient("127.0.0.1", port, timeout=30) as client:
        for n in range(count):
            reply = await client.send(ORU.format(control=f"{prefix}{n:07d}").encode())
            accepted += b"MSA|AA" in reply
    return accepted


async def _run(bootstrap: str, connections: int, per_connection: int, folder: Path) -> MllpFigures:
    with MemberPublisher(bootstrap, MEMBER) as publisher:
        server = await start_hl7_listener(
            publisher, MEMBER, dead_letters=DeadLetterFile(folder, MEMBER))
        try:
            started = time.perf_counter()
            accepted = await asyncio.gather(*(
                _client(server.port, f"C{connections}-{c}-", per_connection)
                for c in range(connections)))
            elapsed = time.perf_counter() - started
        finally:
            await server.close()
    total = connections * per_connection
    return MllpFigures(connections, total, round(total / elapsed, 1), sum(accepted))


def run(connections: int, messages: int) -> MllpFigures:
    with Stage() as stage:
        folder = Path(tempfile.mkdtemp(prefix="mllp-dead-letter-"))
        return asyncio.run(_run(stage.bootstrap, connections, max(1, messages // connections),
                                folder))
