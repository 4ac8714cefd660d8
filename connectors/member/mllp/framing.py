"""MLLP framing: <VT> message <FS><CR>. Frames are bytes: the charset (MSH-18) is only
known once the message is parsed, and neither framing byte can occur inside UTF-8 or
GB18030 text (their multi-byte sequences use bytes from 0x30 and 0x80 up)."""

from __future__ import annotations

import asyncio

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
TRAILER = END_BLOCK + CARRIAGE_RETURN


class FramingError(ValueError):
    """The byte stream is not MLLP: the connection cannot be trusted any further."""


def frame(message: bytes) -> bytes:
    if START_BLOCK in message or END_BLOCK in message:
        raise FramingError("message contains an MLLP framing byte")
    return START_BLOCK + message + TRAILER


def unframe(data: bytes) -> bytes:
    """The message of exactly one complete frame."""
    if not data.startswith(START_BLOCK) or not data.endswith(TRAILER):
        raise FramingError("not one complete MLLP frame")
    message = data[len(START_BLOCK):-len(TRAILER)]
    if START_BLOCK in message or END_BLOCK in message:
        raise FramingError("more than one MLLP frame")
    return message


class FrameReader:
    """Reads frames off a stream. Bytes between frames that are only line ends or spaces
    (some senders add a newline) are skipped; anything else is a framing error."""

    def __init__(self, reader: asyncio.StreamReader, max_bytes: int) -> None:
        self.reader = reader
        self.max_bytes = max_bytes

    async def read_frame(self) -> bytes | None:
        """The next message, or None when the peer closed the connection between frames."""
        while True:
            first = await self.reader.read(1)
            if not first:
                return None
            if first == START_BLOCK:
                break
            if first not in b"\r\n \t":
                raise FramingError(f"expected <VT> to start a frame, got {first!r}")
        try:
            body = await self.reader.readuntil(TRAILER)
        except asyncio.IncompleteReadError as exc:
            raise FramingError(
                f"connection closed inside a frame after {len(exc.partial)} bytes"
            ) from exc
        except asyncio.LimitOverrunError as exc:
            raise FramingError(
                f"message exceeds the {self.max_bytes}-byte limit (no end after "
                f"{exc.consumed} bytes)"
            ) from exc
        message = body[:-len(TRAILER)]
        if len(message) > self.max_bytes:
            raise FramingError(
                f"message exceeds the {self.max_bytes}-byte limit ({len(message)} bytes)"
            )
        if START_BLOCK in message:
            raise FramingError("<VT> inside a frame: the previous frame was not terminated")
        return message
