"""Operational endpoints every worker serves: health and Prometheus metrics."""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.app import app
from hub.metrics import REGISTRY


@app.page("/health")
class Health(View):
    async def get(self, request: Request) -> Response:
        assigned = app.consumer.assignment() if app.consumer else set()
        return self.json({"status": "ok", "assigned_partitions": len(assigned)})


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
