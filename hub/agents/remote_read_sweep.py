"""The remote-read watchdog's pass over the open reads, on the `remote-read-tasks` table
as a few functions see it (ReadsTable): hub.agents.remote_read_watchdog gives it the
Faust table, the benchmark (benchmarks/remote_read_watchdog.py) Faust's store without a
worker. Each read is judged on the value one lazy pass read, by its task alone (all that
engine.on_tick looks at before it finds a read due); only one with something to
do (due, or closed past its retention) is read again and changed under the flow's writing
lock, one at a time, giving way to the event loop every SWEEP_BATCH."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.rules.remote_read.engine import Context, Outcome, on_tick, owes_tick
from hub.rules.remote_read.engine import past_retention as closed_long_ago
from hub.rules.remote_read.record import ReadRecord, closed_since, stored_modality, stored_task

SWEEP_BATCH = 200  # entries judged between yields to the event loop

Entry = tuple[int, str, dict[str, Any]]  # (partition, key, value)
OpenCounts = dict[tuple[str, str], int]  # (reading centre, modality) -> open reads


@dataclass(frozen=True)
class ReadsTable:
    """What the pass does to the table and with an escalation: read a value again by key,
    write or delete one on its changelog partition, send an outcome (before its state is
    written), count it in the metrics; all under `writing`, the flow's lock."""

    get: Callable[[str], dict[str, Any] | None]
    put: Callable[[int, str, dict[str, Any]], Awaitable[None]]
    delete: Callable[[int, str], Awaitable[None]]
    send: Callable[[Outcome], Awaitable[None]]
    count: Callable[[Outcome], None]
    writing: asyncio.Lock


async def tick_read(table: ReadsTable, key: str, partition: int, now: datetime,
                    ctx: Context, retention: timedelta) -> ReadRecord | None:
    """Judge one read again under the writing lock (the flow interleaves between reads);
    the record if it is still open."""
    async with table.writing:
        value = table.get(key)
        if value is None:
            return None
        closed_at = closed_since(value)
        if closed_at is not None:
            if closed_long_ago(closed_at, now, retention):
                await table.delete(partition, key)
            return None
        record = ReadRecord.from_json(value)
        out = on_tick(record, now, ctx)
        if out.record is not None:
            await table.send(out)
            await table.put(partition, key, out.record.to_json())
            table.count(out)
            record = out.record
        return record


async def reads_pass(table: ReadsTable, entries: Iterable[Entry], now: datetime,
                     ctx: Context, retention: timedelta) -> OpenCounts:
    """Judged on the values one pass reads; only a read with something to do is read
    again and changed under the lock. The reads still open, by centre and modality."""
    open_reads: OpenCounts = {}
    for seen, (partition, key, value) in enumerate(entries, start=1):
        if seen % SWEEP_BATCH == 0:
            await asyncio.sleep(0)
        closed_at = closed_since(value)
        if closed_at is not None:
            if closed_long_ago(closed_at, now, retention):
                await tick_read(table, key, partition, now, ctx, retention)  # drops it
            continue
        task = stored_task(value)  # all on_tick judges: the rest is loaded only if due
        counted = (task.performer, stored_modality(value))
        if owes_tick(task, now, ctx):
            still_open = await tick_read(table, key, partition, now, ctx, retention)
            if still_open is None:
                continue
            counted = (still_open.reading, still_open.modality.value)
        open_reads[counted] = open_reads.get(counted, 0) + 1
    return open_reads
