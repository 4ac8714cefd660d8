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


def run_dev(data_dir: Path, log: Path, wanted: tuple[str, ...], seconds: float = 90) -> str:
    """`hub dev` until every `wanted` text is on its console (or time is up), then Ctrl-C."""
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_WEB_PORT": str(free_port()),
           "HUB_SESSION_TIMEOUT": "6", "COLUMNS": "200"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "dev"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + seconds
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
    return text


# The demo's story as the second test below reads it (the first run serves both tests).
STORY = ("INITIAL 报告卡", "缺药", "REJECTED DUPLICATE_EVENT",
         "TRACE_DUPLICATE")  # the demo dispenses one pack twice, on purpose


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `hub dev` run on a new data dir, until the console shows the demo accepted and
    rejected and the whole story: (its data dir, its console)."""
    data_dir = tmp_path_factory.mktemp("dev")
    wanted = ("[dev] 工作进程已就绪", "[dev] 运维看板（点击即登录）：", "已接收",
              "REJECTED MEMBER_MISMATCH", "REJECTED MALFORMED", *STORY,
              "（下转，普通）已随访",  # the referral loop, closed
              "（CT，常规）终审报告", "已处置，thc-river 操作于",  # the read and its critical value
              "（CT，急诊）待阅片，hub 操作于")  # the late read, escalated by the watchdog
    return data_dir, run_dev(data_dir, data_dir / "dev-1.log", wanted)


def test_hub_dev_shows_the_demo_accepted_and_rejected(first_run: tuple[Path, str]) -> None:
    data_dir, text = first_run
    # each party reads each step of the referral on its own topic, in Chinese
    assert "out.vp-hexi 转出方收到：转诊 vp-hexi:HX-ZZ-" in text
    assert "out.lead 接收方收到：转诊 vp-hexi:HX-ZZ-" in text and "已预约" in text
    assert "转诊申请 HX-ZZ-" in text and "尚未到达" not in text
    # both members read each step of the remote read, in Chinese with Beijing times
    assert "out.thc-river 检查单位收到：阅片 thc-river:CT" in text
    assert "out.lead 阅片中心收到：危急值 WJZ-01" in text and "已复述确认" in text
    assert "/sign-in?token=dev-only-operator-token-change-me" in text  # the page, signed in
    assert "lead -> 张伟的血钾 4.1 mmol/L（3 天前）" in text
    assert "事件声明的成员单位为 lead，却发送到了 vp-hexi 的主题" in text  # reasons in Chinese
    # The first lines are the hub's own (a fresh demo state, then which broker, or Kafka
    # being resolved); the libraries' lines are in the log file.
    first, second = text.splitlines()[:2]
    assert first.startswith("[dev] 演示从全新状态开始"), text[:2000]
    assert second.startswith(("[dev] 消息代理", "[dev] 正在获取 Apache Kafka")), text[:2000]
    assert '"logger": "kafka' not in text and "ECONNREFUSED" not in text
    assert "kafka." in (data_dir / "hub.log").read_text(encoding="utf-8")


def test_a_second_run_tells_the_same_story(first_run: tuple[Path, str]) -> None:
    """The demo's patients and drugs are the same every run: with the last run's state
    kept, its cards came back as duplicates and no shortage was raised."""
    data_dir, first = first_run
    second = run_dev(data_dir, data_dir / "dev-2.log", STORY)
    for text in (first, second):
        assert "SAME_CASE" not in text, text[-3000:]
    # the one pack dispensed twice is the one alert: the last run's packs raise none
    assert second.count("告警 TRACE_DUPLICATE") == 1, second[-3000:]
