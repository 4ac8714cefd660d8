"""MLLP framing on its own: frames in, messages out, and the byte streams that are not MLLP."""

from __future__ import annotations

import asyncio

import pytest

from connectors.member.mllp.framing import FrameReader, FramingError, frame, unframe

MESSAGE = "MSH|^~\\&|LIS|LEAD|||20250301||ORU^R01|1|P|2.5\rPID|1||X||张^三\r".encode()


def read_all(data: bytes, max_bytes: int = 1 << 16) -> list[bytes | None]:
    async def run() -> list[bytes | None]:
        reader = asyncio.StreamReader(limit=max_bytes + 64)
        reader.feed_data(data)
        reader.feed_eof()
        frames = FrameReader(reader, max_bytes)
        out: list[bytes | None] = []
        while True:
            message = await frames.read_frame()
            out.append(message)
            if message is None:
                return out

    return asyncio.run(run())


def test_frame_round_trip() -> None:
    framed = frame(MESSAGE)
    assert framed[:1] == b"\x0b" and framed[-2:] == b"\x1c\x0d"
    assert unframe(framed) == MESSAGE


def test_a_message_with_framing_bytes_cannot_be_framed() -> None:
    with pytest.raises(FramingError):
        frame(b"MSH|\x1c")
    with pytest.raises(FramingError):
        unframe(b"\x0bMSH\x0b|\x1c\x0d")


def test_several_frames_in_one_read_and_line_ends_between_them() -> None:
    data = frame(MESSAGE) + b"\r\n" + frame(b"MSH|second")
    assert read_all(data) == [MESSAGE, b"MSH|second", None]


def test_gb18030_bytes_pass_through_unchanged() -> None:
    body = "MSH|^~\\&|HIS||||||ADT^A04|2|P|2.5\rPID|1||X||欧阳^娜娜\r".encode("gb18030")
    assert read_all(frame(body)) == [body, None]


@pytest.mark.parametrize(("data", "words"), [
    (b"HELLO" + frame(MESSAGE), "expected <VT>"),
    (b"\x0bMSH|never terminated", "closed inside a frame"),
    (b"\x0bMSH|first\x0bMSH|second\x1c\x0d", "<VT> inside a frame"),
    (frame(b"M" * 2000), "exceeds"),
])
def test_streams_that_are_not_mllp_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(FramingError, match=words):
        read_all(data, max_bytes=1000)
