"""Issue 23's catalogue fix reaching a running connector, on a broker: `hub-connector mllp`
answers AE for a local code its catalogue lacks; the operator adds the item
(HUB_ITEMS_FILE) and runs `hub reference publish`; seconds later the same message to the
same connector process is answered AA and its LabResult is on the member's ingress topic.
A broken catalogue published behind the hub's back is refused by the connector, which
keeps mapping with the version it has."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from connectors.member.mllp.client import send_message
from connectors.member.reference_status import versions_in_use
from hub.brokers import BaseBroker, free_port
from schemas.models import LabResult
from schemas.reference.published import PublishedFile
from schemas.topics import REFERENCE, ingress_topic
from tests.conftest import Decoded
from tests.connectors.test_mllp_integration import msa
from tests.connectors.test_reference_data import GLUCOSE_CODE, glucose_oru, items_with_glucose_code

pytestmark = pytest.mark.integration
MEMBER = "lead"
ROOT = Path(__file__).resolve().parents[2]


class Connector:
    def __init__(self, bootstrap: str, folder: Path) -> None:
        self.mllp_port, self.metrics_port = free_port(), free_port()
        self.log_path = folder / "mllp.log"
        self.env = {**os.environ, "HUB_BROKER": bootstrap, "HUB_MEMBER_ID": MEMBER,
                    "HUB_MLLP_HOST": "127.0.0.1", "HUB_MLLP_PORT": str(self.mllp_port),
                    "HUB_METRICS_HOST": "127.0.0.1", "HUB_METRICS_PORT": str(self.metrics_port),
                    "HUB_DATA_DIR": str(folder / "hub"), "PYTHONPATH": str(ROOT)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "connectors.cli", "mllp"], cwd=folder, env=self.env,
                stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def send(self, text: str) -> bytes:
        deadline = time.monotonic() + 40
        while True:
            try:
                return asyncio.run(send_message("127.0.0.1", self.mllp_port, text.encode(), 30))
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, self.log()
                time.sleep(0.2)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())

    def command(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", *args], env={**self.env, **env},
                              capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def connector(broker: BaseBroker, tmp_path: Path) -> Iterator[Connector]:
    started = Connector(broker.bootstrap, tmp_path)
    yield started
    started.process.terminate()
    started.process.wait(15)


def test_a_published_catalogue_reaches_the_running_connector(
    broker: BaseBroker, connector: Connector, tmp_path: Path,
    read_topic: Callable[..., list[Decoded]],
) -> None:
    oru = glucose_oru("GLU-E2E-1")
    refused = connector.send(oru)
    assert msa(refused)[0] == "AE" and f"'{GLUCOSE_CODE}'" in msa(refused)[2]

    items = tmp_path / "items.toml"
    items.write_bytes(items_with_glucose_code())
    start = time.monotonic()
    published = connector.command("hub.cli", "reference", "publish",
                                  HUB_ITEMS_FILE=str(items))
    assert published.returncode == 0, published.stderr
    version = PublishedFile.of("items.toml", items.read_bytes()).version
    assert f"items.toml 版本 {version}" in published.stdout

    while versions_in_use(connector.metrics())["items.toml"] != (version, "topic"):
        assert time.monotonic() - start < 15, connector.log()
        time.sleep(0.1)
    swap_seconds = time.monotonic() - start
    accepted = connector.send(oru)  # the same message, to the same process
    assert msa(accepted)[0] == "AA", msa(accepted)
    events = [e for _, e in read_topic(ingress_topic(MEMBER), timeout=30,
                                       until=lambda got: any(isinstance(e, LabResult)
                                                             for _, e in got))]
    [glucose] = [e for e in events if isinstance(e, LabResult)]
    assert (glucose.item_code, glucose.local_code, glucose.value_numeric) == (
        "GLU-F12", GLUCOSE_CODE, 182.0)
    assert f"items.toml 已切换到版本 {version}" in connector.log()
    print(f"catalogue in use {swap_seconds:.2f} s after `hub reference publish` started")

    # Both sides show the version: the hub what it published, the connector what it uses.
    status = connector.command("hub.cli", "reference", "status", HUB_ITEMS_FILE=str(items))
    assert status.returncode == 0 and "items.toml" in status.stdout, status.stderr
    assert version in status.stdout
    used = connector.command("connectors.cli", "reference")
    line = next(x for x in used.stdout.splitlines() if x.startswith("items.toml"))
    assert version in line and "(topic)" in line and "=" in line, used.stdout

    # Published behind the hub's back, a broken catalogue is refused and the old one kept.
    broken = PublishedFile.of("items.toml", b"[[items]\ncode = 'broken'", "mallory@nowhere")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    producer.send(REFERENCE.name, key=broken.key, value=broken.to_bytes()).get(30)
    producer.close()
    start = time.monotonic()
    while 'connector_reference_refused_total{kind="items.toml"} 1.0' not in connector.metrics():
        assert time.monotonic() - start < 15, connector.log()
        time.sleep(0.1)
    assert versions_in_use(connector.metrics())["items.toml"] == (version, "topic")
    assert msa(connector.send(glucose_oru("GLU-E2E-2")))[0] == "AA"
