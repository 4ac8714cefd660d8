"""The embedded Kafka-compatible broker for a machine with Python only: noida-db, shipped
on PyPI.

It keeps its data in a folder (a JSON snapshot survives restarts), listens on a loopback
port, and has correct end offsets, so Faust table recovery works on it. It is not Kafka:
it answers fetches at once, ignores fetch limits and never expires a dead group member.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import noida_db

from hub.brokers.base import BaseBroker, free_port, wait_until_serving

BINARY = Path(noida_db.__file__).parent / "noida-db"


class EmbeddedBroker(BaseBroker):
    kind = "embedded"

    def __init__(self, data_dir: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None

    def worker_env(self) -> dict[str, str]:
        # It answers an empty fetch at once (Kafka holds it up to fetch_max_wait_ms): without
        # a pause an idle worker re-fetched 2,500 times a second
        # (hub/runtime/patches/fetch_backoff.py).
        return {"HUB_EMPTY_FETCH_BACKOFF_MS": "5"}

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BINARY), "start", "--only", "kafka", "--host", self.host,
             "--kafka-port", str(self.port), "--data-dir", str(self.data_dir / "noida")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            wait_until_serving(self.bootstrap, timeout, self.process)
        except (TimeoutError, RuntimeError):
            self.stop()
            raise
        return self
