"""Unstick a partition whose commits Faust has stopped.

Faust commits an input partition only while its acked offsets run on from the offset it
believes committed (`Consumer._new_offset`: nothing while `min(acked) - committed > 1`).
Two ways were seen to leave a partition there for good, each right after a restart or a
rebalance:

- a stale belief: Faust takes it from the broker when the partition is assigned, and after
  a worker is killed and restarted at once it can be behind the broker (seen on the
  embedded broker: 273 believed, 285 committed, acked from 285). When the broker's
  committed offset already reaches the first acked offset, the belief moves up to it. That
  never skips input: the broker's committed offset only covers messages some worker has
  processed and flushed.
- a message never handed to the agents: Faust's fetch loop abandons a message when a
  rebalance suspends the flow, but still moves its read offset past it, so it is never
  acked. When the belief agrees with the broker and the same hole is still there at the
  next check, the partition is sought back to the committed offset: everything from there
  is delivered again (the agents are idempotent) and the hole is acked.

Every few seconds this checks the assigned partitions.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import TP

from hub import metrics
from hub.app import app

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0

# partition -> (believed committed offset, first acked offset) at the last check
_holes_seen: dict[TP, tuple[int, int]] = {}


def stalled(acked: list[int], believed: int | None) -> bool:
    return bool(acked) and believed is not None and min(acked) - believed > 1


def repaired(acked: list[int], believed: int, on_broker: int | None) -> int | None:
    """The committed offset to believe instead, or None to leave it."""
    if on_broker is None or on_broker <= believed or min(acked) - on_broker > 1:
        return None
    return on_broker


def redeliver_from(acked: list[int], believed: int, on_broker: int | None,
                   seen_before: tuple[int, int] | None) -> int | None:
    """The offset to seek back to when a hole between the committed offset and the first
    acked one has stayed put since the last check (None: leave it)."""
    if on_broker != believed:
        return None
    return believed if seen_before == (believed, min(acked)) else None


async def repair_stalled_commits() -> None:
    consumer: Any = app.consumer
    thread = getattr(consumer, "_thread", None)
    acked_by_tp = getattr(consumer, "_acked", None)
    believed_by_tp = getattr(consumer, "_committed_offset", None)
    if thread is None or acked_by_tp is None or believed_by_tp is None or app.rebalancing:
        return
    holes: dict[TP, tuple[int, int]] = {}
    for tp, acked in list(acked_by_tp.items()):
        believed = believed_by_tp.get(tp)
        if not stalled(acked, believed):
            continue
        on_broker = await thread.call_thread(thread._ensure_consumer().committed, tp)
        better = repaired(acked, believed, on_broker)
        if better is not None:
            log.warning("%s[%d]: committed offset believed %d, broker has %d; moving on",
                        tp.topic, tp.partition, believed, better)
            believed_by_tp[tp] = better
            metrics.COMMIT_REPAIRS.labels("stale-belief").inc()
            continue
        seek_to = redeliver_from(acked, believed, on_broker, _holes_seen.get(tp))
        if seek_to is not None:
            log.warning("%s[%d]: offsets %d..%d were never acked; delivering again from %d",
                        tp.topic, tp.partition, believed, min(acked) - 1, seek_to)
            await consumer.seek(tp, seek_to)
            metrics.COMMIT_REPAIRS.labels("redelivery").inc()
        else:
            holes[tp] = (believed, min(acked))
    _holes_seen.clear()
    _holes_seen.update(holes)


app.timer(interval=CHECK_SECONDS)(repair_stalled_commits)
