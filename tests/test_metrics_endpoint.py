"""The worker serves Prometheus metrics and health, and the figures move with traffic."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from connectors.sdk import MemberPublisher
from tests.conftest import WorkerProcess, wait_for
from tests.factories import lab_result

pytestmark = pytest.mark.integration


def _events_in(body: bytes, member: str) -> float:
    pattern = rf'hub_events_in_total{{member="{member}",topic="in\.{member}"}} ([0-9.e+]+)'
    match = re.search(pattern, body.decode())
    return float(match.group(1)) if match else 0.0


def test_metrics_move_with_traffic(
    start_worker: Callable[..., WorkerProcess], publisher: Callable[[str], MemberPublisher]
) -> None:
    worker = start_worker()
    status, body = worker.get("/metrics")
    assert status == 200 and b"hub_processing_seconds" in body
    before = _events_in(body, "mch")
    publisher("mch").publish_many([lab_result("mch", item="HB") for _ in range(3)])
    assert wait_for(lambda: _events_in(worker.get("/metrics")[1], "mch") >= before + 3)
    status, body = worker.get("/health")
    assert status == 200 and b'"status":"ok"' in body
