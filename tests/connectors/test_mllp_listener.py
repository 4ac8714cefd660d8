"""The HL7 listener over real TCP on 127.0.0.1 with an in-memory sink: ACK/NACK content,
charsets, the dead-letter file, publish failures, resends, and a responsive event loop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import hl7
import pytest

from connectors import metrics
from connectors.member.deadletter import DeadLetterFile
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mapping import MemorySink
from connectors.member.mllp.client import MllpClient, send_message
from connectors.member.mllp.framing import frame
from connectors.member.sdk import PublishError
from schemas.models import Event, ImagingReport, LabResult
from tests.connectors.test_hl7_messages import imaging_oru, lab_oru, message, order_orm

TIMEOUT = 10.0


def run_listener(
    tmp_path: Path, sink: MemorySink, scenario: Callable[[int], Awaitable[None]]
) -> DeadLetterFile:
    dead_letters = DeadLetterFile(tmp_path / "dead-letter", "lead")

    async def main() -> None:
        server = await start_hl7_listener(sink, "lead", dead_letters=dead_letters)
        try:
            await asyncio.wait_for(scenario(server.port), TIMEOUT)
        finally:
            await server.close()

    asyncio.run(main())
    return dead_letters


def segments(reply: bytes, charset: str = "utf-8") -> dict[str, list[str]]:
    """The reply's segments by id, fields split (index n is field n, MSH shifted by one)."""
    parsed = hl7.parse(reply.decode(charset))
    out: dict[str, list[str]] = {}
    for segment in parsed:
        name = str(segment[0])
        fields = str(segment).split("|")
        out[name] = ["MSH", "|", *fields[1:]] if name == "MSH" else fields
    return out


def accepted_count() -> float:
    value = metrics.REGISTRY.get_sample_value("connector_mllp_acks_total", {"code": "AA"})
    return value or 0.0


def test_lab_results_are_acknowledged_after_publishing(tmp_path: Path) -> None:
    sink = MemorySink()
    replies: list[bytes] = []
    before = accepted_count()

    async def scenario(port: int) -> None:
        replies.append(await send_message("127.0.0.1", port, lab_oru().encode()))

    dead = run_listener(tmp_path, sink, scenario)
    ack = segments(replies[0])
    assert ack["MSA"][1:3] == ["AA", "LAB20250301001"]
    assert ack["MSH"][9] == "ACK^R01^ACK" and ack["MSH"][18] == "UNICODE UTF-8"
    assert ack["MSH"][3:7] == ["HUB", "ANXIAN", "LIS", "LEAD"]
    assert [type(e) for e in sink.events] == [LabResult] * 3
    assert all(e.envelope.event_id in ack["MSA"][3] for e in sink.events)
    assert "ERR" not in ack and dead.read_all() == []
    assert accepted_count() == before + 1


def test_imaging_report_and_several_messages_on_one_connection(tmp_path: Path) -> None:
    sink = MemorySink()
    codes: list[str] = []

    async def scenario(port: int) -> None:
        async with MllpClient("127.0.0.1", port) as client:
            for text in (imaging_oru(), order_orm(), lab_oru(potassium_code="NOPE")):
                codes.append(segments(await client.send(text.encode()))["MSA"][1])

    run_listener(tmp_path, sink, scenario)
    assert codes == ["AA", "AA", "AE"]
    assert isinstance(sink.events[0], ImagingReport) and len(sink.events) == 3


def test_gb18030_chinese_name_and_ack_in_the_same_charset(tmp_path: Path) -> None:
    sink = MemorySink()
    replies: list[bytes] = []
    good = lab_oru(charset="GB 18030-2000").replace("张^三", "欧阳^娜娜")
    broken = good.replace("|4.1|", "|四点一|")

    async def scenario(port: int) -> None:
        async with MllpClient("127.0.0.1", port) as client:
            for text in (good, broken):
                replies.append(await client.send(text.encode("gb18030")))

    run_listener(tmp_path, sink, scenario)
    accepted, refused = (segments(r, "gb18030") for r in replies)
    assert accepted["MSA"][1] == "AA" and accepted["MSH"][18] == "GB 18030-2000"
    assert isinstance(sink.events[0], LabResult) and sink.events[0].patient.name == "欧阳娜娜"
    assert refused["MSA"][1] == "AE" and "四点一" in refused["MSA"][3]
    with pytest.raises(UnicodeDecodeError):
        replies[1].decode("utf-8")


def test_broken_segment_is_refused_and_dead_lettered(tmp_path: Path) -> None:
    sink = MemorySink()
    replies: list[bytes] = []
    broken = imaging_oru().replace("结节影。", "结节影。\r纵隔淋巴结未见肿大。")

    async def scenario(port: int) -> None:
        replies.append(await send_message("127.0.0.1", port, broken.encode()))

    dead = run_listener(tmp_path, sink, scenario)
    ack = segments(replies[0])
    assert ack["MSA"][1:3] == ["AE", "RIS20250301007"]
    assert ack["ERR"][3] == "100^Segment sequence error^HL70357" and ack["ERR"][4] == "E"
    assert "segment 6" in ack["ERR"][8] and "segment 6" in ack["MSA"][3]
    assert sink.events == []
    [record] = dead.read_all()
    assert record["channel"] == "mllp" and record["reason_code"] == "MALFORMED"
    assert record["raw"] == broken  # the raw text, as received
    assert record["details"]["control_id"] == "RIS20250301007"


def test_unknown_code_refuses_the_whole_message(tmp_path: Path) -> None:
    sink = MemorySink()
    replies: list[bytes] = []

    async def scenario(port: int) -> None:
        replies.append(await send_message("127.0.0.1", port,
                                          lab_oru(potassium_code="K-OLD").encode()))

    dead = run_listener(tmp_path, sink, scenario)
    ack = segments(replies[0])
    assert ack["MSA"][1] == "AE"
    assert ack["ERR"][2] == "OBX^1^3" and ack["ERR"][3].startswith("103^")
    assert "本地代码 'K-OLD'" in ack["MSA"][3] and "不在项目目录中" in ack["MSA"][3]
    assert sink.events == []  # the two good OBX are not published either
    assert [r["reason_code"] for r in dead.read_all()] == ["UNMAPPED_CODE"]
    files = list((tmp_path / "dead-letter").glob("*.jsonl"))
    assert len(files) == 1
    assert json.loads(files[0].read_text().splitlines()[0])["member_id"] == "lead"


def test_unsupported_type_and_publish_failure_are_rejected_for_a_resend(tmp_path: Path) -> None:
    sink = MemorySink(fail_with=PublishError("broker unreachable"))
    replies: list[bytes] = []

    async def scenario(port: int) -> None:
        async with MllpClient("127.0.0.1", port) as client:
            replies.append(await client.send(message(type_="QRY^A19").encode()))
            replies.append(await client.send(lab_oru().encode()))
            replies.append(await client.send(b"this is not HL7 at all"))

    dead = run_listener(tmp_path, sink, scenario)
    unsupported, unwritten, garbage = (segments(r) for r in replies)
    assert unsupported["MSA"][1] == "AR" and unsupported["ERR"][3].startswith("200^")
    assert unwritten["MSA"][1] == "AR" and unwritten["ERR"][3].startswith("207^")
    assert "请稍后重发" in unwritten["MSA"][3]
    assert garbage["MSA"][1] == "AE" and "消息不是以 MSH 开头" in garbage["MSA"][3]
    assert [r["reason_code"] for r in dead.read_all()] == [
        "UNSUPPORTED", "PUBLISH_FAILED", "MALFORMED"]


def test_a_resend_gives_the_same_event_ids(tmp_path: Path) -> None:
    sink = MemorySink()

    async def scenario(port: int) -> None:
        for _ in range(2):
            await send_message("127.0.0.1", port, lab_oru().encode())

    run_listener(tmp_path, sink, scenario)
    ids = [e.envelope.event_id for e in sink.events]
    assert len(ids) == 6 and ids[:3] == ids[3:]


class SlowSink(MemorySink):
    """Blocks like a Kafka write waiting for acks."""

    def publish_many(self, events: Sequence[Event]) -> int:
        time.sleep(0.5)
        return super().publish_many(events)


def test_event_loop_answers_others_while_a_publish_blocks(tmp_path: Path) -> None:
    sink = SlowSink()
    finished: list[tuple[str, float]] = []

    async def scenario(port: int) -> None:
        async def send(name: str, text: str) -> None:
            await send_message("127.0.0.1", port, text.encode())
            finished.append((name, time.monotonic()))

        slow = asyncio.create_task(send("published", lab_oru()))
        await asyncio.sleep(0.1)
        await send("refused", lab_oru(potassium_code="NOPE", control="LAB2"))
        await slow

    run_listener(tmp_path, sink, scenario)
    assert [name for name, _ in finished] == ["refused", "published"]
    assert len(sink.events) == 3


def test_a_framing_error_closes_only_that_connection(tmp_path: Path) -> None:
    sink = MemorySink()
    replies: list[bytes] = []

    async def scenario(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert await reader.read() == b""  # closed by the listener
        writer.close()
        replies.append(await send_message("127.0.0.1", port, lab_oru().encode()))
        _, writer2 = await asyncio.open_connection("127.0.0.1", port)
        writer2.write(frame(lab_oru().encode())[:-2])  # a peer that dies mid-frame
        writer2.close()

    run_listener(tmp_path, sink, scenario)
    assert segments(replies[0])["MSA"][1] == "AA"
