"""Recognition on the worker's web server, for an authenticated member:

- POST /recognition/lookup  {"id_type", "id_number", "items": [code, ...]}: which
  recognisable results the patient has for these items now (codes: consortium, or the
  member's local codes);
- GET /cds-services and POST /cds-services/recognition-order-select: the same answer as
  CDS Hooks cards (hook order-select);
- GET /recognition/stats: the member's recognition counts.

The ID number is pseudonymised on the spot and never stored or logged; a record number is
the asking member's own (schemas.models.common.normalized_id). The index is
keyed by that pseudonym, on the patient's home partition (schemas.partitioning): a worker
that does not own that partition forwards the request (body included) to the one that does,
found in Faust's map of table partitions to workers.
With one worker everything is local. Stats cover the partitions the answering worker owns.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from faust.web import Request, Response, View
from yarl import URL

from hub import metrics
from hub.agents.recognition import catalogue, patient_index, recognition_stats, result_index
from hub.ops.tokens import authenticate, bearer_token
from hub.rules.privacy import pseudonym
from hub.rules.recognition.advice import Answer, answer
from hub.rules.recognition.cds import (
    answer_json,
    card,
    discovery,
    patient_identity,
    resolve_item,
    selected_orders,
)
from hub.rules.recognition.index import results_for
from hub.rules.reporting.cds import service as reporting_cds_service
from hub.runtime.app import app
from hub.runtime.placement import owner_url
from hub.runtime.services import runtime
from schemas.models.common import IdType
from schemas.models.outputs import Verdict
from schemas.partitioning import identity_ordering_key, partition_of_key

ROUTED_HEADER = "X-Hub-Routed"
JsonDict = dict[str, Any]


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _member_of(request: Request, endpoint: str) -> str:
    header = request.headers.get("Authorization")
    if bearer_token(header) is None:
        metrics.RECOGNITION_LOOKUPS.labels(endpoint, "401").inc()
        raise Refused(401, "a bearer token is required")
    member_id = authenticate(header)
    if member_id is None:
        metrics.RECOGNITION_LOOKUPS.labels(endpoint, "403").inc()
        raise Refused(403, "the token is not valid for any member")
    return member_id


def _refusal(view: View, refused: Refused) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
    return view.json({"error": refused.reason}, status=refused.status, headers=headers)


async def _body(view: View, request: Request) -> JsonDict:
    try:
        body = json.loads(await view.read_request_content(request) or b"{}")
    except ValueError as exc:
        raise Refused(400, "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body


def _host_port(url: URL) -> tuple[str, int]:
    return (url.host or "", url.port or 80)


async def _forward(view: View, request: Request, patient: PatientRef,
                   body: JsonDict) -> Response | None:
    """The owner's response when another worker owns the patient's partition, else None."""
    if request.headers.get(ROUTED_HEADER):
        return None  # already routed here by the owner map: answer, never bounce
    owner = owner_url(result_index, patient.home)
    if owner is None:  # no assignment yet: answer from what this worker has
        return None
    if _host_port(owner) == _host_port(URL(str(app.conf.canonical_url))):
        return None
    headers = {"Authorization": request.headers.get("Authorization", ""),
               "Content-Type": "application/json", ROUTED_HEADER: "1"}
    url = URL(str(request.url)).with_host(owner.host or "").with_port(owner.port)
    async with app.http_client.post(url, data=json.dumps(body), headers=headers) as reply:
        return view.bytes(await reply.read(), content_type=reply.content_type,
                          status=reply.status)


class PatientRef(NamedTuple):
    key: str  # the pseudonym
    home: int  # the partition its state is on


def _patient(id_type: Any, id_number: Any, member_id: str) -> PatientRef:
    """A record number (or OTHER) a member looks up is its own: it is pseudonymised with
    the asking member as issuer, so it never finds another member's patient."""
    if not isinstance(id_number, str) or not id_number.strip():
        raise Refused(400, "id_number is required")
    if id_type not in IdType.__members__:
        raise Refused(400, f"id_type must be one of {', '.join(IdType.__members__)}")
    kind = IdType(id_type)
    return PatientRef(pseudonym(runtime.pseudonym_secret, kind, id_number, issuer=member_id),
                      partition_of_key(identity_ordering_key(kind, id_number, issuer=member_id)))


def _answer(member_id: str, key: str, item_code: str) -> Answer:
    item = catalogue.get(item_code)
    assert item is not None
    orderer = runtime.registry.get(member_id)
    assert orderer is not None  # authenticate() only knows registered members
    return answer(item, results_for(patient_index(key), item.code), orderer,
                  runtime.registry, runtime.now(), locale=runtime.locale)


@app.page("/recognition/lookup")
class RecognitionLookup(View):
    async def post(self, request: Request) -> Response:
        try:
            member_id = _member_of(request, "lookup")
            body = await _body(self, request)
            patient = _patient(body.get("id_type"), body.get("id_number"), member_id)
            codes = body.get("items")
            if not isinstance(codes, list) or not codes:
                raise Refused(400, "items must be a non-empty list of item codes")
        except Refused as refused:
            return _refusal(self, refused)
        routed = await _forward(self, request, patient, body)
        if routed is not None:
            return routed
        answers, unmapped = [], []
        for code in codes:
            item = resolve_item(catalogue, member_id, str(code))
            if item is None:
                unmapped.append(str(code))
            else:
                answers.append(answer_json(_answer(member_id, patient.key, item.code)))
        metrics.RECOGNITION_LOOKUPS.labels("lookup", "200").inc()
        return self.json({"member_id": member_id, "at": runtime.now().isoformat(),
                          "answers": answers, "unmapped": unmapped})


@app.page("/recognition/stats")
class RecognitionStats(View):
    async def get(self, request: Request) -> Response:
        try:
            member_id = _member_of(request, "stats")
        except Refused as refused:
            return _refusal(self, refused)
        metrics.RECOGNITION_LOOKUPS.labels("stats", "200").inc()
        return self.json({"member_id": member_id,
                          "items": recognition_stats(member_id).get(member_id, {})})


@app.page("/cds-services")
class CdsDiscovery(View):
    async def get(self, request: Request) -> Response:
        services = discovery()["services"]
        return self.json({"services": [*services, reporting_cds_service()]})


@app.page("/cds-services/recognition-order-select")
class CdsOrderSelect(View):
    async def post(self, request: Request) -> Response:
        try:
            member_id = _member_of(request, "cds")
            body = await _body(self, request)
            identity = patient_identity(body)
            if identity is None:
                raise Refused(400, "prefetch.patient needs an identifier typed with a "
                                   "hub IdType code")
            patient = _patient(identity[0].value, identity[1], member_id)
        except Refused as refused:
            return _refusal(self, refused)
        routed = await _forward(self, request, patient, body)
        if routed is not None:
            return routed
        cards = []
        label = f"{runtime.registry.consortium.name} ({runtime.registry.mark})"
        for ref, codings in selected_orders(body):
            items = [resolve_item(catalogue, member_id, code, system) for system, code in codings]
            item = next((i for i in items if i is not None), None)
            if item is None:
                continue
            found = _answer(member_id, patient.key, item.code)
            if found.verdict is not Verdict.NONE_VALID:
                cards.append(card(found, ref, str(body.get("hookInstance", "")), label,
                                  runtime.locale))
        metrics.RECOGNITION_LOOKUPS.labels("cds", "200").inc()
        return self.json({"cards": cards})
