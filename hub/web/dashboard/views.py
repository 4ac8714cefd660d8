"""The operators' page, served by every worker to signed-in operators (hub.web.access: the
session cookie of /sign-in, or the operators' bearer token):

- GET /dashboard: one HTML page (hub/web/dashboard/static/, plain JS and CSS, inline SVG charts; it
  fetches nothing but its own files and its data, so it works offline);
- GET /dashboard/data: the JSON the page polls every two seconds: the members and whether
  each is sending, throughput and consumer lag, dead letters by reason and the latest
  ones, open disease cases and late reports, open shortages and pending orders,
  recognition per member and item, the referral board (hub/web/dashboard/referrals.py)
  and the reading centres' board (hub/web/dashboard/remote_reads.py).

Figures are this worker's: its counters since it started and the partitions it holds.
The page says so (`scope`, hub/web/dashboard/scope.py) and points to Grafana for the
consortium-wide figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from faust.web import Request, Response, View

from hub import metrics
from hub.runtime.app import app
from hub.runtime.services import runtime
from hub.web.access import operator_signed_in, to_sign_in, unauthorised
from hub.web.dashboard import feeds
from hub.web.dashboard.flows import pharmacy_figures, recognition_figures, reporting_figures
from hub.web.dashboard.referrals import referral_figures
from hub.web.dashboard.remote_reads import remote_read_figures
from hub.web.dashboard.scope import scope
from schemas.topics import ingress_topic

STATIC = Path(__file__).parent / "static"
FILES = {"app.js": "application/javascript", "style.css": "text/css"}
SILENT_AFTER_SECONDS = 600.0  # a member quiet for longer than this is shown in red
CACHE_SECONDS = 1.0  # several open pages share one snapshot
JsonDict = dict[str, Any]
_cached: tuple[float, JsonDict] | None = None
STARTED_AT = runtime.now()  # the worker's counters start with the process


def member_rows(now: float) -> list[JsonDict]:
    """Every registered member: events in, when it last sent (hub clock, epoch seconds)
    and whether it is sending: ok, silent (quiet too long) or never (nothing since the
    worker started)."""
    events_in: dict[str, float] = {}
    for labels, value in feeds.counter_values(metrics.EVENTS_IN):
        events_in[labels["topic"]] = events_in.get(labels["topic"], 0.0) + value
    last_seen = {sample.labels["member"]: sample.value
                 for family in metrics.MEMBER_LAST_SEEN.collect() for sample in family.samples}
    rows = []
    for member in runtime.registry.members:
        seen = last_seen.get(member.id)
        quiet = None if seen is None else max(0.0, now - seen)
        status = "never" if quiet is None else "silent" if quiet > SILENT_AFTER_SECONDS else "ok"
        rows.append({
            "id": member.id, "name": member.name, "level": member.level.name,
            "events_in": int(events_in.get(ingress_topic(member.id), 0.0)),
            "last_event_at": seen, "seconds_since": None if quiet is None else round(quiet, 1),
            "status": status,
        })
    return rows


def _dead_letter_figures() -> JsonDict:
    by_reason: dict[str, float] = {}
    for labels, value in feeds.counter_values(metrics.REJECTIONS):
        by_reason[labels["reason"]] = by_reason.get(labels["reason"], 0.0) + value
    ordered = sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "total": int(sum(by_reason.values())),
        "by_reason": [{"reason": reason, "count": int(count)} for reason, count in ordered],
        "recent": feeds.dead_letters.recent(),
    }


def _throughput() -> JsonDict:
    series = feeds.history.rates()
    last = series[-1] if series else {"in": 0.0, "out": 0.0}
    return {
        "sample_seconds": feeds.SAMPLE_SECONDS,
        "in_per_second": last["in"], "out_per_second": last["out"],
        "events_in_total": int(feeds.events_in_total()),
        "events_out_total": int(feeds.events_out_total()),
        "series": series,
    }


def _scope() -> JsonDict:
    try:
        assigned = app.assignor.assigned_actives()
    except Exception:  # no assignment yet
        assigned = set()
    settings = runtime.settings
    return scope(settings.consumer_instance_id(), STARTED_AT, assigned,
                 len(runtime.registry.ids) * settings.member_partitions, settings.grafana_url,
                 runtime.locale)


def snapshot() -> JsonDict:
    """Everything the page shows, as of now."""
    moment = runtime.now()
    lag = feeds.consumer_lag()
    return {
        "at": moment.isoformat(),
        "consortium": runtime.registry.consortium.name,
        "scope": _scope(),
        "silent_after_seconds": SILENT_AFTER_SECONDS,
        "members": member_rows(moment.timestamp()),
        "throughput": _throughput(),
        "lag": {"total": sum(lag.values()),
                "topics": [{"topic": t, "lag": n} for t, n in sorted(lag.items())]},
        "dead_letters": _dead_letter_figures(),
        "reporting": reporting_figures(moment),
        "pharmacy": pharmacy_figures(),
        "recognition": recognition_figures(),
        "referrals": referral_figures(moment),
        "remote_reads": remote_read_figures(moment),
    }


def cached_snapshot() -> JsonDict:
    global _cached
    clock = time.monotonic()
    if _cached is None or clock - _cached[0] >= CACHE_SECONDS:
        _cached = (clock, snapshot())
    return _cached[1]


def _static(name: str, content_type: str) -> Response:
    # aiohttp refuses a charset inside content_type=, so the header is set whole.
    reply = web.Response(body=(STATIC / name).read_bytes(),
                         headers={"Content-Type": f"{content_type}; charset=utf-8",
                                  "Cache-Control": "no-cache"})
    return cast(Response, reply)


@app.page("/dashboard")
class Dashboard(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return to_sign_in("/dashboard")
        return _static("dashboard.html", "text/html")


@app.page("/dashboard/data")
class DashboardData(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return unauthorised(self)
        return self.json(cached_snapshot(), headers={"Cache-Control": "no-store"})


@app.page("/dashboard/app.js")
class DashboardScript(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return unauthorised(self)
        return _static("app.js", FILES["app.js"])


@app.page("/dashboard/style.css")
class DashboardStyle(View):
    async def get(self, request: Request) -> Response:
        if not operator_signed_in(request):
            return unauthorised(self)
        return _static("style.css", FILES["style.css"])
