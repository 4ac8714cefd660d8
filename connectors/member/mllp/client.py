"""An MLLP client: sends a message and waits for the reply on the same connection. Used
to deliver feedback to a member's HIS, and by tests and benchmarks to drive the listener."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from connectors.member.mllp.framing import FrameReader, FramingError, frame


class MllpClient:
    def __init__(
        self, host: str, port: int, *, timeout: float = 10.0, max_reply_bytes: int = 1 << 20
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=self.max_reply_bytes + 64),
            self.timeout,
        )

    async def send(self, message: bytes) -> bytes:
        """Send one message and return the reply (the ACK), both without framing."""
        if self._writer is None or self._reader is None:
            await self.connect()
        assert self._writer is not None and self._reader is not None
        self._writer.write(frame(message))
        await self._writer.drain()
        reply = await asyncio.wait_for(
            FrameReader(self._reader, self.max_reply_bytes).read_frame(), self.timeout
        )
        if reply is None:
            raise FramingError("the peer closed the connection without a reply")
        return reply

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def __aenter__(self) -> MllpClient:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def send_message(host: str, port: int, message: bytes, timeout: float = 10.0) -> bytes:
    """Open a connection, send one message, return its reply, close."""
    async with MllpClient(host, port, timeout=timeout) as client:
        return await client.send(message)
