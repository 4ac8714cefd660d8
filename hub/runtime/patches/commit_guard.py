"""Faust never commits an input partition past a message that no agent has acked.

Faust commits a partition up to the end of the first run of consecutive acked offsets,
with two allowances that each let it pass over a message nobody processed:

- it holds back only while that run starts more than one past the offset it believes
  committed (`Consumer._new_offset`: `min(acked) - committed > 1`). A committed offset is
  the next message to process, so one unacked message right there is committed over:
  with committed 284 and acked [285, 286] Faust commits 287.
- when its fetch loop sees a partition's offsets jump, it records the offsets jumped over
  as a gap and counts them as acked (`Consumer._add_gap`). After a seek, the rest of a
  batch already fetched makes such a jump over messages that were never delivered.

Both allowances exist for offsets that hold no message (a transaction's control records,
compacted topics). The hub's inputs have none: every topic is delete-policy and written
without transactions (the deployment's ACLs grant members no transactional id), so every
offset holds a message, and a jump or a hole means messages were skipped. Such holes do
happen right after a rebalance (a message Faust's fetch loop abandons when the flow is
suspended); a test where a second worker joined the group and left lost one order.

So a partition is held back until its committed offset is acked itself, and jumps are not
counted as acked; hub/runtime/patches/commit_repair.py then delivers the hole again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

from hub import metrics

log = logging.getLogger(__name__)
_ORIGINAL_NEW_OFFSET: Callable[[Any, TP], int | None] = Consumer._new_offset
_ORIGINAL_ADD_GAP: Callable[..., Awaitable[None]] = Consumer._add_gap


def held_back(acked: Iterable[int], committed: int | None) -> bool:
    """True when the message at the committed offset is not acked yet, so nothing after
    it may be committed. No committed offset yet (Faust believes None for 0 too) means the
    partition's start: 0, or its first offset once commit_repair has asked the broker
    (retention). Faust's own rule committed over the first messages of a partition a
    restarted worker's fetch had skipped (a crash test lost 12 orders so)."""
    lowest = min(acked, default=None)
    return lowest is not None and lowest > (committed or 0)


def install() -> None:
    """Patch Faust's commit rule (idempotent)."""

    @functools.wraps(_ORIGINAL_NEW_OFFSET)
    def new_offset_never_past_a_hole(self: Any, tp: TP) -> int | None:
        acked: list[int] = self._acked.get(tp) or []
        if held_back(acked, self._committed_offset.get(tp)):
            return None
        return _ORIGINAL_NEW_OFFSET(self, tp)

    @functools.wraps(_ORIGINAL_ADD_GAP)
    async def jumps_are_not_acks(self: Any, tp: TP, offset_from: int, offset_to: int) -> None:
        log.warning("%s[%d]: the fetch jumped from offset %d to %d; the offsets between "
                    "are not counted as processed", tp.topic, tp.partition, offset_from - 1,
                    offset_to)
        metrics.FETCH_JUMPS.labels(tp.topic).inc()

    Consumer._new_offset = new_offset_never_past_a_hole  # type: ignore[method-assign]
    Consumer._add_gap = jumps_are_not_acks  # type: ignore[method-assign]
