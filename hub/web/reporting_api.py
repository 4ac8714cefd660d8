"""Reporting figures on the worker's web server, for the dashboard:

- GET /reporting/timeliness[?member=ID][&disease=CODE][&since=YYYY-MM-DD]: per reporting
  unit and disease, cases opened, cards sent on time or late, late reports, cases still
  open, revisions, the on-time rate and the mean time from diagnosis to card;
- GET /reporting/open-cases[?member=ID]: cases still owing the CDC a card, soonest
  deadline first, with their deadline state (in_time, warned, late) and missing fields.

Neither carries patient data (no identity, no pseudonym: counts, and case ids that are
one-way hashes), so both are served without a token, like /metrics. They cover the
partitions the answering worker owns: with one worker, everything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faust.web import Request, Response, View

from hub.agents.reporting import catalogue, open_cases, timeliness_figures
from hub.runtime.app import app


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.page("/reporting/timeliness")
class ReportingTimeliness(View):
    async def get(self, request: Request) -> Response:
        query = request.query
        try:
            since = _since(query.get("since"))
        except ValueError:
            return self.json({"error": "since must be an ISO date or time"}, status=400)
        rows = timeliness_figures(query.get("member"), query.get("disease"), since)
        names = {d.code: d.name for d in catalogue.diseases}
        for row in rows:
            row["disease_name"] = names.get(str(row["disease_code"]), "")
        return self.json({"since": since.isoformat() if since else None, "rows": rows})


@app.page("/reporting/open-cases")
class ReportingOpenCases(View):
    async def get(self, request: Request) -> Response:
        return self.json({"cases": open_cases(request.query.get("member"))})
