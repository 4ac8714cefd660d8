"""Fixtures: an embedded broker per test module, hub workers as subprocesses, the member
SDK, and a reader that decodes whole topics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from connectors.sdk import MemberPublisher
from hub.admin import create_topics
from hub.embedded_broker import EmbeddedBroker, free_port
from schemas.codec import AvroCodec, CodecError
from schemas.models import Event
from schemas.reference.registry import load_registry
from schemas.topics import catalogue

ROOT = Path(__file__).resolve().parent.parent
CODEC = AvroCodec()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("broker")).start()
    create_topics(embedded.bootstrap, catalogue(load_registry().ids))
    yield embedded
    embedded.stop()


class WorkerProcess:
    """A `hub worker` subprocess with its own app id, data dir and web port."""

    def __init__(self, bootstrap: str, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "HUB_BROKER": bootstrap,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_WEB_PORT": str(self.web_port),
            "HUB_SESSION_TIMEOUT": "6",
            "HUB_LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log_path = data_dir / f"worker-{self.web_port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker"], env=self.env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as reply:
                    if b'"assigned_partitions": 0' not in reply.read():
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"worker not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self, timeout: float = 60.0) -> WorkerProcess:
        self.stop()
        return self.start(timeout)


@pytest.fixture
def start_worker(
    broker: EmbeddedBroker, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        env.setdefault("HUB_APP_ID", f"hub-test-{tmp_path.name}")
        worker = WorkerProcess(broker.bootstrap, tmp_path, env)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.kill()


@pytest.fixture
def publisher(broker: EmbeddedBroker) -> Iterator[Callable[[str], MemberPublisher]]:
    made: dict[str, MemberPublisher] = {}

    def get(member_id: str) -> MemberPublisher:
        if member_id not in made:
            made[member_id] = MemberPublisher(broker.bootstrap, member_id)
        return made[member_id]

    yield get
    for pub in made.values():
        pub.close()


Decoded = tuple[bytes | None, Event]


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every message now on a topic, from the beginning, in partition order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=500)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        out: list[tuple[bytes | None, bytes]] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


@pytest.fixture
def read_topic(broker: EmbeddedBroker) -> Callable[..., list[Decoded]]:
    def read(
        topic: str,
        until: Callable[[list[Decoded]], bool] | None = None,
        timeout: float = 30.0,
        kinds: tuple[type[Event], ...] | None = None,
    ) -> list[Decoded]:
        """Decode a whole topic; with `until`, re-read until it holds or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            decoded: list[Decoded] = []
            for key, value in read_all(broker.bootstrap, topic):
                try:
                    event = CODEC.decode(value)
                except CodecError:
                    continue
                if kinds is None or isinstance(event, kinds):
                    decoded.append((key, event))
            if until is None or until(decoded) or time.monotonic() > deadline:
                return decoded
            time.sleep(0.3)

    return read


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
