"""CDS Hooks patient-view for reporting: POST /cds-services/reporting-patient-view with the
calling member's bearer token and the prefetched Patient (an identifier typed with a hub
IdType code). Answers a card per case of that patient, reported by that member, whose
report card lacks fields a doctor can fill in, linking to the card page.

The identity is pseudonymised on the spot, as the recognition lookup does; the cases are
on the patient's home partition, so a worker that does not own it forwards the call.
"""

from __future__ import annotations

import json

from faust.web import Request, Response, View

from hub.agents import reporting
from hub.agents.card_links import card_url
from hub.rules.privacy import pseudonym
from hub.rules.recognition.cds import patient_identity
from hub.rules.reporting import card_view
from hub.rules.reporting.cds import SERVICE_ID, completion_card
from hub.runtime.app import app
from hub.runtime.services import runtime
from hub.web.access import member_of
from hub.web.card_page import forward
from schemas.partitioning import identity_ordering_key, partition_of_key


def _cards(member_id: str, key: str, home: int, hook_instance: str) -> list[dict[str, object]]:
    state = reporting._load(key)
    if state is None:
        return []
    ctx = reporting._context()
    label = f"{runtime.registry.consortium.name} ({runtime.registry.mark})"
    cards = []
    for case in state.cases:
        if not case.is_open or member_id not in {r.member_id for r in case.reports}:
            continue
        missing = card_view(case, ctx.catalogue, ctx.opener).missing
        if not missing or "diagnosis" in missing:
            continue
        disease = ctx.catalogue.get(case.disease_code)
        url = card_url(member_id, case.case_id, state.partition or home, key)
        cards.append(completion_card(
            case.case_id, disease.name if disease else case.disease_code, missing,
            case.deadline, url, hook_instance, label, runtime.locale))
    return cards


@app.page(f"/cds-services/{SERVICE_ID}")
class ReportingPatientView(View):
    async def post(self, request: Request) -> Response:
        if not request.headers.get("Authorization"):
            return self.json({"error": "a bearer token is required"}, status=401,
                             headers={"WWW-Authenticate": "Bearer"})
        member_id = member_of(request)
        if member_id is None:
            return self.json({"error": "the token is not valid for any member"}, status=403)
        raw = await self.read_request_content(request)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self.json({"error": "the body is not JSON"}, status=400)
        identity = patient_identity(body) if isinstance(body, dict) else None
        if identity is None:
            return self.json({"error": "prefetch.patient needs an identifier typed with a "
                                       "hub IdType code"}, status=400)
        # a record number is the asking member's own (only national IDs match across members)
        key = pseudonym(runtime.pseudonym_secret, *identity, issuer=member_id)
        home = partition_of_key(identity_ordering_key(*identity, issuer=member_id))
        routed = await forward(request, home, raw)
        if routed is not None:
            return routed
        return self.json({"cards": _cards(member_id, key, home,
                                          str(body.get("hookInstance", "")))})
