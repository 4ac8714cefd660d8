"""Two fetch timings of aiokafka's fetcher (which Faust runs), set for low latency.

A pause after an empty fetch: Kafka holds a fetch until data arrives or
`fetch_max_wait_ms` passes, but the embedded broker answers at once, so the fetcher
re-sent immediately: about 2,500 empty fetches a second and a whole core burnt by an idle
worker, and half the worker's time under load. After a fetch that brought no records the
fetcher now waits `HUB_EMPTY_FETCH_BACKOFF_MS` before the next one. On a real Kafka
cluster an empty answer has already waited the broker's maximum, so the extra pause
changes nothing there.

The prefetch backoff: while records fetched for one partition wait to be taken, aiokafka
sends no new fetch to that partition's broker for up to 100 ms (not configurable through
Faust or aiokafka's consumer). With every partition on few brokers, an event arriving
then waits that long, at every hop: it was most of the hub's latency tail (the mix at
250 events/s: p99 231 ms, 51 ms with 10 ms). `HUB_PREFETCH_BACKOFF_MS` sets it.

The fetch's maximum wait: Faust asks aiokafka for fetches that Kafka may hold 1,500 ms
when no data comes, and aiokafka keeps one fetch in flight per broker, leaving out the
partitions whose fetched records are still being taken. A partition left out that gets
a message meanwhile (the hub's second hop, a moment after its first) waits for the
in-flight fetch to come back: up to 1.5 s a hop. The embedded broker never holds a fetch,
so only Kafka showed it: the flows at 250 events/s had p50 1.3-5.9 s on Kafka against
14-37 ms on the embedded broker, in the same run. `HUB_FETCH_MAX_WAIT_MS` sets it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

_ORIGINAL_FETCH = Fetcher._proc_fetch_request
_ORIGINAL_INIT = Fetcher.__init__


def install(empty_backoff_ms: float, prefetch_backoff_ms: float | None = None,
            fetch_max_wait_ms: int | None = None) -> None:
    """Patch the fetcher (idempotent; 0 / None restore aiokafka's behaviour)."""
    _install_fetch_timings(prefetch_backoff_ms, fetch_max_wait_ms)
    if empty_backoff_ms <= 0:
        Fetcher._proc_fetch_request = _ORIGINAL_FETCH
        return
    pause = empty_backoff_ms / 1000.0
    original: Callable[..., Awaitable[bool]] = _ORIGINAL_FETCH

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


def _install_fetch_timings(backoff_ms: float | None, max_wait_ms: int | None) -> None:
    if backoff_ms is None and max_wait_ms is None:
        Fetcher.__init__ = _ORIGINAL_INIT
        return
    original: Callable[..., None] = _ORIGINAL_INIT

    @functools.wraps(original)
    def init_with_fetch_timings(self: Fetcher, *args: Any, **kwargs: Any) -> None:
        if backoff_ms is not None:
            kwargs["prefetch_backoff"] = backoff_ms / 1000.0
        if max_wait_ms is not None:
            kwargs["fetch_max_wait_ms"] = max_wait_ms
        original(self, *args, **kwargs)

    Fetcher.__init__ = init_with_fetch_timings
