"""An idle worker's CPU with and without the empty-fetch pause
(hub/runtime/patches/fetch_backoff.py), on the broker of this run: the embedded broker
answers an empty fetch at once, Kafka holds it for `fetch_max_wait_ms`, so the pause should
matter only on the first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Stage

IDLE_SECONDS = 15.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def idle_cpu(backoff_ms: float) -> float:
    """Share of one core an idle worker burns (after it is ready)."""
    with Stage() as stage:
        worker = stage.worker("idle", HUB_EMPTY_FETCH_BACKOFF_MS=str(backoff_ms)).start(90)
        try:
            time.sleep(3)
            before = cpu_seconds(worker.pid)
            time.sleep(IDLE_SECONDS)
            return (cpu_seconds(worker.pid) - before) / IDLE_SECONDS
        finally:
            worker.kill()


def run() -> dict[str, Any]:
    return {"idle_cpu_with_pause": idle_cpu(5.0), "idle_cpu_without_pause": idle_cpu(0.0)}


if __name__ == "__main__":
    import json
    import os

    print(os.environ.get("HUB_BROKER_KIND", "auto"), json.dumps(run()))
