"""The embedded Kafka-compatible broker for one machine: noida-db, shipped on PyPI.

It keeps its data in a folder (a JSON snapshot survives restarts), listens on a loopback
port, and has correct end offsets, so Faust table recovery works on it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import noida_db
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

BINARY = Path(noida_db.__file__).parent / "noida-db"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_serving(bootstrap: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
            admin.list_topics()
            admin.close()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"broker at {bootstrap} did not answer within {timeout}s: {last!r}")


@dataclass
class EmbeddedBroker:
    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log = (self.data_dir / "broker.log").open("ab")
        self.process = subprocess.Popen(
            [str(BINARY), "start", "--only", "kafka", "--host", self.host,
             "--kafka-port", str(self.port), "--data-dir", str(self.data_dir / "noida")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            wait_until_serving(self.bootstrap, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
