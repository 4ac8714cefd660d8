"""Operational endpoints every worker serves: liveness and readiness (open, for the
probes) and Prometheus metrics (operators: the bearer token Prometheus sends, see
hub.web.access).

`/health` is liveness: 200 whenever the worker's web server answers, recovering or not, so
that a worker restoring a large table is not killed for it. `/ready` is readiness, told by
its status code (probes and load balancers read no body): 200 once the worker has its
partitions and their tables are recovered, 503 before and during a rebalance, so no
request reaches a worker that cannot answer it yet."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.metrics import REGISTRY
from hub.runtime.app import app
from hub.web.access import operator_signed_in, unauthorised

NOT_READY = 503


def serving_state() -> dict[str, Any]:
    """Whether the worker serves: partitions assigned, no rebalance, tables recovered."""
    assigned = app.consumer.assignment() if app.consumer else set()
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager's
    ready = (bool(assigned) and not app.rebalancing and not recovery.in_recovery
             and recovery.completed.is_set())
    return {"ready": ready, "assigned_partitions": len(assigned)}


@app.page("/health")
class Health(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok", **serving_state()})


@app.page("/ready")
class Ready(View):
    async def get(self, request: Request) -> Response:
        state = serving_state()
        status = 200 if state["ready"] else NOT_READY
        return self.json({"status": "ready" if state["ready"] else "recovering", **state},
                         status=status)


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return unauthorised(self)
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        body = generate_latest(REGISTRY)
        reply = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return cast(Response, reply)
