"""Each patch of Faust's and aiokafka's internals judged on a broker: the test that
motivated it, run with the patch and without (`HUB_DISABLED_PATCHES`), on the broker of
`HUB_BROKER_KIND`. Prints one row per run; the verdicts are in docs/architecture.md.

    .venv/bin/python -m benchmarks.patch_verdicts crash --runs 2      # commit rule, order, repair
    .venv/bin/python -m benchmarks.patch_verdicts handover            # group_leave
    .venv/bin/python -m benchmarks.patch_verdicts prefetch            # fetch_backoff's prefetch
    .venv/bin/python -m benchmarks.patch_verdicts rollback            # store_rollback's cost
    .venv/bin/python -m benchmarks.idle_fetch                         # fetch_backoff's pause
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from benchmarks.harness import Stage, cpu_seconds, preload, wait_drained
from benchmarks.scenarios import flow_latency
from benchmarks.workload import Workload, utcnow

# What each line the patches log says happened (their log texts).
SIGNS = {
    "jumps": "the fetch jumped",
    "seeks_back": "was due; seeking back",
    "holes_redelivered": "were never acked; delivering again",
    "stale_beliefs": "committed offset believed",
    "undelivered": "are waiting and none was delivered",
}
CRASH_CONFIGS: dict[str, list[str]] = {
    "all patches": [],
    "no commit_guard": ["commit_guard"],
    "no fetch_order": ["fetch_order"],
    "no commit_repair": ["commit_repair"],
    "none of the three": ["commit_guard", "fetch_order", "commit_repair"],
}


def _signs(folder: Path) -> dict[str, int]:
    counts = dict.fromkeys(SIGNS, 0)
    for log in folder.rglob("worker-*.log"):
        text = log.read_text(errors="replace")
        for name, sign in SIGNS.items():
            counts[name] += text.count(sign)
    return counts


def crash_run(disabled: list[str]) -> dict[str, object]:
    """tests/faults/test_crash_recovery.py once: which tests failed, what the patches logged."""
    folder = Path(tempfile.mkdtemp(prefix="hub-verdict-"))
    env = {**os.environ, "HUB_DISABLED_PATCHES": json.dumps(disabled)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
         str(folder), "tests/faults/test_crash_recovery.py"],
        env=env, capture_output=True, text=True, check=False)
    failed = re.findall(r"^FAILED \S+::(\S+)", done.stdout, re.MULTILINE)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return {"disabled": disabled, "seconds": round(time.monotonic() - started),
            "failed": failed, "summary": summary, **_signs(folder)}


def handover_seconds(disabled: list[str], session_timeout: float = 30.0) -> float:
    """Two workers; one stops gracefully; how long until a backlog written right after it
    stopped is answered by the other (static membership keeps a leaver's partitions until
    its session times out unless it leaves the group: hub/runtime/patches/group_leave.py)."""
    env = {"HUB_DISABLED_PATCHES": json.dumps(disabled),
           "HUB_SESSION_TIMEOUT": str(session_timeout)}
    with Stage() as stage:
        first = stage.worker("first", **env, HUB_APP_ID="bench-handover").start(120)
        second = stage.worker("second", **env, HUB_APP_ID="bench-handover").start(120)
        try:
            time.sleep(5)
            second.stop()
            stopped = time.monotonic()
            workload = Workload(seed=3)
            preload(stage.bootstrap, [workload.lab_result(utcnow()) for _ in range(400)])
            wait_drained(stage.bootstrap, "bench-handover", timeout=300)
            return time.monotonic() - stopped
        finally:
            first.kill()
            second.kill()


def rocksdb_drain(disabled: list[str], events: int) -> dict[str, float]:
    """A worker on rocksdb:// drains a preloaded mix: seconds and worker CPU per event."""
    workload = Workload(seed=5)
    now = utcnow()
    with Stage() as stage:
        preload(stage.bootstrap, [*workload.opening(now),
                                  *(workload.mix(now) for _ in range(events))])
        worker = stage.worker("rollback", HUB_STORE="rocksdb://",
                              HUB_DISABLED_PATCHES=json.dumps(disabled)).start(120)
        try:
            cpu_before = cpu_seconds(worker.pid)
            seconds = wait_drained(stage.bootstrap, "bench-rollback", timeout=600)
            cpu = cpu_seconds(worker.pid) - cpu_before
        finally:
            worker.kill()
    return {"events_per_s": round(events / seconds), "cpu_ms_per_event":
            round(cpu * 1000 / events, 3)}


@click.group()
def main() -> None:
    """Judge the patches of library internals on this run's broker."""


@main.command()
@click.option("--runs", default=1, help="Runs of each configuration")
@click.option("--configs", default=",".join(CRASH_CONFIGS), help="Which, comma-separated")
def crash(runs: int, configs: str) -> None:
    """The crash and rebalance tests with each of commit_guard, fetch_order, commit_repair
    left out."""
    for name in configs.split(","):
        for n in range(runs):
            row = crash_run(CRASH_CONFIGS[name])
            click.echo(json.dumps({"config": name, "run": n + 1, **row}, ensure_ascii=False))


@main.command()
@click.option("--rate", default=100.0, help="Mix events/s offered")
@click.option("--seconds", default=15.0)
def prefetch(rate: float, seconds: float) -> None:
    """fetch_backoff's prefetch backoff: the mix's latency with 10 ms and with aiokafka's
    100 ms."""
    for backoff in ("10", "100"):
        latencies, _ = flow_latency("mix", rate, seconds, HUB_PREFETCH_BACKOFF_MS=backoff)
        click.echo(json.dumps({"prefetch_backoff_ms": backoff, "samples":
                               len(latencies.samples_ms), "p50_ms": latencies.p50,
                               "p99_ms": latencies.p99}))


@main.command()
@click.option("--events", default=6000)
def rollback(events: int) -> None:
    """store_rollback's cost: a RocksDB worker's drain of the mix, with and without."""
    for disabled in ([], ["store_rollback"]):
        click.echo(json.dumps({"disabled": disabled, **rocksdb_drain(disabled, events)}))


@main.command()
def handover() -> None:
    """group_leave: the handover after a graceful stop, with and without."""
    for disabled in ([], ["group_leave"]):
        seconds = handover_seconds(disabled)
        click.echo(json.dumps({"disabled": disabled, "handover_s": round(seconds, 1)}))


if __name__ == "__main__":
    main()
