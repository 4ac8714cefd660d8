"""The reading centre's report and the critical values (危急值) in.

DiagnosticReport naming a read request (basedOn, remote_read_codes) → ReadUpdate with a
ReadReport. status preliminary (or partial) = PRELIMINARY_REPORT (书写), final =
FINAL_REPORT (审核), amended (or appended) = AMENDED_REPORT, corrected = CORRECTED_REPORT.
report_ref = the first identifier (else the id); impression = conclusion (else the
conclusionCode text); findings = a text/plain presentedForm, else the narrative (text.div
without its tags). The writer = resultsInterpreter[0]; the reviewer = the extension
urn:consortium-hub:fhir:report-reviewer, else resultsInterpreter[1], else a Practitioner
performer other than the writer; a final report without a reviewer is refused. An amended
or corrected report names what it replaces: the extension
urn:consortium-hub:fhir:report-replaces (valueIdentifier / valueString / valueReference) or
a Provenance of the Bundle whose target is this report and whose entity (role revision)
is the replaced one; the reason: the extension urn:consortium-hub:fhir:amend-reason, else
the Provenance's reason text.

A critical value is an Observation of the report's `result` whose interpretation is AA, HH
or LL: CriticalValueUpdate RAISED (critical_id = its identifier, else '<report>-<id>'; by
its first performer, else the writer), and DOUBLE_CHECKED by its second performer (复核).
The same Observation POSTed alone with basedOn the read request raises it too.

The ordering side answers by Communication (not by Task): basedOn / about naming the read
request, the critical value by an identifier of system urn:consortium-hub:critical-value-id
(on itself, about or inResponseTo) or about its Observation; the step is its category (a
code of urn:consortium-hub:critical-value-step, or 复述/处置 in the text), acknowledged by
default; the read-back is the payload's contentString (required to acknowledge); by = the
sender Practitioner; at = sent.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.remote_read_codes import (
    AMEND_REASON_EXTENSION,
    CRITICAL_ID_SYSTEM,
    CRITICAL_INTERPRETATIONS,
    CRITICAL_STEPS,
    CRITICAL_WORDS,
    REPLACES_EXTENSION,
    REVIEWER_EXTENSION,
    code_words,
    reader_of,
    request_named,
    require_request,
)
from connectors.member.fhir.resources import References, Resource, codings, concept_text
from connectors.member.fhir.resources import to_datetime as fhir_time
from connectors.member.mapping import Rejected, RejectReason, not_in_future
from schemas.models import Event, deterministic_id
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueUpdate,
    ReadAction,
    Reader,
    ReadReport,
    ReadUpdate,
)
from schemas.reference.messages import text as msg

REPORT_ACTIONS = {"preliminary": ReadAction.PRELIMINARY_REPORT,
                  "partial": ReadAction.PRELIMINARY_REPORT, "final": ReadAction.FINAL_REPORT,
                  "amended": ReadAction.AMENDED_REPORT, "appended": ReadAction.AMENDED_REPORT,
                  "corrected": ReadAction.CORRECTED_REPORT}
REPLACING = frozenset({ReadAction.AMENDED_REPORT, ReadAction.CORRECTED_REPORT})
TAGS = re.compile(r"<[^>]+>")


def names_read_request(ctx: FhirContext, resource: Resource, refs: References) -> bool:
    return request_named(ctx.member_id, resource, list(resource.basedOn or []),
                         refs) is not None


def _findings(report: Resource) -> str | None:
    for form in report.presentedForm or []:
        if (form.contentType or "").startswith("text/plain") and form.data:
            raw = form.data if isinstance(form.data, bytes) else base64.b64decode(form.data)
            return raw.decode("utf-8", errors="replace").strip() or None
    div = report.text.div if report.text is not None else None
    plain = TAGS.sub(" ", str(div)).split() if div else []
    return " ".join(plain) or None


def _reviewer(report: Resource, refs: References, writer: Reader | None) -> Reader | None:
    for extension in report.extension or []:
        if extension.url == REVIEWER_EXTENSION and extension.valueReference is not None:
            return reader_of(extension.valueReference, refs, report)
    interpreters = [reader_of(r, refs, report) for r in report.resultsInterpreter or []]
    if len(interpreters) > 1 and interpreters[1] is not None:
        return interpreters[1]
    for reference in report.performer or []:
        reader = reader_of(reference, refs, report)
        if reader is not None and (writer is None or reader.reader_id != writer.reader_id):
            return reader
    return None


def _replaces(report: Resource, refs: References) -> tuple[str | None, str | None]:
    """(the report_ref replaced, why)."""
    replaced = reason = None
    for extension in report.extension or []:
        if extension.url == REPLACES_EXTENSION:
            value = extension.valueIdentifier.value if extension.valueIdentifier else None
            reference = extension.valueReference
            replaced = value or extension.valueString or (
                reference.identifier.value if reference and reference.identifier else None) or (
                reference.reference.split("/")[-1] if reference and reference.reference else None)
        if extension.url == AMEND_REASON_EXTENSION:
            reason = extension.valueString
    for provenance in refs.resources():
        if provenance.get_resource_type() != "Provenance" or not any(
                refs.resolve(t, provenance) is report for t in provenance.target or []):
            continue
        for entity in provenance.entity or []:
            if entity.role in ("revision", "removal") and entity.what is not None:
                old = refs.resolve(entity.what, provenance)
                replaced = replaced or next(
                    (i.value for i in getattr(old, "identifier", None) or [] if i.value), None) \
                    or (entity.what.identifier.value if entity.what.identifier else None)
        reason = reason or concept_text(next(iter(provenance.reason or []), None))
    return replaced, reason


def _critical(ctx: FhirContext, report: Resource, refs: References, rid: str, ref: str,
              writer: Reader | None) -> list[Event]:
    events: list[Event] = []
    for reference in report.result or []:
        obs = refs.resolve(reference, report)
        if obs is not None and is_critical(obs):
            events += critical_raised(ctx, obs, refs, rid, f"{ref}-{obs.id}", writer)
    return events


def is_critical(obs: Resource) -> bool:
    return any(code.upper() in CRITICAL_INTERPRETATIONS
               for concept in obs.interpretation or [] for _, code, _ in codings(concept))


def critical_raised(ctx: FhirContext, obs: Resource, refs: References, rid: str,
                    fallback_id: str | None = None, writer: Reader | None = None) -> list[Event]:
    critical_id = next((str(i.value) for i in obs.identifier or [] if i.value), None) \
        or fallback_id or obs.id
    if not critical_id:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_critical"),
                       "Observation.identifier")
    value = obs.valueString or concept_text(obs.valueCodeableConcept) or (
        f"{obs.valueQuantity.value:g} {obs.valueQuantity.unit or ''}".strip()
        if obs.valueQuantity is not None and obs.valueQuantity.value is not None else None)
    finding = "：".join(filter(None, [concept_text(obs.code), value])) or None
    checkers = [reader_of(p, refs, obs) for p in obs.performer or []]
    at = fhir_time(obs.issued or obs.effectiveDateTime, ctx.zone, "Observation.issued")
    steps = [(CriticalAction.RAISED, (checkers or [None])[0] or writer)]
    if len(checkers) > 1 and checkers[1] is not None:
        steps.append((CriticalAction.DOUBLE_CHECKED, checkers[1]))
    return [CriticalValueUpdate(
        envelope=CriticalValueUpdate.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "critical", rid,
                                                     critical_id, action.value),
            occurred_at=not_in_future(at, "Observation.issued") if at else None),
        request_id=rid, critical_id=critical_id, action=action, finding=finding, by=by)
        for action, by in steps]


def read_report(ctx: FhirContext, report: Resource, refs: References) -> list[Event]:
    refs = refs.including_contained(report)
    rid = require_request(ctx.member_id, report, list(report.basedOn or []), refs,
                          "DiagnosticReport.basedOn")
    action = REPORT_ACTIONS.get(str(report.status or ""))
    if action is None:
        raise Rejected(RejectReason.UNSUPPORTED, msg(
            "connector.fhir_remote_read_report_status", status=report.status or "-",
            accepted=", ".join(REPORT_ACTIONS)), "DiagnosticReport.status")
    ref = next((str(i.value) for i in report.identifier or [] if i.value), None) or report.id
    if not ref:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_no_report_ref"),
                       "DiagnosticReport.identifier")
    impression = report.conclusion or concept_text(next(iter(report.conclusionCode or []),
                                                        None))
    findings = _findings(report)
    if not (impression or findings):
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_text"),
                       "DiagnosticReport.conclusion")
    writer = next((r for r in (reader_of(x, refs, report)
                               for x in report.resultsInterpreter or []) if r), None)
    reviewer = _reviewer(report, refs, writer)
    if action is ReadAction.FINAL_REPORT and reviewer is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_reviewer"),
                       "DiagnosticReport.resultsInterpreter")
    supersedes, reason = _replaces(report, refs)
    if action in REPLACING and not supersedes:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_replaced"),
                       "DiagnosticReport.extension")
    at = fhir_time(report.issued or report.effectiveDateTime, ctx.zone, "DiagnosticReport.issued")
    update = ReadUpdate(
        envelope=ReadUpdate.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "read-report", rid,
                                                     ref, action.value),
            occurred_at=not_in_future(at, "DiagnosticReport.issued") if at else None),
        request_id=rid, action=action, reader=reviewer or writer,
        report=ReadReport(report_ref=ref, findings=findings, impression=impression,
                          writer=writer, reviewer=reviewer, supersedes=supersedes,
                          amend_reason=reason))
    return [update, *_critical(ctx, report, refs, rid, ref, writer)]


def carried_by_report(ctx: FhirContext, obs: Resource, refs: References) -> bool:
    """An Observation a remote-read DiagnosticReport of the Bundle lists (its critical
    values are raised with the report; the others are part of the report's text)."""
    return any(r.get_resource_type() == "DiagnosticReport" and any(
        refs.resolve(x, r) is obs for x in r.result or []) and names_read_request(ctx, r, refs)
        for r in refs.resources())


def is_read_observation(ctx: FhirContext, obs: Resource, refs: References) -> bool:
    return names_read_request(ctx, obs, refs) or carried_by_report(ctx, obs, refs)


def critical_observation(ctx: FhirContext, obs: Resource, refs: References) -> list[Event]:
    if carried_by_report(ctx, obs, refs):
        return []
    if not is_critical(obs):
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.fhir_remote_read_not_critical"),
                       "Observation.interpretation")
    rid = require_request(ctx.member_id, obs, list(obs.basedOn or []), refs,
                          "Observation.basedOn")
    return critical_raised(ctx, obs, refs, rid)


def _critical_id(comm: Resource, refs: References) -> str | None:
    holders: list[Any] = [*(comm.identifier or []),
                          *(r.identifier for r in [*(comm.about or []), *(comm.inResponseTo
                                                                            or [])])]
    found = next((str(i.value) for i in holders
                  if i is not None and i.system == CRITICAL_ID_SYSTEM and i.value), None)
    if found is not None:
        return found
    for reference in comm.about or []:
        target = refs.resolve(reference, comm)
        if target is not None and target.get_resource_type() == "Observation":
            return next((str(i.value) for i in target.identifier or [] if i.value), None)
        if (reference.type == "Observation" or "Observation/" in (reference.reference or "")) \
                and reference.identifier is not None and reference.identifier.value:
            return str(reference.identifier.value)
    return None


def _step(comm: Resource) -> CriticalAction:
    for concept in comm.category or []:
        for _, code, _ in codings(concept):
            if code_words(code) in CRITICAL_STEPS:
                return CRITICAL_STEPS[code_words(code)]
        for word, step in CRITICAL_WORDS.items():
            if word in (concept.text or ""):
                return CRITICAL_STEPS[step]
    return CriticalAction.ACKNOWLEDGED


def is_critical_communication(ctx: FhirContext, comm: Resource, refs: References) -> bool:
    return request_named(ctx.member_id, comm, [*(comm.basedOn or []), *(comm.about or []),
                                               *(comm.partOf or [])], refs) is not None


def critical_answer(ctx: FhirContext, comm: Resource, refs: References) -> list[Event]:
    refs = refs.including_contained(comm)
    rid = require_request(ctx.member_id, comm, [*(comm.basedOn or []), *(comm.about or []),
                                                 *(comm.partOf or [])], refs,
                          "Communication.basedOn")
    critical_id = _critical_id(comm, refs)
    if critical_id is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_critical"),
                       "Communication.about")
    if comm.status not in ("completed", "in-progress"):
        raise Rejected(RejectReason.UNSUPPORTED, msg(
            "connector.status", status=comm.status or "-", accepted="completed, in-progress"),
            "Communication.status")
    step = _step(comm)
    text = next((p.contentString for p in comm.payload or [] if p.contentString), None)
    if step is CriticalAction.ACKNOWLEDGED and not text:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_no_read_back"),
                       "Communication.payload")
    at = fhir_time(comm.sent or comm.received, ctx.zone, "Communication.sent")
    return [CriticalValueUpdate(
        envelope=CriticalValueUpdate.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "critical", rid,
                                                     critical_id, step.value, str(comm.sent)),
            occurred_at=not_in_future(at, "Communication.sent") if at else None),
        request_id=rid, critical_id=critical_id, action=step,
        read_back=text if step is CriticalAction.ACKNOWLEDGED else None,
        note=text if step is not CriticalAction.ACKNOWLEDGED else None,
        by=reader_of(comm.sender, refs, comm))]
