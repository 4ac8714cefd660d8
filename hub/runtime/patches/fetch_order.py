"""Each input partition reaches the agents in offset order, from wherever it was sought to.

Right after a rebalance, Faust's fetch loop can be handed a partition's records from past
the offset it has just sought to (the rest of a batch fetched before the seek): in the
rebalance test, jumps of 1 to 72 offsets on a dozen partitions at once, when a second
worker left the group. Faust would process the later records first and the skipped ones
later, if ever (hub/runtime/patches/commit_guard.py), and a ledger that sees a drug's
movements out of order can raise a shortage that never happened.

So the next offset expected of each partition is kept: every seek sets it, every record
handed over moves it on. A record past it is not handed over; the rest of that
partition's batch is dropped and the partition is sought back to the expected offset, so
the skipped records come first. Records before it are left to Faust, which drops what it
has read. A partition that still jumps after a few seeks back (its records there were
deleted by retention) is let through; the commit guard then holds its commits back and
hub/runtime/patches/commit_repair.py moves them on.

Seeks run in the consumer's own thread: Faust called aiokafka's `seek` from the worker's
thread, which wakes the fetcher through an event loop that is not that thread's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.types import TP, Message

from hub import metrics

log = logging.getLogger(__name__)
SEEKS_BACK_BEFORE_PASSING = 5

_ORIGINAL_GETMANY: Callable[..., AsyncIterator[tuple[TP, Message]]] = Consumer.getmany
_ORIGINAL_SEEK: Callable[..., Awaitable[None]] = Consumer.seek
_ORIGINAL_SEEK_TO_COMMITTED: Callable[..., Awaitable[Mapping[TP, int]]] = (
    ThreadDelegateConsumer.seek_to_committed
)
_ORIGINAL_THREAD_SEEK: Callable[..., Awaitable[None]] = ThreadDelegateConsumer._seek


class PartitionOrder:
    """The next offset expected of each partition, and the seeks back made for it."""

    def __init__(self) -> None:
        self.expected: dict[TP, int] = {}
        self.seeks_back: dict[TP, tuple[int, int]] = {}  # tp -> (expected offset, seeks)

    def sought(self, tp: TP, offset: int | None) -> None:
        if offset is None or offset < 0:  # the fetcher picks the start (no committed offset)
            self.expected.pop(tp, None)
        else:
            self.expected[tp] = offset

    def seek_back_to(self, tp: TP, offset: int) -> int | None:
        """Where to seek `tp` back to before handing over a record at `offset` (None: hand
        it over). Counts the seek; after a few for the same offset, it is passed over."""
        want = self.expected.get(tp)
        if want is None or offset <= want:
            return None
        expected_before, seeks = self.seeks_back.get(tp, (want, 0))
        seeks = seeks + 1 if expected_before == want else 1
        if seeks > SEEKS_BACK_BEFORE_PASSING:
            log.warning("%s[%d]: offsets %d..%d can't be fetched; passing over them",
                        tp.topic, tp.partition, want, offset - 1)
            return None
        self.seeks_back[tp] = (want, seeks)
        return want

    def handed_over(self, tp: TP, offset: int) -> None:
        want = self.expected.get(tp)
        if want is None or offset >= want:
            self.expected[tp] = offset + 1
            self.seeks_back.pop(tp, None)


def order_of(consumer: Any) -> PartitionOrder:
    order: PartitionOrder | None = consumer.__dict__.get("_hub_partition_order")
    if order is None:
        order = consumer.__dict__["_hub_partition_order"] = PartitionOrder()
    return order


def install() -> None:
    """Patch Faust's consumer (idempotent)."""

    @functools.wraps(_ORIGINAL_GETMANY)
    async def getmany_in_order(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        order = order_of(self)
        held: set[TP] = set()
        acks_enabled = self.app.topics.acks_enabled_for
        async for tp, message in _ORIGINAL_GETMANY(self, timeout):
            if tp in held:
                continue
            seek_to = (order.seek_back_to(tp, message.offset)
                       if acks_enabled(message.topic) else None)
            if seek_to is not None:
                held.add(tp)
                log.warning("%s[%d]: fetched offset %d where %d was due; seeking back",
                            tp.topic, tp.partition, message.offset, seek_to)
                metrics.FETCH_SEEKS_BACK.labels(tp.topic).inc()
                try:
                    await self._seek(tp, seek_to)
                except Exception as exc:  # an error here would stop Faust's fetch loop
                    log.warning("%s[%d]: seeking back to %d failed (%r); the next fetch "
                                "tries again", tp.topic, tp.partition, seek_to, exc)
                continue
            order.handed_over(tp, message.offset)
            yield tp, message

    @functools.wraps(_ORIGINAL_SEEK)
    async def seek_noting(self: Any, partition: TP, offset: int) -> None:
        await _ORIGINAL_SEEK(self, partition, offset)
        order_of(self).sought(partition, offset)

    @functools.wraps(_ORIGINAL_SEEK_TO_COMMITTED)
    async def seek_to_committed_noting(self: Any) -> Mapping[TP, int]:
        committed = await _ORIGINAL_SEEK_TO_COMMITTED(self)
        order = order_of(self)
        for tp, offset in committed.items():
            order.sought(tp, offset)
        return committed

    @functools.wraps(_ORIGINAL_THREAD_SEEK)
    async def seek_in_consumer_thread(self: Any, partition: TP, offset: int) -> None:
        await self._thread.call_thread(self._thread.seek, partition, offset)

    Consumer.getmany = getmany_in_order  # type: ignore[method-assign]
    Consumer.seek = seek_noting  # type: ignore[method-assign]
    ThreadDelegateConsumer.seek_to_committed = (  # type: ignore[method-assign]
        seek_to_committed_noting)
    ThreadDelegateConsumer._seek = seek_in_consumer_thread  # type: ignore[method-assign]
