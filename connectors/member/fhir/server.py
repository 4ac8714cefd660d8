"""The member's FHIR R4 endpoint (aiohttp).

POST [base]/fhir/{type}: one Observation, DiagnosticReport, ImagingStudy, Condition,
ServiceRequest or MedicationDispense (or a Patient, kept in the local patient cache).
201 Created, `Location: [base]/fhir/{type}/{id}` (the id is the deterministic event id)
and an informational OperationOutcome naming the events published.
POST [base]/fhir (or /fhir/Bundle): a transaction Bundle. As the FHIR specification says
for transactions, 200 OK with a transaction-response Bundle, every entry "201 Created"
with its location (reference-only entries "200 OK").
Errors: 400 with an OperationOutcome when the body is not valid FHIR R4 (fhir.resources
validation; each issue names the element), 422 when it is valid but cannot be mapped
(unmapped code, missing field, unsupported status), 413 when the body is over
HUB_FHIR_MAX_BODY_BYTES, 503 when Kafka did not take it (resend later). PUT or PATCH
[base]/fhir/Task/{id} with a whole Task: a step on a referral (referral_task.py) or a
remote read (remote_read_task.py). Refused bodies go
to the local dead-letter file. A value understood as nothing but not worth refusing for (an
occupation that maps to no group of the card) is a warning issue in the answer.
GET /metrics: Prometheus; GET /fhir/metadata: a minimal CapabilityStatement.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Executor
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from connectors import metrics
from connectors.member.deadletter import DeadLetterFile
from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.mapping import (
    MAPPERS,
    MappedEntry,
    map_bundle,
    map_resource,
    unique_events,
)
from connectors.member.fhir.outcome import FHIR_JSON, capability_statement, operation_outcome
from connectors.member.fhir.resources import InvalidResource, parse_resource
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, EventSink, Rejected, RejectReason, invalid_event
from connectors.settings import ConnectorSettings, get_settings

log = logging.getLogger(__name__)
CHANNEL = "fhir"
CONTEXT: web.AppKey[FhirContext] = web.AppKey("context", FhirContext)
SINK: web.AppKey[EventSink] = web.AppKey("sink", EventSink)
DEAD_LETTERS: web.AppKey[DeadLetterFile] = web.AppKey("dead_letters", DeadLetterFile)
EXECUTOR: web.AppKey[Executor | None] = web.AppKey("executor")
MAX_BODY: web.AppKey[int] = web.AppKey("max_body", int)


def _reply(status: int, body: dict[str, Any], label: str,
           headers: dict[str, str] | None = None) -> web.Response:
    metrics.FHIR_REQUESTS.labels(label, str(status)).inc()
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type=FHIR_JSON, charset="utf-8", headers=headers)


def _refuse(request: web.Request, raw: bytes, label: str, status: int, code: str,
            issues: list[tuple[str, str]], issue_code: str) -> web.Response:
    request.app[DEAD_LETTERS].write(
        CHANNEL, code, "; ".join(f"{where}: {what}" for where, what in issues), raw,
        charset="utf-8", details={"path": request.path, "status": str(status)},
    )
    return _reply(status, operation_outcome(issues, issue_code), label)


def _issue_code(reason: RejectReason) -> str:
    return {RejectReason.MISSING_FIELD: "required", RejectReason.INVALID_VALUE: "value",
            RejectReason.UNMAPPED_CODE: "code-invalid", RejectReason.UNSUPPORTED: "not-supported",
            RejectReason.MALFORMED: "structure"}.get(reason, "processing")


async def create(request: web.Request) -> web.Response:
    path_type = request.match_info.get("type", "Bundle")
    label = path_type if path_type in MAPPERS or path_type in ("Bundle", "Patient") else "other"
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:  # the body is not read: only its size kept
        limit = request.app[MAX_BODY]
        return _refuse(request, b"", label, 413, "TOO_LARGE",
                       [("(body)", get_settings().locale().say(
                           "connector.too_large", limit=limit, detail=exc.text))], "too-costly")
    context = request.app[CONTEXT]
    try:
        data = json.loads(raw.decode("utf-8"))
        resource = parse_resource(data)
        kind = resource.get_resource_type()
        if kind != path_type:
            raise InvalidResource([(kind, f"a {kind} posted to /fhir/{path_type}")])
        entries = map_bundle(context, resource) if kind == "Bundle" \
            else [map_resource(context, resource)]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _refuse(request, raw, label, 400, "MALFORMED", [
            ("(body)", get_settings().locale().say("connector.not_json", detail=str(exc)))],
            "structure")
    except InvalidResource as exc:
        return _refuse(request, raw, label, 400, "INVALID_RESOURCE", exc.issues, "invalid")
    except Rejected as exc:
        return _refuse(request, raw, label, 422, exc.code.value,
                       [(exc.location or path_type, exc.reason)], _issue_code(exc.code))
    except ValidationError as exc:  # e.g. a name longer than the contract allows
        refused = invalid_event(exc)
        return _refuse(request, raw, label, 422, refused.code.value,
                       [(refused.location or path_type, refused.reason)], "value")
    events = unique_events(entries)
    if events:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(request.app[EXECUTOR], request.app[SINK].publish_many,
                                       events)
        except Exception as exc:
            log.error("FHIR %s not written: %s", path_type, exc)
            return _refuse(request, raw, label, 503, RejectReason.PUBLISH_FAILED.value,
                           [(path_type, get_settings().locale().say(
                               "connector.publish_failed", detail=str(exc)))],
                           "transient")
        for event in events:
            metrics.EVENTS_PUBLISHED.labels(CHANNEL, type(event).__name__).inc()
    base = f"{request.url.origin()}/fhir"
    if path_type == "Bundle":
        return _reply(200, _transaction_response(entries), label)
    entry = entries[0]
    notes = [(entry.resource_type, f"published {type(e).__name__} {e.envelope.event_id}")
             for e in entry.events] or [(entry.resource_type, "kept in the local patient cache")]
    body = operation_outcome(notes, "informational", severity="information")
    body["issue"] += _warnings(entry)
    return _reply(201, body, label,
                  headers={"Location": f"{base}/{entry.resource_type}/{entry.logical_id}"})


def _warnings(entry: MappedEntry) -> list[dict[str, Any]]:
    """What the entry said that was not understood but did not refuse it."""
    issues = [(w.location or entry.resource_type, w.reason) for w in entry.warnings]
    return list(operation_outcome(issues, "code-invalid", severity="warning")["issue"])


def _transaction_response(entries: list[MappedEntry]) -> dict[str, Any]:
    response: list[dict[str, Any]] = []
    for entry in entries:
        answer: dict[str, Any] = {
            "status": "200 OK" if entry.reference_only else "201 Created",
            "location": f"{entry.resource_type}/{entry.logical_id}",
        }
        if entry.warnings:
            answer["outcome"] = {"resourceType": "OperationOutcome", "issue": _warnings(entry)}
        response.append({"response": answer})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": response}


async def update(request: web.Request) -> web.Response:
    """PUT or PATCH [base]/fhir/Task/{id}: a party's new version of a referral's Task, taken
    as a POST of it (a PATCH must carry the whole Task: no Task is kept here to patch)."""
    kind = request.match_info["type"]
    if kind != "Task":
        return _refuse(request, b"", "other", 405, RejectReason.UNSUPPORTED.value,
                       [(kind, get_settings().locale().say("connector.fhir_update_type",
                                                           kind=kind))], "not-supported")
    if request.content_type in ("application/json-patch+json", "application/fhir+xml") or (
            request.method == "PATCH" and request.content_type.endswith("patch+json")):
        return _refuse(request, await request.read(), "Task", 415,
                       RejectReason.UNSUPPORTED.value,
                       [("Task", get_settings().locale().say("connector.fhir_json_patch"))],
                       "not-supported")
    return await create(request)


async def metadata(request: web.Request) -> web.Response:
    return _reply(200, capability_statement(sorted(MAPPERS)), "metadata")


async def prometheus(request: web.Request) -> web.Response:
    body, content_type = metrics.render_metrics()
    return web.Response(body=body, headers={"Content-Type": content_type})


def build_app(
    settings: ConnectorSettings,
    sink: EventSink,
    *,
    codes: CodeMapper | None = None,
    patients: PatientCache | None = None,
    executor: Executor | None = None,
) -> web.Application:
    member_id = settings.require_member()
    app = web.Application(client_max_size=settings.fhir_max_body_bytes)
    if codes is None:
        codes = CodeMapper.load(member_id, settings.local_diagnosis_codes_file)
    if patients is None:  # not `or`: an empty cache is falsy
        patients = PatientCache(settings.patient_cache_file)
    app[CONTEXT] = FhirContext(member_id, codes, ZoneInfo(settings.local_timezone), patients)
    app[SINK] = sink
    app[DEAD_LETTERS] = DeadLetterFile(settings.dead_letter_dir, member_id)
    app[EXECUTOR] = executor
    app[MAX_BODY] = settings.fhir_max_body_bytes
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/fhir/metadata", metadata)
    app.router.add_post("/fhir", create)
    app.router.add_post("/fhir/{type}", create)
    app.router.add_put("/fhir/{type}/{id}", update)
    app.router.add_patch("/fhir/{type}/{id}", update)
    return app
