"""The worker serves Prometheus metrics and health, and the figures move with traffic."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.member.sdk import MemberPublisher
from tests.conftest import WorkerProcess, wait_for
from tests.factories import lab_result

pytestmark = pytest.mark.integration


def test_metrics_move_with_traffic(
    start_worker: Callable[..., WorkerProcess], publisher: Callable[[str], MemberPublisher]
) -> None:
    worker = start_worker()
    status, body = worker.get("/metrics")
    assert status == 200 and b"hub_processing_seconds" in body
    before = worker.metric("hub_events_in_total", member="mch", topic="in.mch")
    publisher("mch").publish_many([lab_result("mch", item="HB") for _ in range(3)])
    assert wait_for(lambda: worker.metric("hub_events_in_total", member="mch",
                                          topic="in.mch") >= before + 3)
    status, body = worker.get("/health")
    assert status == 200 and b'"status":"ok"' in body
