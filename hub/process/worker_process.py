"""Run and supervise a `hub worker` subprocess: used by `hub dev`, the tests and the
benchmarks, so all three start workers the same way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hub.brokers import free_port
from hub.settings import DEV_OPERATOR_TOKEN


class WorkerProcess:
    """A worker with its own data dir and web port; ready = partitions assigned and the
    tables recovered (what /health reports)."""

    def __init__(
        self, bootstrap: str, data_dir: Path, env: dict[str, str] | None = None,
        web_port: int = 0, module: str = "hub.cli worker",
    ) -> None:
        self.module = module  # `python -m` what: `hub worker`, or the benchmarks' floor
        self.data_dir = data_dir
        self.web_port = web_port or free_port()
        self.env = {
            **os.environ,
            "HUB_BROKER": bootstrap,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_WEB_PORT": str(self.web_port),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = data_dir / f"worker-{self.web_port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0, wait: bool = True) -> WorkerProcess:
        """Start the worker; unless `wait` is False, return once it is ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.module.split()], env=self.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"worker exited early:\n{self.log_tail()}")
            status, body = self.get("/health")
            if status == 200 and json.loads(body).get("ready"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def hub_warnings(self, lines: int = 40) -> str:
        """The last warnings and errors the hub's and Faust's own loggers wrote (the Kafka
        clients' connection noise left out), for a failure message."""
        if not self.log_path.exists():
            return ""
        found = [line for line in self.log_path.read_text(errors="replace").splitlines()
                 if ('"level": "WARNING"' in line or '"level": "ERROR"' in line)
                 and ('"logger": "hub.' in line or '"logger": "faust.' in line)]
        return "\n".join(found[-lines:])

    @property
    def operator_headers(self) -> dict[str, str]:
        """The operators' bearer token this worker was started with."""
        token = self.env.get("HUB_OPERATOR_TOKEN") or DEV_OPERATOR_TOKEN
        return {"Authorization": f"Bearer {token}"}

    def sign_in_url(self, token: str) -> str:
        """The link that signs a browser in to the dashboard (`hub dev` prints it)."""
        return f"{self.url}/sign-in?{urllib.parse.urlencode({'token': token})}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET as an operator (headers=None), or with exactly the headers given."""
        chosen = self.operator_headers if headers is None else headers
        request = urllib.request.Request(self.url + path, headers=chosen)
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return int(reply.status), bytes(reply.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except OSError:
            return 0, b""

    def request_json(
        self, path: str, body: object | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """GET (or POST when `body` is given) a JSON endpoint: the status and the decoded
        reply (its text when it is not JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data,
            headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                status, raw = int(reply.status), bytes(reply.read())
        except urllib.error.HTTPError as exc:
            status, raw = int(exc.code), bytes(exc.read())
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def metric(self, sample: str, **labels: str) -> float:
        """The sum of the worker's /metrics samples named `sample` whose labels include
        `labels` (0 when there is none yet)."""
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        wanted = labels.items()
        return sum(s.value for family in text_string_to_metric_families(body.decode())
                   for s in family.samples if s.name == sample and wanted <= s.labels.items())

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def peak_rss_bytes(self) -> int:
        """The worker's peak resident memory (VmHWM), while it runs."""
        return self._status_bytes("VmHWM:")

    def rss_bytes(self) -> int:
        """The worker's resident memory now (VmRSS)."""
        return self._status_bytes("VmRSS:")

    def _status_bytes(self, field: str) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self, timeout: float = 20.0) -> None:
        if not self.running():
            return
        assert self.process is not None
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
