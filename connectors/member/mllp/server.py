"""An asyncio MLLP listener. Each connection is served in order: a frame is read, handed
to the message handler, and its reply framed back before the next frame is read (HL7's
original acknowledgement mode). Connections are served concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from connectors import metrics
from connectors.member.mllp.framing import FrameReader, FramingError, frame

log = logging.getLogger(__name__)

# Takes one message (bytes, no framing) and returns the reply to send back. It must not
# raise: a handler that cannot handle a message answers it with a negative acknowledgement.
MessageHandler = Callable[[bytes], Awaitable[bytes]]


class MllpServer:
    def __init__(
        self,
        handler: MessageHandler,
        *,
        max_message_bytes: int = 4 * 1024 * 1024,
        idle_timeout: float = 600.0,
    ) -> None:
        self.handler = handler
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout
        self.server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> asyncio.Server:
        self.server = await asyncio.start_server(
            self._on_connection, host, port, limit=self.max_message_bytes + 64
        )
        return self.server

    @property
    def port(self) -> int:
        if self.server is None or not self.server.sockets:
            raise RuntimeError("the MLLP server is not listening")
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and end the connections (a message being handled completes)."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        log.info("MLLP connection from %s", peer)
        frames = FrameReader(reader, self.max_message_bytes)
        try:
            while True:
                message = await asyncio.wait_for(frames.read_frame(), self.idle_timeout)
                if message is None:
                    break
                started = time.perf_counter()
                reply = await asyncio.shield(self.handler(message))
                writer.write(frame(reply))
                await writer.drain()
                metrics.MLLP_SECONDS.observe(time.perf_counter() - started)
        except FramingError as exc:
            metrics.MLLP_FRAMING_ERRORS.inc()
            log.warning("closing MLLP connection from %s: %s", peer, exc)
        except TimeoutError:
            log.info("closing idle MLLP connection from %s", peer)
        except (ConnectionError, asyncio.CancelledError):
            log.info("MLLP connection from %s ended", peer)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


async def start_mllp_server(
    handler: MessageHandler,
    host: str,
    port: int,
    *,
    max_message_bytes: int = 4 * 1024 * 1024,
    idle_timeout: float = 600.0,
) -> MllpServer:
    """Listen on host:port (port 0: a free one, see `.port`) and serve with `handler`."""
    server = MllpServer(handler, max_message_bytes=max_message_bytes, idle_timeout=idle_timeout)
    await server.start(host, port)
    return server
