"""What every broker the hub starts on this machine offers: the embedded PyPI broker, one
Apache Kafka node, or a node of a three-node Kafka cluster."""

from __future__ import annotations

import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_serving(
    bootstrap: str, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None,
    **client_config: object,
) -> None:
    """Until the broker answers a metadata request; a `process` that exits meanwhile ends
    the wait at once. The port is awaited first with plain connects: a client started
    before the port opens backs off exponentially and answered ~5 s after Kafka was up."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    host, _, port = bootstrap.split(",")[0].rpartition(":")

    def port_open() -> None:
        socket.create_connection((host, int(port)), timeout=0.5).close()

    def metadata_answered() -> None:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000,
                                 **client_config)
        admin.list_topics()
        admin.close()

    for attempt, pause in ((port_open, 0.05), (metadata_answered, 0.2)):
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"broker at {bootstrap} did not answer within {timeout}s: {last!r}")
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"broker at {bootstrap} exited with {process.returncode}")
            try:
                attempt()
                break
            except (KafkaError, OSError) as exc:
                last = exc
                time.sleep(pause)


class BaseBroker(ABC):
    """A broker process on loopback with its data in a folder: started, stopped gently
    (`stop`) or not (`kill`), and started again on the same port with the same data."""

    kind: str = ""
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def worker_env(self) -> dict[str, str]:
        """Settings a hub worker on this broker needs beyond the defaults."""
        return {}

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @abstractmethod
    def start(self, timeout: float = 60.0) -> BaseBroker: ...

    def stop(self, timeout: float = 20.0) -> None:
        self.terminate()
        self.wait_stopped(time.monotonic() + timeout)

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting for it."""
        if self.running():
            assert self.process is not None
            self.process.terminate()

    def wait_stopped(self, deadline: float) -> None:
        """Until the process has exited; killed if it is still there at `deadline`."""
        if self.process is None:
            return
        try:
            self.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
