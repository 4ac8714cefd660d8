"""What a referral's steps tell people: a ReferralStatus to both parties (the patient in
clear only there), the request itself to its receiver's HIS, a referral onward written back
to the hub, and the office's alerts (pseudonymous). Every id derives from what caused the
output and every time from the step, so a redelivered input repeats its outputs byte for
byte."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.rules.coordination import HUB_MEMBER, Escalation
from hub.rules.referral.capacity import MINIMUM_RESERVED_SHARE, Pool
from hub.rules.referral.record import ReferralRecord
from schemas.models import OperatorAlert, deterministic_id
from schemas.models.common import Patient
from schemas.models.referral import (
    ReferralAction,
    ReferralDirection,
    ReferralRequest,
    ReferralStatus,
    ReferralUpdate,
    referral_id,
)
from schemas.reference.messages import Label, Locale, Text

HUB = HUB_MEMBER  # who the hub's own steps are by
RESERVE_ALERT = "referral-reserve-below-20pct"
OVERDUE_ALERT = "referral-overdue"
OpenPatient = Callable[[Patient], Patient]


def status_id(referral: str, cause: str) -> str:
    """One status per referral and cause (a step's event id, or an escalation's mark)."""
    return deterministic_id("referral-status", referral, cause)


def statuses(record: ReferralRecord, *, cause: str, action: ReferralAction | None,
             by_member: str, at: datetime, due_at: datetime | None, open_patient: OpenPatient,
             locale: Locale, update: ReferralUpdate | None = None,
             reason: Text | str | None = None,
             escalation_level: int = 0) -> list[ReferralStatus]:
    """The status after a step (or a missed deadline), one copy for each party's out
    topic: the same status_id, an envelope of the party's own."""
    sid = status_id(record.referral_id, cause)
    task = record.task
    fields = {
        "status_id": sid, "referral_id": record.referral_id, "referrer_id": record.referrer,
        "receiver_id": record.receiver, "direction": record.direction, "kind": record.kind,
        "priority": record.priority, "action": action, "status": task.status,
        "business_status": task.business_status, "by_member": by_member, "at": at,
        "due_at": due_at, "escalation_level": escalation_level,
        "patient": open_patient(record.sealed()), "booking": record.booking,
        "reason_code": update.reason_code if update else None,
        "reason": locale.render(reason) if reason is not None else None,
        "note": update.note if update else None,
        "onward_to": update.onward_to if update else None,
        "onward_referral_id": record.onward_referral_id,
        "returns_referral": record.returns_referral,
        "encounter_ref": update.encounter_ref if update else None,
        "documents": list(update.documents) if update else [],
        "downward_plan": update.downward_plan if update else None,
    }
    return [
        ReferralStatus.model_validate({
            "envelope": ReferralStatus.new_envelope(
                party, event_id=deterministic_id("referral-status-to", sid, party),
                occurred_at=at, correlation_id=update.envelope.event_id if update else None),
            **fields,
        })
        for party in (record.referrer, record.receiver)
    ]


def receiver_copy(request: ReferralRequest, open_patient: OpenPatient) -> ReferralRequest:
    """The request as the receiver's HIS admits the patient: the identity in clear."""
    return request.model_copy(update={"patient": open_patient(request.patient)})


def onward_ref(referral_ref: str) -> str:
    return f"{referral_ref}/onward-1"


def onward_request(record: ReferralRecord, update: ReferralUpdate,
                   direction: ReferralDirection) -> ReferralRequest:
    """The referral onward the hub writes for the original referrer (who follows it): the
    same patient, reason and documents, to the member the receiver named."""
    original = ReferralRequest.model_validate(record.request)
    new_to = update.onward_to or ""
    ref = onward_ref(record.referral_ref)
    event_id = deterministic_id("referral-onward", record.referral_id, update.envelope.event_id)
    return original.model_copy(update={
        "envelope": ReferralRequest.new_envelope(
            record.referrer, event_id=event_id, occurred_at=update.envelope.occurred_at,
            correlation_id=update.envelope.event_id),
        "referral_ref": ref, "to_member": new_to, "to_service": None,
        "to_service_name": None, "onward_of": record.referral_id,
        "direction": direction,
        "documents": [*original.documents, *update.documents],
        "requested_at": update.envelope.occurred_at,
    })


def onward_referral_id(record: ReferralRecord) -> str:
    return referral_id(record.referrer, onward_ref(record.referral_ref))


def reserve_alert(pool: Pool, owner_name: str, at: datetime, locale: Locale) -> OperatorAlert:
    """The office is told a pool reserves less than the domain's 20%, once per
    publication."""
    alert_id = deterministic_id("alert", RESERVE_ALERT, pool.key, pool.publication)
    share = f"{pool.reserved_share:.0%}"
    return OperatorAlert(
        envelope=OperatorAlert.new_envelope(pool.owner, event_id=alert_id, occurred_at=at,
                                            correlation_id=pool.publication),
        alert_id=alert_id, kind=RESERVE_ALERT, severity="WARNING", member_ids=[pool.owner],
        summary=locale.render(Text("referral.reserve_below_minimum", {
            "member": owner_name, "pool": pool.resource_name, "reserved": pool.reserved,
            "total": pool.total, "share": share,
            "minimum": f"{MINIMUM_RESERVED_SHARE:.0%}"})),
        details={"pool_id": pool.pool_id, "resource": pool.resource.value,
                 "resource_code": pool.resource_code, "reserved": str(pool.reserved),
                 "total": str(pool.total), "share": share},
    )


def overdue_reason(record: ReferralRecord, due: datetime, level: int) -> Text:
    return Text("referral.overdue", {
        "referral_id": record.referral_id,
        "status": Label(f"referral.status.{record.task.business_status}"),
        "due_at": due, "level": level})


def overdue_alert(record: ReferralRecord, escalation: Escalation, at: datetime,
                  locale: Locale) -> OperatorAlert:
    """A referral overdue past the office's grace: no identity, no pseudonym."""
    alert_id = deterministic_id("alert", OVERDUE_ALERT, record.referral_id,
                                record.task.since.isoformat(), str(escalation.level))
    return OperatorAlert(
        envelope=OperatorAlert.new_envelope(record.receiver, event_id=alert_id, occurred_at=at),
        alert_id=alert_id, kind=OVERDUE_ALERT, severity="WARNING",
        member_ids=[record.referrer, record.receiver],
        summary=locale.render(overdue_reason(record, escalation.due_at, escalation.level)),
        details={"referral_id": record.referral_id, "business_status":
                 record.task.business_status, "priority": record.priority.value,
                 "direction": record.direction.value, "due_at": escalation.due_at.isoformat(),
                 "level": str(escalation.level)},
    )
