"""The command-line tools talk in the product's own lines: library logs (kafka-python)
go to a log file, an unreachable broker is one clear error within 10 s, and the hub's data
dir (with the embedded broker's address) does not depend on the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.settings import PROJECT_ROOT, HubSettings

ROOT = Path(__file__).resolve().parents[2]
DOWN = "127.0.0.1:1"  # nothing listens there


def run(args: list[str], cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_LOG_JSON": "true", **env}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=full, text=True,
                          capture_output=True, timeout=60, check=False)
    return done, time.monotonic() - started


def test_dlq_list_with_the_broker_down_is_one_line_within_10_s(tmp_path: Path) -> None:
    done, took = run(["hub.cli", "dlq", "list"], tmp_path, HUB_BROKER=DOWN,
                     HUB_DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 1 and took < 10, (took, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "无法连接 Kafka 127.0.0.1:1" in lines[0], done.stderr
    assert done.stdout == ""
    library = (tmp_path / "data" / "hub.log").read_text(encoding="utf-8")
    assert "kafka." in library and "ECONNREFUSED" in library


def test_dlq_list_without_any_broker_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_BROKER"}
    done = subprocess.run([sys.executable, "-m", "hub.cli", "dlq", "list"], cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT), "HUB_DATA_DIR": str(tmp_path)},
                          text=True, capture_output=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: no broker: set HUB_BROKER or start the embedded one with `hub broker`"]


def test_a_connector_shows_its_own_lines_and_files_the_librarys(tmp_path: Path) -> None:
    csv_file = tmp_path / "stock.csv"
    csv_file.write_text("kind,drug_code,quantity,at\nCOUNT,YP000123,1,2025-03-01 18:00\n")
    done, _ = run(["connectors.cli", "import-csv", str(csv_file)], tmp_path,
                  HUB_BROKER=DOWN, HUB_MEMBER_ID="lead", HUB_PUBLISH_TIMEOUT="1")
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "kafka." not in output and "ECONNREFUSED" not in output, output
    assert "Kafka" in output  # the connector's own line says what happened
    library = (tmp_path / ".hub-connector" / "connector.log").read_text(encoding="utf-8")
    assert "kafka." in library


def test_the_data_dir_is_the_projects_whatever_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HUB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = HubSettings()
    assert settings.data_dir == PROJECT_ROOT / ".hub" == ROOT / ".hub"
    assert settings.data_dir.is_absolute()
