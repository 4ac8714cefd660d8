"""The remote-diagnosis watchdog: late reads escalate (the centre's supervisor, then the
backup centre), unacknowledged critical values escalate, closed ones past the retention
leave the tables. Judged on the values one lazy pass per owned partition reads
(hub.runtime.table_sweep.owned_entries; the reads' pass is hub.agents.remote_read_sweep,
which this module gives the Faust table); only an entry with something to do is read again
and changed under the flow's writing lock, one at a time, giving way every SWEEP_BATCH."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

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
from hub.agents.remote_read_sweep import SWEEP_BATCH, ReadsTable, reads_pass
from hub.rules.remote_read.critical import CriticalContext, CriticalRecord, on_critical_tick
from hub.rules.remote_read.engine import past_retention as closed_long_ago
from hub.runtime import table_sweep, table_writes
from hub.runtime.app import app
from hub.runtime.services import runtime


def _reads_table() -> ReadsTable:
    async def put(partition: int, key: str, value: dict[str, Any]) -> None:
        await table_writes.put(tasks, partition, key, value)

    async def delete(partition: int, key: str) -> None:
        await table_writes.delete(tasks, partition, key)

    return ReadsTable(tasks.get, put, delete, send, count, writing)


async def _reads_pass(now: datetime, owned: set[int], retention: timedelta) -> None:
    entries = table_sweep.owned_entries(tasks, owned, lambda key, _: home_partition(key))
    open_reads = await reads_pass(_reads_table(), entries, now, context(), retention)
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
