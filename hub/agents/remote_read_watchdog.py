"""The remote-diagnosis watchdog: late reads escalate (the centre's supervisor, then the
backup centre), unacknowledged critical values escalate, closed ones past the retention
leave the tables. Judged on the values one lazy pass per owned partition reads
(hub.runtime.table_sweep.owned_entries); only an entry with something to do is read again
and changed under the flow's writing lock, one at a time, giving way every SWEEP_BATCH."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from hub import metrics
from hub.agents.remote_read import (
    context,
    count,
    count_critical,
    critical_context,
    criticals,
    home_partition,
    load_record,
    owned_partitions,
    send,
    send_critical,
    tasks,
    writing,
)
from hub.rules.remote_read.critical import CriticalContext, CriticalRecord, on_critical_tick
from hub.rules.remote_read.engine import Context, on_tick
from hub.rules.remote_read.engine import past_retention as closed_long_ago
from hub.rules.remote_read.record import ReadRecord, closed_since
from hub.runtime import table_sweep, table_writes
from hub.runtime.app import app
from hub.runtime.services import runtime

SWEEP_BATCH = 200  # entries judged between yields to the event loop


async def _tick_read(key: str, partition: int, now: datetime, ctx: Context,
                     retention: timedelta) -> ReadRecord | None:
    """Judge one read again under the writing lock (the flow interleaves between reads);
    the record if it is still open."""
    async with writing:
        value = tasks.get(key)
        if value is None:
            return None
        closed_at = closed_since(value)
        if closed_at is not None:
            if closed_long_ago(closed_at, now, retention):
                await table_writes.delete(tasks, partition, key)
            return None
        record = ReadRecord.from_json(value)
        out = on_tick(record, now, ctx)
        if out.record is not None:
            await send(out)
            await table_writes.put(tasks, partition, key, out.record.to_json())
            count(out)
            record = out.record
        return record


async def _reads_pass(now: datetime, owned: set[int], retention: timedelta) -> None:
    """Judged on the values one pass reads; only a read with something to do is read
    again and changed under the lock."""
    ctx = context()
    open_reads: dict[tuple[str, str], int] = {}
    entries = table_sweep.owned_entries(tasks, owned, lambda key, _: home_partition(key))
    for seen, (partition, key, value) in enumerate(entries, start=1):
        if seen % SWEEP_BATCH == 0:
            await asyncio.sleep(0)
        closed_at = closed_since(value)
        if closed_at is not None:
            if closed_long_ago(closed_at, now, retention):
                await _tick_read(key, partition, now, ctx, retention)  # drops it
            continue
        record = ReadRecord.from_json(value)
        still_open: ReadRecord | None = record
        if on_tick(record, now, ctx).record is not None:
            still_open = await _tick_read(key, partition, now, ctx, retention)
        if still_open is not None:
            counted = (still_open.reading, still_open.modality.value)
            open_reads[counted] = open_reads.get(counted, 0) + 1
    for (centre, modality), n in open_reads.items():
        metrics.REMOTE_READS_OPEN.labels(centre, modality).set(n)


async def _tick_critical(key: str, partition: int, now: datetime, ctx: CriticalContext,
                         retention: timedelta) -> bool:
    """Judge one critical value again under the writing lock; whether it is still open."""
    async with writing:
        value = criticals.get(key)
        if value is None:
            return False
        record = CriticalRecord.from_json(value)
        if record.is_closed:
            if closed_long_ago(record.closed_at, now, retention):
                await table_writes.delete(criticals, partition, key)
            return False
        out = on_critical_tick(record, load_record(record.request_id), now, ctx)
        if out.record is not None:
            await send_critical(out)
            await table_writes.put(criticals, partition, key, out.record.to_json())
            count_critical(out)
        return True


async def _criticals_pass(now: datetime, owned: set[int], retention: timedelta) -> None:
    ctx = critical_context()
    still_open = 0
    entries = table_sweep.owned_entries(
        criticals, owned, lambda _, value: home_partition(value["critical"]["request_id"]))
    for seen, (partition, key, _value) in enumerate(entries, start=1):
        if seen % SWEEP_BATCH == 0:
            await asyncio.sleep(0)
        if await _tick_critical(key, partition, now, ctx, retention):
            still_open += 1
    metrics.CRITICAL_VALUES_OPEN.set(still_open)


async def remote_read_watchdog() -> None:
    """Escalate late reads and unacknowledged critical values; drop old closed ones.
    One at a time under the writing lock, giving way to the flow every SWEEP_BATCH."""
    if not table_sweep.ready():
        return
    now = runtime.now()
    owned = owned_partitions()
    retention = timedelta(days=runtime.settings.remote_read_closed_retention_days)
    await _reads_pass(now, owned, retention)
    await _criticals_pass(now, owned, retention)


app.timer(interval=runtime.settings.remote_read_sweep_seconds)(remote_read_watchdog)
