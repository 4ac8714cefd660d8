"""The hub's remote-diagnosis events as FHIR R4, for `deliver-feedback` to the member's FHIR
server; each resource is PUT by an id derived from the read request, so a redelivery
replaces rather than duplicates.

ReadRequest (to the reading centre) → a transaction Bundle: the Patient in clear, the
ServiceRequest (category remote-read and the DICOM modality; identifiers read-request-id and
ACSN), the Task (code remote-read; requested, or ready once the images are there), the
ImagingStudy (DICOM UID) and its Endpoint (dicom-wado-rs). ReadStatus → the Task (status,
businessStatus, owner the reader or the centre, restriction.period.end the due time); with
a final, amended or corrected report, a transaction Bundle of the DiagnosticReport
(conclusion = impression, presentedForm = findings, resultsInterpreter writer then
reviewer, the replaced report as an extension) and the Task. CriticalValueStatus → a
Communication (category the step, about the critical value by its critical-value-id,
basedOn the ServiceRequest, payload finding and read-back), which the ordering side answers
keeping `about` and `basedOn` (remote_read_report.py).
"""

from __future__ import annotations

import base64
from typing import Any
from zoneinfo import ZoneInfo

from connectors.member.fhir.referral_codes import ESCALATION_EXTENSION, STATUS_EVENT_EXTENSION
from connectors.member.fhir.referral_out import (
    PRIORITIES,
    organization,
    patient_resource,
)
from connectors.member.fhir.remote_read_codes import (
    AMEND_REASON_EXTENSION,
    COMPLEX_EXTENSION,
    CRITICAL_ID_SYSTEM,
    CRITICAL_LABELS,
    CRITICAL_STEP_SYSTEM,
    DICOM_MODALITIES,
    MODALITY_NAMES,
    OUT_MODALITY_CODES,
    READ_REQUEST_SYSTEM,
    REMOTE_READ,
    REPLACES_EXTENSION,
    REPORT_ID_SYSTEM,
    SERVICE_KIND_SYSTEM,
    SETTING_EXTENSION,
    V2_0203,
    business_concept,
    code_words,
)
from connectors.member.fhir.resources import DICOM_UID, parse_resource
from schemas.models import Event, deterministic_id
from schemas.models.common import Patient
from schemas.models.remote_read import (
    CriticalValueStatus,
    ReadAction,
    Reader,
    ReadRequest,
    ReadStatus,
    read_request_id,
)

ITEM_SYSTEM = "urn:consortium-hub:item"
REPORT_STATUSES = {ReadAction.FINAL_REPORT: "final", ReadAction.AMENDED_REPORT: "amended",
                   ReadAction.CORRECTED_REPORT: "corrected",
                   ReadAction.PRELIMINARY_REPORT: "preliminary"}
SENT_AS_REPORT = frozenset({ReadAction.FINAL_REPORT, ReadAction.AMENDED_REPORT,
                            ReadAction.CORRECTED_REPORT})
READ_EVENTS = (ReadRequest, ReadStatus, CriticalValueStatus)


def fhir_id(*parts: str) -> str:
    """A FHIR id for a read request's resources ('<member>:<accession>' is no FHIR id)."""
    return deterministic_id("fhir-remote-read", *parts)


def patient_identifier(patient: Patient) -> dict[str, Any]:
    """The patient's identifier as the referral profile writes it (type NNCHN, ...)."""
    identifier: dict[str, Any] = patient_resource(patient)["identifier"][0]
    return identifier


def _request_reference(rid: str) -> dict[str, Any]:
    return {"reference": f"ServiceRequest/{fhir_id(rid)}", "type": "ServiceRequest",
            "identifier": {"system": READ_REQUEST_SYSTEM, "value": rid}}


def _patient_reference(patient: Patient) -> dict[str, Any]:
    reference: dict[str, Any] = {"type": "Patient", "identifier": patient_identifier(patient)}
    if patient.name:
        reference["display"] = patient.name
    return reference


def _practitioner(reader: Reader) -> dict[str, Any]:
    shown = " ".join(filter(None, [reader.name, reader.title]))
    return {"type": "Practitioner", "identifier": {"value": reader.reader_id},
            "display": shown or reader.reader_id}


def _entry(resource: dict[str, Any], method: str, url: str,
           full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": method, "url": url}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def read_request_bundle(event: ReadRequest, zone: ZoneInfo) -> dict[str, Any]:
    examining = event.envelope.member_id
    rid = read_request_id(examining, event.accession)
    patient_url = f"urn:uuid:{fhir_id(rid, 'patient')}"
    patient_ref = {"reference": patient_url}
    authored = event.ordered_at.astimezone(zone).isoformat()
    modality = OUT_MODALITY_CODES[event.modality]
    code = [{"code": event.local_code, "display": event.item_name or event.local_code}]
    if event.item_code:
        code.append({"system": ITEM_SYSTEM, "code": event.item_code})
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": fhir_id(rid),
        "extension": [{"url": SETTING_EXTENSION, "valueCode": event.setting.value},
                      {"url": COMPLEX_EXTENSION, "valueBoolean": event.complex_study}],
        "identifier": [{"system": READ_REQUEST_SYSTEM, "value": rid},
                       {"type": {"coding": [{"system": V2_0203, "code": "ACSN"}]},
                        "value": event.accession}],
        "status": "active", "intent": "order",
        "category": [{"coding": [{"system": SERVICE_KIND_SYSTEM, "code": REMOTE_READ}],
                      "text": "远程诊断"},
                     {"coding": [{"system": DICOM_MODALITIES, "code": modality}],
                      "text": MODALITY_NAMES[event.modality]}],
        "priority": PRIORITIES[event.priority.value],
        "code": {"coding": code, "text": event.item_name or event.local_code},
        "subject": patient_ref, "authoredOn": authored, "requester": organization(examining),
    }
    if event.clinical_question:
        request["note"] = [{"text": event.clinical_question}]
    if event.body_site:
        request["bodySite"] = [{"text": event.body_site}]
    if event.ordering_department:
        request["locationCode"] = [{"text": event.ordering_department}]
    if event.ordering_doctor:
        request["requester"]["display"] = " ".join(
            filter(None, [request["requester"].get("display"), event.ordering_doctor]))
    if event.record_ref:
        request["supportingInfo"] = [{"identifier": {"value": event.record_ref},
                                      "display": "心电/病理记录"}]
    ready = event.images_available_at is not None
    task: dict[str, Any] = {
        "resourceType": "Task", "id": fhir_id(rid),
        "identifier": [{"system": READ_REQUEST_SYSTEM, "value": rid}],
        "status": "ready" if ready else "requested", "intent": "order",
        "code": {"coding": [{"system": SERVICE_KIND_SYSTEM, "code": REMOTE_READ}],
                 "text": "远程诊断"},
        "priority": request["priority"],
        "businessStatus": business_concept("images-available" if ready else "requested"),
        "focus": _request_reference(rid), "for": patient_ref, "authoredOn": authored,
        "lastModified": (event.images_available_at or event.ordered_at).astimezone(
            zone).isoformat(),
        "requester": organization(examining),
    }
    entries = [_entry(patient_resource(event.patient), "POST", "Patient", patient_url),
               _entry(request, "PUT", f"ServiceRequest/{request['id']}"),
               _entry(task, "PUT", f"Task/{task['id']}")]
    entries[0]["request"]["ifNoneExist"] = \
        f"identifier={patient_identifier(event.patient)['value']}"
    if event.study_uid:
        study: dict[str, Any] = {
            "resourceType": "ImagingStudy", "id": fhir_id(rid, "study"),
            "identifier": [{"system": DICOM_UID, "value": f"urn:oid:{event.study_uid}"},
                           {"type": {"coding": [{"system": V2_0203, "code": "ACSN"}]},
                            "value": event.accession}],
            "status": "available" if ready else "registered",
            "modality": [{"system": DICOM_MODALITIES, "code": modality}],
            "subject": patient_ref, "basedOn": [_request_reference(rid)]}
        if event.wado_url:
            endpoint = {
                "resourceType": "Endpoint", "id": fhir_id(rid, "wado"), "status": "active",
                "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/"
                                   "endpoint-connection-type", "code": "dicom-wado-rs"},
                "payloadType": [{"text": "DICOM"}],
                "payloadMimeType": ["application/dicom"], "address": event.wado_url}
            study["endpoint"] = [{"reference": f"Endpoint/{endpoint['id']}"}]
            entries.append(_entry(endpoint, "PUT", f"Endpoint/{endpoint['id']}"))
        entries.append(_entry(study, "PUT", f"ImagingStudy/{study['id']}"))
        request["supportingInfo"] = [*request.get("supportingInfo", []),
                                     {"reference": f"ImagingStudy/{study['id']}"}]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def read_task(status: ReadStatus, zone: ZoneInfo) -> dict[str, Any]:
    rid = status.request_id
    task: dict[str, Any] = {
        "resourceType": "Task", "id": fhir_id(rid),
        "extension": [{"url": ESCALATION_EXTENSION, "valueInteger": status.escalation_level},
                      {"url": STATUS_EVENT_EXTENSION, "valueString": status.status_id}],
        "identifier": [{"system": READ_REQUEST_SYSTEM, "value": rid}],
        "status": status.status.value.lower().replace("_", "-"), "intent": "order",
        "code": {"coding": [{"system": SERVICE_KIND_SYSTEM, "code": REMOTE_READ}],
                 "text": "远程诊断"},
        "priority": PRIORITIES[status.priority.value],
        "businessStatus": business_concept(status.business_status),
        "focus": _request_reference(rid), "for": _patient_reference(status.patient),
        "lastModified": status.at.astimezone(zone).isoformat(),
        "requester": organization(status.examining_member),
        "owner": _practitioner(status.by_reader) if status.by_reader is not None
        and status.by_member == status.reading_member else organization(status.reading_member),
    }
    if status.reason_code or status.reason:
        task["statusReason"] = {"text": status.reason or status.reason_code}
    if status.due_at is not None:
        task["restriction"] = {"period": {"end": status.due_at.astimezone(zone).isoformat()}}
    if status.note:
        task["note"] = [{"text": status.note}]
    if status.report is not None:
        task["output"] = [{"type": {"text": "诊断报告"}, "valueReference": {
            "type": "DiagnosticReport", "display": status.report.impression or "诊断报告",
            "identifier": {"system": REPORT_ID_SYSTEM, "value": status.report.report_ref}}}]
    return task


def diagnostic_report(status: ReadStatus, zone: ZoneInfo) -> dict[str, Any]:
    report = status.report
    assert report is not None and status.action is not None
    modality = OUT_MODALITY_CODES[status.modality]
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": fhir_id(status.request_id, report.report_ref),
        "identifier": [{"system": REPORT_ID_SYSTEM, "value": report.report_ref}],
        "basedOn": [_request_reference(status.request_id)],
        "status": REPORT_STATUSES[status.action],
        "category": [{"coding": [{"system": DICOM_MODALITIES, "code": modality}],
                      "text": MODALITY_NAMES[status.modality]}],
        "code": {"text": f"{MODALITY_NAMES[status.modality]}远程诊断报告"},
        "subject": _patient_reference(status.patient),
        "issued": status.at.astimezone(zone).isoformat(),
        "performer": [organization(status.reading_member)],
        "resultsInterpreter": [_practitioner(r) for r in (report.writer, report.reviewer) if r],
    }
    if report.impression:
        resource["conclusion"] = report.impression
    if report.findings:
        resource["presentedForm"] = [{
            "contentType": "text/plain; charset=utf-8", "language": "zh-CN", "title": "检查所见",
            "data": base64.b64encode(report.findings.encode()).decode()}]
    extensions = [{"url": REPLACES_EXTENSION, "valueIdentifier": {
        "system": REPORT_ID_SYSTEM, "value": report.supersedes}}] if report.supersedes else []
    if report.amend_reason:
        extensions.append({"url": AMEND_REASON_EXTENSION, "valueString": report.amend_reason})
    return {**resource, "extension": extensions} if extensions else resource


def critical_communication(status: CriticalValueStatus, zone: ZoneInfo) -> dict[str, Any]:
    step = code_words(status.action.value)
    payload = [text for text in (
        f"危急值：{status.finding}" if status.finding else None,
        f"复述：{status.read_back}" if status.read_back else None) if text]
    return {
        "resourceType": "Communication",
        "id": fhir_id(status.request_id, status.critical_id, status.status_id),
        "extension": [{"url": ESCALATION_EXTENSION, "valueInteger": status.escalation_level},
                      {"url": STATUS_EVENT_EXTENSION, "valueString": status.status_id}],
        "identifier": [{"system": CRITICAL_ID_SYSTEM, "value": status.critical_id}],
        "basedOn": [_request_reference(status.request_id)],
        "status": "completed",
        "category": [{"coding": [{"system": CRITICAL_STEP_SYSTEM, "code": step,
                                  "display": CRITICAL_LABELS[step]}],
                      "text": CRITICAL_LABELS[step]}],
        "priority": "stat", "subject": _patient_reference(status.patient),
        "about": [{"type": "Observation", "identifier": {
            "system": CRITICAL_ID_SYSTEM, "value": status.critical_id}}],
        "sent": status.at.astimezone(zone).isoformat(),
        "sender": _practitioner(status.by) if status.by is not None
        else organization(status.by_member),
        "recipient": [organization(status.examining_member),
                      organization(status.reading_member)],
        "payload": [{"contentString": text} for text in payload or [CRITICAL_LABELS[step]]],
    }


def read_exchange(event: Event, zone: ZoneInfo) -> tuple[str, str, dict[str, Any]]:
    """(HTTP method, path under [base], resource) for one remote-read event, checked with
    fhir.resources."""
    if isinstance(event, ReadRequest):
        method, path, resource = "POST", "", read_request_bundle(event, zone)
    elif isinstance(event, ReadStatus):
        task = read_task(event, zone)
        if event.report is not None and event.action in SENT_AS_REPORT:
            report = diagnostic_report(event, zone)
            method, path = "POST", ""
            resource = {"resourceType": "Bundle", "type": "transaction", "entry": [
                _entry(report, "PUT", f"DiagnosticReport/{report['id']}"),
                _entry(task, "PUT", f"Task/{task['id']}")]}
        else:
            method, path, resource = "PUT", f"Task/{task['id']}", task
    elif isinstance(event, CriticalValueStatus):
        resource = critical_communication(event, zone)
        method, path = "PUT", f"Communication/{resource['id']}"
    else:
        raise TypeError(f"no FHIR remote-read rendering for {type(event).__name__}")
    parse_resource(resource)
    return method, path, resource
