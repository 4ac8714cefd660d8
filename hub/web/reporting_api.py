"""Reporting figures on the worker's web server, for the dashboard:

- GET /reporting/timeliness[?member=ID][&disease=CODE][&since=YYYY-MM-DD]: per reporting
  unit and disease, cases opened, cards sent on time or late, late reports, cases still
  open, revisions, the on-time rate and the mean time from diagnosis to card;
- GET /reporting/open-cases[?member=ID]: cases still owing the CDC a card, soonest
  deadline first, with their deadline state (in_time, warned, late) and missing fields.

Neither carries identities, but which member has an open case of which disease since when
is no one else's business: operators (hub.web.access) see every member; a member with its
API token sees only its own rows (`member` is then its own id, whatever the query says).
They cover the partitions the answering worker owns: with one worker, everything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faust.web import Request, Response, View

from hub.agents.reporting import catalogue, open_cases, timeliness_figures
from hub.runtime.app import app
from hub.web.access import member_of, operator_signed_in, unauthorised


def _member_filter(request: Request) -> tuple[bool, str | None]:
    """Whether the caller may read, and the member its rows are limited to."""
    if operator_signed_in(request):
        return True, request.query.get("member")
    member_id = member_of(request)
    return member_id is not None, member_id


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.page("/reporting/timeliness")
class ReportingTimeliness(View):
    async def get(self, request: Request) -> Response:
        allowed, member_id = _member_filter(request)
        if not allowed:
            return unauthorised(self, "an operator's or a member's bearer token is required")
        query = request.query
        try:
            since = _since(query.get("since"))
        except ValueError:
            return self.json({"error": "since must be an ISO date or time"}, status=400)
        rows = timeliness_figures(member_id, query.get("disease"), since)
        names = {d.code: d.name for d in catalogue.diseases}
        for row in rows:
            row["disease_name"] = names.get(str(row["disease_code"]), "")
        return self.json({"since": since.isoformat() if since else None, "rows": rows})


@app.page("/reporting/open-cases")
class ReportingOpenCases(View):
    async def get(self, request: Request) -> Response:
        allowed, member_id = _member_filter(request)
        if not allowed:
            return unauthorised(self, "an operator's or a member's bearer token is required")
        return self.json({"cases": open_cases(member_id)})
