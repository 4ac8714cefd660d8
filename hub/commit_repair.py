"""Unstick a partition whose commits Faust has stopped.

Faust commits an input partition only while its acked offsets run on from the offset it
believes committed (`Consumer._new_offset`: nothing while `min(acked) - committed > 1`).
It takes that belief from the broker when the partition is assigned. After a worker is
killed and restarted at once, the belief can be behind the broker (seen on the embedded
broker: 273 believed, 285 committed, acked from 285), and the partition then never
commits again. Every few seconds this checks such partitions against the broker and,
when the broker's committed offset already reaches the first acked offset, moves the
belief up to it. That never skips unprocessed input: the broker's committed offset only
covers messages some worker has processed and flushed.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.app import app

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0


def stalled(acked: list[int], believed: int | None) -> bool:
    return bool(acked) and believed is not None and min(acked) - believed > 1


def repaired(acked: list[int], believed: int, on_broker: int | None) -> int | None:
    """The committed offset to believe instead, or None to leave it."""
    if on_broker is None or on_broker <= believed or min(acked) - on_broker > 1:
        return None
    return on_broker


async def repair_stalled_commits() -> None:
    consumer: Any = app.consumer
    thread = getattr(consumer, "_thread", None)
    acked_by_tp = getattr(consumer, "_acked", None)
    believed_by_tp = getattr(consumer, "_committed_offset", None)
    if thread is None or acked_by_tp is None or believed_by_tp is None:
        return
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


app.timer(interval=CHECK_SECONDS)(repair_stalled_commits)
