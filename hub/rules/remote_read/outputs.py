"""What a read request's steps tell people: a ReadStatus to both members (the patient in
clear only there), the request itself to the reading centre, the final report to
hub.results as an ImagingReport (pseudonymous, on the patient's home partition) so the
recognition flow indexes it, and the operators' alerts (no identity). Every id derives
from what caused the output and every time from the step: a redelivered input repeats
its outputs byte for byte."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.rules.remote_read.record import ReadRecord
from schemas.models import ImagingReport, OperatorAlert, deterministic_id
from schemas.models.clinical import Modality, ResultStatus
from schemas.models.common import Patient
from schemas.models.remote_read import ReadAction, Reader, ReadRequest, ReadStatus, ReadUpdate
from schemas.reference.messages import Label, Locale, Text
from schemas.reference.registry import Registry

OVERDUE_ALERT = "remote-read-overdue"
OpenPatient = Callable[[Patient], Patient]
RECOGNISED_MODALITY = {"CT": Modality.CT, "MR": Modality.MRI, "DR": Modality.XRAY,
                       "US": Modality.ULTRASOUND, "ECG": Modality.ELECTROPHYSIOLOGY}


def status_id(request_id: str, cause: str) -> str:
    return deterministic_id("read-status", request_id, cause)


def read_statuses(record: ReadRecord, *, cause: str, action: ReadAction | None,
                  by_member: str, at: datetime, due_at: datetime | None,
                  open_patient: OpenPatient, locale: Locale, by_reader: Reader | None = None,
                  update: ReadUpdate | None = None, reason: Text | None = None,
                  escalation_level: int = 0, also_to: tuple[str, ...] = ()
                  ) -> list[ReadStatus]:
    """The status after a step (or a missed deadline), one copy per member's out topic:
    the same status_id, an envelope of the member's own. A report travels with the
    preliminary, final and amended steps."""
    sid = status_id(record.request_id, cause)
    task = record.task
    reporting = action in {ReadAction.PRELIMINARY_REPORT, ReadAction.FINAL_REPORT,
                           ReadAction.AMENDED_REPORT, ReadAction.CORRECTED_REPORT}
    fields = {
        "status_id": sid, "request_id": record.request_id,
        "examining_member": record.examining, "reading_member": record.reading,
        "modality": record.modality, "priority": record.priority, "action": action,
        "status": task.status, "business_status": task.business_status,
        "by_member": by_member, "by_reader": by_reader, "at": at, "due_at": due_at,
        "escalation_level": escalation_level, "patient": open_patient(record.sealed()),
        "report": record.report if reporting else None,
        "reason_code": update.reason_code if update else None,
        "reason": locale.render(reason) if reason is not None else None,
        "note": update.note if update else None,
    }
    parties = tuple(dict.fromkeys((record.examining, record.reading, *also_to)))
    return [
        ReadStatus.model_validate({
            "envelope": ReadStatus.new_envelope(
                member, event_id=deterministic_id("read-status-to", sid, member),
                occurred_at=at, correlation_id=update.envelope.event_id if update else None),
            **fields,
        })
        for member in parties
    ]


def reader_copy(record: ReadRecord, open_patient: OpenPatient) -> ReadRequest:
    """The request as the reading centre's RIS puts it on its worklist: the identity in
    clear, the request id's envelope kept (a backup centre gets the same request)."""
    request = ReadRequest.model_validate(record.request)
    return request.model_copy(update={"patient": open_patient(request.patient)})


def recognisable_report(record: ReadRecord, registry: Registry, cause: str,
                        at: datetime) -> ImagingReport | None:
    """The final (or amended) report as a result the recognition flow indexes: only for a
    catalogue item the reading centre passed QC for, and a modality it recognises."""
    member = registry.get(record.reading)
    modality = RECOGNISED_MODALITY.get(record.modality.value)
    report = record.report
    if member is None or modality is None or record.item_code is None or report is None \
            or not member.passed_qc(record.item_code):
        return None
    amended = record.task.business_status in {"amended", "corrected"}
    return ImagingReport(
        envelope=ImagingReport.new_envelope(
            record.reading, event_id=deterministic_id("read-result", record.request_id, cause),
            occurred_at=at),
        patient=record.sealed(), item_code=record.item_code,
        local_code=record.local_code, item_name=record.item_name, modality=modality,
        order_ref=record.request_id, report_ref=record.study_ref,
        findings=report.findings, conclusion=report.impression,
        status=ResultStatus.CORRECTED if amended else ResultStatus.FINAL, reported_at=at)


def overdue_reason(record: ReadRecord, due: datetime, level: int, reader_name: str) -> Text:
    """Late with the report, or (on hold) late with the information the reader asked for."""
    waiting = record.task.business_status == "waiting-for-information"
    return Text("remote_read.info_overdue" if waiting else "remote_read.overdue", {
        "request_id": record.request_id,
        "modality": Label(f"remote_read.modality.{record.modality.value}"),
        "priority": Label(f"remote_read.priority.{record.priority.value}"),
        "due_at": due, "level": level, "reader": reader_name})


def overdue_alert(record: ReadRecord, summary: Text, due: datetime, at: datetime,
                  level: int, locale: Locale) -> OperatorAlert:
    """A read overdue past the supervisor's grace: no identity, no pseudonym."""
    alert_id = deterministic_id("alert", OVERDUE_ALERT, record.request_id, due.isoformat(),
                                str(level))
    return OperatorAlert(
        envelope=OperatorAlert.new_envelope(record.reading, event_id=alert_id, occurred_at=at),
        alert_id=alert_id, kind=OVERDUE_ALERT, severity="WARNING",
        member_ids=[record.examining, record.reading], summary=locale.render(summary),
        details={"request_id": record.request_id, "modality": record.modality.value,
                 "priority": record.priority.value, "limit": record.limit,
                 "business_status": record.task.business_status,
                 "due_at": due.isoformat(), "level": str(level)},
    )
