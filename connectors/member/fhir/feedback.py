"""The hub's feedback as FHIR R4 resources, POSTed to the member's FHIR server.

RecognitionAdvice → DetectedIssue: code = the verdict (system
urn:consortium-hub:recognition-verdict), severity moderate when a result is recognisable
(low otherwise), implicated = the ServiceRequest by its order number, detail = the advice
text, one evidence per recognisable result (its event id and a readable summary).
Feedback → OperationOutcome (id = the feedback's event id): one issue whose details code is
the feedback status (system urn:consortium-hub:feedback-status), severity information
when accepted, reported or revised, error otherwise; an INCOMPLETE card's page link (where
the doctor completes it) as the issue's extension urn:consortium-hub:card-page (valueUrl).
Both carry the event id under urn:consortium-hub:event-id, so a redelivery is recognisable.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from connectors.member.fhir.resources import parse_resource
from connectors.member.hl7.feedback import ACCEPTING
from schemas.models import Event, Feedback, RecognitionAdvice
from schemas.models.outputs import Verdict

EVENT_ID_SYSTEM = "urn:consortium-hub:event-id"
VERDICT_SYSTEM = "urn:consortium-hub:recognition-verdict"
STATUS_SYSTEM = "urn:consortium-hub:feedback-status"
# The card page link of an INCOMPLETE answer (the hub's details key `card_url`)
CARD_PAGE_DETAIL = "card_url"
CARD_PAGE_EXTENSION = "urn:consortium-hub:card-page"


def detected_issue(advice: RecognitionAdvice, zone: ZoneInfo) -> dict[str, Any]:
    evidence = []
    for result in advice.results:
        value = f"{result.value_numeric:g}" if result.value_numeric is not None \
            else (result.value_text or "")
        summary = (f"{result.member_name} {result.item_name} {value} {result.unit or ''}".strip()
                   + f", {result.reported_at.astimezone(zone):%Y-%m-%d %H:%M}, valid until "
                   f"{result.valid_until.astimezone(zone):%Y-%m-%d} ({result.mark})")
        evidence.append({"detail": [{
            "identifier": {"system": EVENT_ID_SYSTEM, "value": result.result_event_id},
            "display": summary,
        }]})
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": EVENT_ID_SYSTEM, "value": advice.envelope.event_id}],
        "status": "final",
        "code": {"coding": [{"system": VERDICT_SYSTEM, "code": advice.verdict.value}],
                 "text": "检查检验结果互认 recognition advice"},
        "severity": "moderate" if advice.verdict is Verdict.RECOGNISABLE else "low",
        "identifiedDateTime": advice.envelope.occurred_at.astimezone(zone).isoformat(),
        "implicated": [{"type": "ServiceRequest", "identifier": {"value": advice.order_id},
                        "display": f"{advice.item_code} {advice.item_name}"}],
        "detail": advice.message,
    }
    if evidence:
        resource["evidence"] = evidence
    return resource


def operation_outcome(feedback: Feedback) -> dict[str, Any]:
    notes = [f"in reply to event {feedback.in_reply_to or '(unreadable input)'}"]
    if feedback.reason_code:
        notes.append(f"reason code {feedback.reason_code}")
    if feedback.missing_fields:
        notes.append("missing: " + ", ".join(feedback.missing_fields))
    if feedback.card_id:
        notes.append(f"card {feedback.card_id}")
    notes.extend(f"{k}={v}" for k, v in sorted(feedback.details.items()))
    accepted = feedback.status in ACCEPTING
    issue: dict[str, Any] = {
        "severity": "information" if accepted else "error",
        "code": "informational" if accepted else "processing",
        "details": {"coding": [{"system": STATUS_SYSTEM, "code": feedback.status.value}],
                    "text": feedback.reason or feedback.status.value},
        "diagnostics": "; ".join(notes),
    }
    card_page = feedback.details.get(CARD_PAGE_DETAIL)
    if card_page:  # an incomplete card the doctor can complete on its page
        issue["extension"] = [{"url": CARD_PAGE_EXTENSION, "valueUrl": card_page}]
    return {"resourceType": "OperationOutcome", "id": feedback.envelope.event_id,
            "issue": [issue]}


def render_fhir(event: Event, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The FHIR resource for one feedback event, checked with fhir.resources."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    if isinstance(event, RecognitionAdvice):
        resource = detected_issue(event, zone)
    elif isinstance(event, Feedback):
        resource = operation_outcome(event)
    else:
        raise TypeError(f"no FHIR rendering for {type(event).__name__}")
    parse_resource(resource)
    return resource
