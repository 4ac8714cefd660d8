"""Unstick a partition whose commits are held back.

A partition's commits wait while the message at its committed offset is not acked (Faust's
rule, made strict by hub/runtime/patches/commit_guard.py: nothing is committed over a
message no agent processed). Four ways leave a partition there for good; the crash tests
saw the first, second and fourth, each right after a restart or a rebalance:

- a stale belief: Faust takes the committed offset from the broker when the partition is
  assigned, and after a worker is killed and restarted at once it can be behind the
  broker (seen on the embedded broker: 273 believed, 285 committed, acked from 285). The
  belief moves up to the broker's offset. That never skips input: the broker's committed
  offset only covers messages some worker has processed and flushed.
- a message never acked: Faust's fetch loop abandons a message when a rebalance suspends
  the flow, but still moves its read offset past it; or its ack is lost around a
  rebalance (seen: messages processed in order, twice, and still never acked). When the
  belief agrees with the broker and the same hole is still there at the next check, the
  partition is sought back to the committed offset: everything from there is delivered
  again (the agents are idempotent) and the hole is acked.
- messages deleted by retention before any worker took them: they can't be delivered
  again, so the belief moves up to the partition's first offset, with a warning.
- a partition with messages waiting that is not fetched at all (seen once in the
  rebalance test: 11 messages waiting for 90 s, nothing read past the committed offset):
  when that stays so across two checks while no other partition was read either, it is
  fetched again from the committed offset. A worker busy with a backlog leaves partitions
  unread for a while; a partition paused, or left out of fetches for backpressure, is
  left alone too.

Every few seconds this checks the assigned partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faust.types import TP

from hub import metrics
from hub.runtime.app import app
from hub.runtime.patches.commit_guard import held_back

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0

# partition -> (believed committed offset, first acked offset) at the last check
_holes_seen: dict[TP, tuple[int, int]] = {}
# partition -> (believed committed offset, read offset) at the last check, for partitions
# with messages waiting and nothing acked
_idle_seen: dict[TP, tuple[int, int | None]] = {}
# the sum of every partition's read offset at the last check: while it moves, the worker is
# busy (a backlog leaves partitions unread for a while) and no partition counts as stuck
_reads_seen: list[int] = []


def repaired(believed: int, on_broker: int | None, log_start: int | None = None) -> int | None:
    """The committed offset to believe instead, or None to leave it: the broker's when it
    is further on, the partition's first offset when retention deleted what lies below."""
    better = max((o for o in (on_broker, log_start) if o is not None), default=None)
    return better if better is not None and better > believed else None


def redeliver_from(acked: list[int], believed: int, on_broker: int | None,
                   seen_before: tuple[int, int] | None) -> int | None:
    """The offset to seek back to when a hole between the committed offset and the first
    acked one has stayed put since the last check (None: leave it)."""
    if on_broker != believed:
        return None
    return believed if seen_before == (believed, min(acked)) else None


def undelivered_from(believed: int, end: int | None, read: int | None,
                     seen_before: tuple[int, int | None] | None) -> int | None:
    """The offset to seek back to when messages wait on the broker (`end` past the
    committed offset) and none past the committed offset has been read, at this check and
    the last (None: leave it). Such a seek repeats nothing: nothing from there was read."""
    if end is None or end <= believed or (read is not None and read > believed):
        return None
    return believed if seen_before == (believed, read) else None


async def broker_offsets(consumer: Any, tp: TP) -> tuple[int | None, int | None]:
    """The group's committed offset of `tp` and the partition's first offset, as the
    broker has them."""
    thread = consumer._thread
    committed: int | None = await thread.call_thread(thread._ensure_consumer().committed, tp)
    first: Mapping[TP, int] = await consumer.earliest_offsets(tp)
    return committed, first.get(tp)


async def repair_stalled_commits() -> None:
    """The check, every few seconds; one that fails (the broker away) is tried again at
    the next, since an error would end the timer for good."""
    try:
        await check_commits()
    except Exception as exc:
        log.warning("checking the input partitions' commits failed (%r); again in %.0f s",
                    exc, CHECK_SECONDS)


async def check_commits() -> None:
    consumer: Any = app.consumer
    thread = getattr(consumer, "_thread", None)
    acked_by_tp = getattr(consumer, "_acked", None)
    believed_by_tp = getattr(consumer, "_committed_offset", None)
    if thread is None or acked_by_tp is None or believed_by_tp is None or app.rebalancing:
        return
    holes: dict[TP, tuple[int, int]] = {}
    for tp, live in list(acked_by_tp.items()):
        acked = list(live)  # Faust's commits shorten the live list while this awaits
        raw_belief = believed_by_tp.get(tp)
        if not held_back(acked, raw_belief):
            continue
        on_broker, log_start = await broker_offsets(consumer, tp)
        if believed_by_tp.get(tp) != raw_belief:  # committed meanwhile: look again next time
            continue
        # nothing committed yet (None, and Faust believes None for 0 too): the start
        believed = raw_belief or 0
        if not raw_belief and on_broker is None:
            on_broker = 0  # the broker has nothing either: both believe the start
        better = repaired(believed, on_broker, log_start)
        if better is not None:
            if on_broker is None or better > on_broker:
                log.warning("%s[%d]: offsets %d..%d were deleted by retention before any "
                            "worker took them", tp.topic, tp.partition, believed, better - 1)
                metrics.COMMIT_REPAIRS.labels("deleted").inc()
            else:
                log.warning("%s[%d]: committed offset believed %d, broker has %d; moving on",
                            tp.topic, tp.partition, believed, better)
                metrics.COMMIT_REPAIRS.labels("stale-belief").inc()
            believed_by_tp[tp] = better
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
    await redeliver_undelivered(consumer, acked_by_tp, believed_by_tp)


async def redeliver_undelivered(consumer: Any, acked_by_tp: dict[TP, list[int]],
                                believed_by_tp: dict[TP, int | None]) -> None:
    """Seek back the input partitions that have messages waiting but deliver none."""
    acks_enabled = app.topics.acks_enabled_for
    paused: set[TP] = (getattr(consumer, "_paused_partitions", set())
                       | getattr(consumer, "_buffered_partitions", set()))
    active: set[TP] | None = getattr(consumer, "_active_partitions", None)
    read_offsets: dict[TP, int | None] = getattr(consumer, "_read_offset", {})
    # no committed offset (Faust believes None for 0 too): nothing read means from 0
    idle = {tp: believed if believed is not None else 0 for tp in consumer.assignment()
            if acks_enabled(tp.topic) and tp not in paused and not acked_by_tp.get(tp)
            and ((believed := believed_by_tp.get(tp)) is not None
                 or read_offsets.get(tp) is None)}
    reads = sum(o for o in read_offsets.values() if o is not None)
    quiet = _reads_seen == [reads]
    _reads_seen[:] = [reads]
    if not quiet:  # busy: remember what is unread, and spare the broker the question
        _idle_seen.clear()
        _idle_seen.update({tp: (believed, read_offsets.get(tp)) for tp, believed in idle.items()})
        return
    ends: dict[Any, int] = await consumer.highwaters(*idle) if idle else {}
    seen: dict[TP, tuple[int, int | None]] = {}
    for tp, believed in idle.items():
        read = read_offsets.get(tp)
        seek_to = undelivered_from(believed, ends.get(tp), read, _idle_seen.get(tp))
        if seek_to is not None:
            log.warning("%s[%d]: offsets %d..%d are waiting and none was delivered "
                        "(fetched: %s); delivering again from %d", tp.topic, tp.partition,
                        believed, ends[tp] - 1, active is None or tp in active, seek_to)
            if active is not None:
                active.add(tp)
            await consumer.seek(tp, seek_to)
            metrics.COMMIT_REPAIRS.labels("undelivered").inc()
        elif (ends.get(tp) or 0) > believed:
            seen[tp] = (believed, read)
    _idle_seen.clear()
    _idle_seen.update(seen)


app.timer(interval=CHECK_SECONDS)(repair_stalled_commits)
