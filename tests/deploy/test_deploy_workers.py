"""The hub workers that deploy/ ships are the workers the benchmarks measured: the same
store, standby replicas, partitions and session timeout as benchmarks/failover.py, each
worker's tables on its own volume, memory from the sizing rule in docs/deployment.md, and
probes that tell a recovering worker (alive, not ready) from a dead one. Parsed only: no
cluster runs here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from benchmarks import failover
from benchmarks.harness import PRODUCTION_COMMIT_INTERVAL, WORKER_ENV, Stage
from hub.settings import HubSettings
from tests.deploy.test_deploy_files import compose, compose_workers, k8s

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deployment.md"
PAGES = ROOT / "hub" / "web" / "pages.py"
WORKERS_SECTION = "## Workers: store, volumes and memory"

# The sizing rule (docs/deployment.md, "Workers: store, volumes and memory"): the limit is
# twice the largest recovery peak measured on RocksDB, the request twice the resident size
# measured serving after a recovery (README, Benchmarks).
LARGEST_ROCKSDB_RECOVERY_PEAK_MIB = 717  # 400,000 pharmacy ledgers (2026-11-25)
SERVING_RSS_MIB = 251  # 10,000,000 indexed results, Apache Kafka (2026-12-06)
HEADROOM = 2
# Measured (README, Benchmarks): a surviving worker serves a SIGKILLed one's partitions
# 7.8 s after the kill; a worker restarted on its own RocksDB serves within 4.0 s.
TAKEOVER_S = 7.8
RESTART_S = 4.0


def k8s_worker() -> dict[str, Any]:
    return k8s("StatefulSet", "hub-worker")


def k8s_container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = k8s_worker()["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def k8s_env() -> dict[str, str]:
    """The worker container's HUB_ variables with their values (config maps and env)."""
    found: dict[str, str] = {}
    for source in k8s_container().get("envFrom", []):
        if "configMapRef" in source:
            found.update(k8s("ConfigMap", source["configMapRef"]["name"])["data"])
    found.update({e["name"]: e["value"] for e in k8s_container().get("env", []) if "value" in e})
    return found


def deployed_envs() -> dict[str, dict[str, str]]:
    envs = {f"compose {name}": dict(spec["environment"])
            for name, spec in compose_workers().items()}
    envs["k8s hub-worker"] = k8s_env()
    return envs


def effective(env: dict[str, str], setting: str) -> str:
    """A setting as the worker sees it: its variable, else the setting's default."""
    variable = f"HUB_{setting.upper()}"
    return str(env.get(variable, HubSettings.model_fields[setting].default))


def mebibytes(quantity: str) -> int:
    """A memory quantity of Kubernetes (512Mi, 2Gi) or compose (512M, 2G: binary) in MiB."""
    match = re.fullmatch(r"(\d+)(Mi|Gi|M|G|m|g)", quantity)
    assert match, quantity
    return int(match[1]) * (1024 if match[2].lower().startswith("g") else 1)


def test_the_deployed_workers_run_what_the_failover_was_measured_with() -> None:
    stage_partitions = {f.name: f.default for f in dataclasses.fields(Stage)}[
        "member_partitions"]
    measured = {
        "store": failover.MEASURED_ENV["HUB_STORE"],
        "table_standby_replicas": failover.MEASURED_ENV["HUB_TABLE_STANDBY_REPLICAS"],
        "session_timeout": failover.SESSION_TIMEOUT_S,
        "member_partitions": stage_partitions,
        "commit_interval": PRODUCTION_COMMIT_INTERVAL,
        "heap_trim_interval_s": HubSettings.model_fields["heap_trim_interval_s"].default,
    }
    assert float(WORKER_ENV["HUB_SESSION_TIMEOUT"]) == failover.SESSION_TIMEOUT_S
    for where, env in deployed_envs().items():
        for setting, value in measured.items():
            deployed = effective(env, setting)
            if isinstance(value, float | int):
                assert float(deployed) == float(value), (where, setting, deployed, value)
            else:
                assert deployed == str(value), (where, setting, deployed, value)
    assert len(compose_workers()) == k8s_worker()["spec"]["replicas"] == 2


def test_each_worker_keeps_its_tables_on_its_own_volume() -> None:
    spec = k8s_worker()["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["name"]: m["mountPath"] for m in k8s_container()["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == k8s_env()["HUB_DATA_DIR"]
    pod_volumes = {v["name"] for v in spec["template"]["spec"]["volumes"]}
    assert claim["metadata"]["name"] not in pod_volumes, "an emptyDir would shadow the claim"
    governing = k8s("Service", spec["serviceName"])["spec"]
    assert governing["clusterIP"] == "None" and governing["publishNotReadyAddresses"]

    named_volumes, hostnames = [], []
    for name, worker in compose_workers().items():
        data_dir = worker["environment"]["HUB_DATA_DIR"]
        (volume,) = [v.split(":")[0] for v in worker["volumes"] if v.split(":")[1] == data_dir]
        assert volume in compose()["volumes"], (name, volume)
        named_volumes.append(volume)
        hostnames.append(worker["hostname"])
    assert len(set(named_volumes)) == len(named_volumes) == 2
    assert len(set(hostnames)) == 2, "a fixed hostname is the worker's static membership"


def test_worker_memory_follows_the_sizing_rule() -> None:
    resources = k8s_container()["resources"]
    limit = mebibytes(resources["limits"]["memory"])
    request = mebibytes(resources["requests"]["memory"])
    assert limit >= HEADROOM * LARGEST_ROCKSDB_RECOVERY_PEAK_MIB
    assert request >= HEADROOM * SERVING_RSS_MIB
    for name, worker in compose_workers().items():
        compose_resources = worker["deploy"]["resources"]
        assert mebibytes(compose_resources["limits"]["memory"]) == limit, name
        assert mebibytes(compose_resources["reservations"]["memory"]) == request, name
    section = GUIDE.read_text("utf-8").split(WORKERS_SECTION, 1)[1].split("\n## ", 1)[0]
    assert resources["limits"]["memory"] in section and resources["requests"]["memory"] in section
    assert f"{LARGEST_ROCKSDB_RECOVERY_PEAK_MIB} MB" in section


def test_probes_keep_a_recovering_worker_alive_and_out_of_the_service() -> None:
    pages = PAGES.read_text("utf-8")
    container = k8s_container()
    readiness, liveness, startup = (container[p] for p in (
        "readinessProbe", "livenessProbe", "startupProbe"))
    assert readiness["httpGet"]["path"] == "/ready"
    assert liveness["httpGet"]["path"] == startup["httpGet"]["path"] == "/health"
    for path in ("/ready", "/health"):
        assert f'@app.page("{path}")' in pages
    port = int(k8s_env()["HUB_WEB_PORT"])
    assert {p["httpGet"]["port"] for p in (readiness, liveness, startup)} == {port}
    # A surviving worker taking over (7.8 s) stays in the Service; a recovery longer than
    # the readiness window takes the worker out of it.
    readiness_window = readiness["periodSeconds"] * readiness["failureThreshold"]
    assert TAKEOVER_S < readiness_window <= 2 * TAKEOVER_S
    # A worker restarted on its RocksDB is back in the Service within a period of serving.
    assert readiness["periodSeconds"] * readiness.get("successThreshold", 1) <= RESTART_S + 1
    # Liveness never kills a worker for recovering: /health answers throughout; only a
    # web port silent for a minute is dead.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60
    grace = k8s_worker()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    session = failover.SESSION_TIMEOUT_S
    assert grace >= 10 * session
    for name, worker in compose_workers().items():
        assert "/ready" in " ".join(worker["healthcheck"]["test"]), name
        assert worker["stop_grace_period"] == f"{grace}s", name
