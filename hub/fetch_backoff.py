"""A pause after an empty fetch, for brokers that answer fetches at once.

Kafka holds a fetch until data arrives or `fetch_max_wait_ms` passes. The embedded broker
answers at once, so aiokafka's fetcher (which Faust runs) re-sends immediately: about
2,500 empty fetches a second and a whole core burnt by an idle worker, and half the
worker's time under load. After a fetch that brought no records the fetcher now waits
`HUB_EMPTY_FETCH_BACKOFF_MS` before the next one. On a real Kafka cluster an empty answer
has already waited the broker's maximum, so the extra pause changes nothing there.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

_ORIGINAL = Fetcher._proc_fetch_request


def install(backoff_ms: float) -> None:
    """Wrap the fetcher's request handler (idempotent; 0 restores the original)."""
    if backoff_ms <= 0:
        Fetcher._proc_fetch_request = _ORIGINAL
        return
    pause = backoff_ms / 1000.0
    original: Callable[..., Awaitable[bool]] = _ORIGINAL

    @functools.wraps(original)
    async def fetch_then_pause_if_empty(self: Fetcher, *args: Any, **kwargs: Any) -> bool:
        has_new_data = await original(self, *args, **kwargs)
        if not has_new_data:
            try:
                await asyncio.sleep(pause)
            except asyncio.CancelledError:
                # Closing the fetcher cancels this task and awaits it without expecting
                # the error; aiokafka's own handler answers a cancel with False too.
                return False
        return has_new_data

    Fetcher._proc_fetch_request = fetch_then_pause_if_empty
