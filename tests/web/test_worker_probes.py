"""The probes Kubernetes and compose read, on a broker: `/ready` answers 503 while a worker
has no partitions or is still recovering its tables and 200 once it serves, `/health`
(liveness) answers 200 throughout; and a stopped worker (SIGTERM, as Kubernetes and compose
stop one) leaves the group, so another takes its partitions over at once rather than after
the session timeout (docs/deployment.md, "Workers: store, volumes and memory")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.index_scale import seed_index
from hub.brokers import BaseBroker
from hub.process.worker_process import WorkerProcess

# enough RocksDB recovery to be seen recovering with partitions assigned: ~1.2 s, ~10
# probes, on an idle machine (100,000 took 4.8 s to seed and 4.5 s to recover)
SEEDED_RESULTS = 20_000
LONG_SESSION_S = 45.0  # a SIGKILLed worker would keep its partitions this long


def worker(broker: BaseBroker, folder: Path, app_id: str, **env: str) -> WorkerProcess:
    return WorkerProcess(broker.bootstrap, folder, {
        **broker.worker_env(), "HUB_APP_ID": app_id, "HUB_STORE": "rocksdb://",
        "HUB_LOG_LEVEL": "info", **env})


def probe(started: WorkerProcess) -> tuple[int, int, dict[str, object]]:
    """(/health status, /ready status, /ready's body)."""
    health, _ = started.get("/health", headers={})
    ready, body = started.get("/ready", headers={})
    return health, ready, json.loads(body) if ready else {}


def assigned(started: WorkerProcess) -> int:
    status, body = started.get("/health", headers={})
    return int(json.loads(body)["assigned_partitions"]) if status == 200 else -1


def serving(started: WorkerProcess) -> bool:
    return probe(started)[1] == 200


def wait_until(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until `predicate()` held (fails the test after `timeout`)."""
    began = time.monotonic()
    while not predicate():
        assert time.monotonic() - began < timeout, f"not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - began


def test_ready_is_503_until_the_tables_are_recovered_and_health_200_throughout(
    broker: BaseBroker, tmp_path: Path,
) -> None:
    app_id = "hub-test-probes"
    seed_index(broker.bootstrap, app_id, SEEDED_RESULTS)
    started = worker(broker, tmp_path, app_id).start(wait=False)
    seen: list[tuple[int, int, dict[str, object]]] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and started.running():
            seen.append(probe(started))
            if seen[-1][1] == 200:
                break
            time.sleep(0.1)
        answered = [s for s in seen if s[0] != 0]  # from the moment the web port is up
    finally:
        started.kill()
    assert answered and answered[-1][1] == 200, f"never ready: {seen[-5:]}\n{started.log_tail()}"
    assert answered[-1][2]["ready"] is True and answered[-1][2]["status"] == "ready"
    assert all(health == 200 for health, _, _ in answered), "liveness failed while starting"
    recovering = [body for _, ready, body in answered if ready == 503]
    assert recovering, "never seen not ready"
    assert all(b["ready"] is False and b["status"] == "recovering" for b in recovering)
    # not only before joining: it had its partitions and was still restoring their tables
    assert any(int(str(b["assigned_partitions"])) > 0 for b in recovering), recovering[-3:]


def test_a_stopped_worker_leaves_the_group_and_the_other_takes_over_at_once(
    broker: BaseBroker, tmp_path: Path,
) -> None:
    app_id = "hub-test-leave"
    session = {"HUB_SESSION_TIMEOUT": str(LONG_SESSION_S)}
    first = worker(broker, tmp_path / "first", app_id, **session)
    second = worker(broker, tmp_path / "second", app_id, **session)
    try:
        first.start()
        alone = assigned(first)
        second.start()
        wait_until(lambda: serving(first) and serving(second)
                   and 0 < assigned(second) < alone + assigned(first), timeout=120)
        assert first.process is not None
        stopped_at = time.monotonic()
        first.stop(timeout=60)
        stop_s = time.monotonic() - stopped_at
        assert first.process.returncode == 0, f"not a clean stop:\n{first.log_tail()}"
        takeover_s = wait_until(lambda: serving(second) and assigned(second) == alone,
                                timeout=LONG_SESSION_S) + stop_s
    finally:
        first.kill()
        second.kill()
    # Without leaving (static membership) the group would wait out the 45 s session.
    assert takeover_s < LONG_SESSION_S / 3, f"took {takeover_s:.1f} s (stop {stop_s:.1f} s)"
    print(f"stop {stop_s:.1f} s, takeover {takeover_s:.1f} s")
