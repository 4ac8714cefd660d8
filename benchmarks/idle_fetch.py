"""An idle worker's CPU on the broker of this run, with the fetch settings it runs with and
with each of them undone: the empty-fetch pause (hub/runtime/patches/fetch_backoff.py; the
embedded broker answers an empty fetch at once, Kafka holds it for `fetch_max_wait_ms`, so
the pause should matter only on the first), Kafka's hold of 20 ms instead of Faust's 1,500,
and the member topics' 8 partitions instead of 2 (a worker fetches 72 ingress partitions
for the nine members instead of 18)."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import Stage, cpu_seconds
from schemas.topics import INTERNAL_PARTITIONS

IDLE_SECONDS = 15.0


def idle_cpu(member_partitions: int = INTERNAL_PARTITIONS, **env: str) -> float:
    """Share of one core an idle worker burns (after it is ready)."""
    with Stage(member_partitions=member_partitions) as stage:
        worker = stage.worker("idle", **env).start(90)
        try:
            time.sleep(3)
            before = cpu_seconds(worker.pid)
            time.sleep(IDLE_SECONDS)
            return round((cpu_seconds(worker.pid) - before) / IDLE_SECONDS, 4)
        finally:
            worker.kill()


def run() -> dict[str, Any]:
    return {
        "idle_cpu": idle_cpu(),
        "without_the_empty_fetch_pause": idle_cpu(HUB_EMPTY_FETCH_BACKOFF_MS="0"),
        "with_faust_fetch_max_wait_1500_ms": idle_cpu(HUB_FETCH_MAX_WAIT_MS="1500"),
        "with_2_member_partitions": idle_cpu(member_partitions=2),
    }


if __name__ == "__main__":
    import json
    import os

    print(os.environ.get("HUB_BROKER_KIND", "auto"), json.dumps(run()))
