"""`make run` runs `hub dev`: within a minute it must show the demo's events arriving and
being accepted or rejected with reasons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.brokers import free_port

pytestmark = pytest.mark.integration


def test_hub_dev_shows_the_demo_accepted_and_rejected(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path), "HUB_WEB_PORT": str(free_port()),
           "HUB_SESSION_TIMEOUT": "6", "COLUMNS": "200"}
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "dev"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wanted = ("[dev] 工作进程已就绪", "已接收", "REJECTED MEMBER_MISMATCH",
              "REJECTED MALFORMED", "REJECTED DUPLICATE_EVENT")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if all(w in text for w in wanted):
                break
            assert proc.poll() is None, text
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text(errors="replace")
    missing = [w for w in wanted if w not in text]
    assert not missing, f"missing {missing} in:\n{text[-3000:]}"
    assert "lead -> 张伟的血钾 4.1 mmol/L（3 天前）" in text
    assert "事件声明的成员单位为 lead，却发送到了 vp-hexi 的主题" in text  # reasons in Chinese
    # The first line is the hub's own (which broker, or Kafka being resolved); the
    # libraries' lines are in the log file.
    assert text.startswith(("[dev] 消息代理", "[dev] 正在获取 Apache Kafka")), text[:2000]
    assert '"logger": "kafka' not in text and "ECONNREFUSED" not in text
    assert "kafka." in (tmp_path / "hub.log").read_text(encoding="utf-8")
