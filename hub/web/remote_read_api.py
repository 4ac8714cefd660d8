"""Remote diagnosis on the worker's web server:

- GET /remote-reads/critical-register.csv: the critical value register (危急值登记), one
  row per step (who, what, when, Beijing time), as CSV;
- GET /remote-reads/figures[?by=month|day]: remote diagnoses per centre, modality and
  period, and report time compliance per modality and priority.

Operators (hub.web.access) see every row; a member with its API token sees only the
studies it examined or read. They cover the partitions the answering worker owns.
"""

from __future__ import annotations

from faust.web import Request, Response, View

from hub.agents.remote_read import critical_register, owned_records
from hub.rules.referral.figures import Period
from hub.rules.remote_read.critical import REGISTER_COLUMNS
from hub.rules.remote_read.figures import compliance, diagnoses_per_centre, register_csv
from hub.runtime.app import app
from hub.web.access import member_of, operator_signed_in, unauthorised


def _member_filter(request: Request) -> tuple[bool, str | None]:
    if operator_signed_in(request):
        return True, None
    member_id = member_of(request)
    return member_id is not None, member_id


@app.page("/remote-reads/critical-register.csv")
class CriticalRegister(View):
    async def get(self, request: Request) -> Response:
        allowed, member_id = _member_filter(request)
        if not allowed:
            return unauthorised(self, "an operator's or a member's bearer token is required")
        rows = [r for r in critical_register() if member_id is None
                or member_id in (r["examining_member"], r["reading_member"])]
        return self.text(register_csv(rows, REGISTER_COLUMNS),
                         content_type="text/csv; charset=utf-8")


@app.page("/remote-reads/figures")
class RemoteReadFigures(View):
    async def get(self, request: Request) -> Response:
        allowed, member_id = _member_filter(request)
        if not allowed:
            return unauthorised(self, "an operator's or a member's bearer token is required")
        by: Period = "day" if request.query.get("by") == "day" else "month"
        records = [r for r in owned_records() if member_id is None
                   or member_id in (r.examining, r.reading)]
        return self.json({
            "per_centre": [row.as_dict() for row in diagnoses_per_centre(records, by)],
            "compliance": [row.as_dict() for row in compliance(records)]})
