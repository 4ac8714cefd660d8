"""Operational endpoints every worker serves: health (open, for the probes) and Prometheus
metrics (operators: the bearer token Prometheus sends, see hub.web.access)."""

from __future__ import annotations

from typing import cast

from aiohttp import web
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.metrics import REGISTRY
from hub.runtime.app import app
from hub.web.access import operator_signed_in, unauthorised


@app.page("/health")
class Health(View):
    async def get(self, request: Request) -> Response:
        assigned = app.consumer.assignment() if app.consumer else set()
        recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager's
        ready = (bool(assigned) and not app.rebalancing and not recovery.in_recovery
                 and recovery.completed.is_set())
        return self.json({"status": "ok", "ready": ready,
                          "assigned_partitions": len(assigned)})


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return unauthorised(self)
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        body = generate_latest(REGISTRY)
        reply = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return cast(Response, reply)
