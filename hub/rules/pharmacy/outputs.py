"""The events the pharmacy flow sends, built from its decisions. Every id derives from the
inputs that caused it, so a redelivered input repeats its outputs exactly."""

from __future__ import annotations

from datetime import datetime

from hub.rules.pharmacy.arithmetic import StockPosition
from hub.rules.pharmacy.dispatch import PlacedOrder
from hub.rules.pharmacy.ledger import OpenShortage
from hub.rules.pharmacy.trace import TraceDuplicate
from hub.rules.pharmacy.transfers import TransferMove
from schemas.models import (
    Feedback,
    OperatorAlert,
    ReplenishmentOrder,
    Shortage,
    StockEvent,
    StockLevel,
    deterministic_id,
)
from schemas.models.outputs import FeedbackStatus, ShortageStatus
from schemas.reference.formulary import Drug, StockParams
from schemas.reference.messages import DEFAULT_LOCALE, Locale, text

TRACE_DUPLICATE_ALERT = "TRACE_DUPLICATE"


def shortage_key(member_id: str, drug_code: str) -> str:
    """Partition key of pharmacy.shortages and pharmacy.orders: member and drug."""
    return f"{member_id}|{drug_code}"


def shortage_event(
    shortage: OpenShortage,
    status: ShortageStatus,
    member_id: str,
    drug: Drug,
    position: StockPosition,
    *,
    cause_id: str,
    now: datetime,
) -> Shortage:
    event_id = deterministic_id("shortage-event", shortage.shortage_id, status.value, cause_id)
    return Shortage(
        envelope=Shortage.new_envelope(
            member_id, event_id=event_id, occurred_at=now, correlation_id=cause_id
        ),
        shortage_id=shortage.shortage_id,
        status=status,
        source=shortage.source,
        member_id=member_id,
        drug_code=drug.code,
        drug_name=drug.name,
        specification=drug.specification,
        dosage_form=drug.dosage_form,
        on_hand=position.on_hand,
        avg_daily_use=round(position.avg_daily_use, 3),
        days_of_supply=(
            round(position.days_of_supply, 2) if position.days_of_supply is not None else None
        ),
        reorder_point=round(position.reorder_point, 2),
        suggested_quantity=shortage.quantity_short,
        transfer_from=shortage.transfer_from,
        transfer_quantity=shortage.transfer_quantity,
        order_quantity=shortage.order_quantity,
        reason=shortage.reason,
        expected_recovery=shortage.expected_recovery,
    )


def stock_level(
    event: StockEvent, drug: Drug, position: StockPosition, transfer: TransferMove | None, *,
    now: datetime,
) -> StockLevel:
    """The member's stock of the drug right after `event` (one per movement applied)."""
    member_id, cause_id = event.envelope.member_id, event.envelope.event_id
    return StockLevel(
        envelope=StockLevel.new_envelope(
            member_id, event_id=deterministic_id("stock-level", cause_id), occurred_at=now,
            correlation_id=cause_id,
        ),
        stock_event_id=cause_id,
        member_id=member_id,
        drug_code=drug.code,
        drug_name=drug.name,
        specification=drug.specification,
        unit=drug.unit,
        movement=event.kind,
        quantity=event.quantity,
        moved_at=event.at,
        on_hand=position.on_hand,
        avg_daily_use=round(position.avg_daily_use, 3),
        days_of_supply=(
            round(position.days_of_supply, 2) if position.days_of_supply is not None else None
        ),
        reorder_point=round(position.reorder_point, 2),
        transfer_id=transfer.transfer_id if transfer else None,
        transfer_state=transfer.state if transfer else None,
        counterpart_member=(transfer.counterpart if transfer else event.counterpart_member),
    )


def order_event(
    order: PlacedOrder, member_id: str, drug: Drug, params: StockParams, *,
    cause_id: str, now: datetime,
) -> ReplenishmentOrder:
    event_id = deterministic_id("order-event", order.order_id, cause_id)
    return ReplenishmentOrder(
        envelope=ReplenishmentOrder.new_envelope(
            member_id, event_id=event_id, occurred_at=now, correlation_id=cause_id
        ),
        order_id=order.order_id,
        member_id=member_id,
        drug_code=drug.code,
        drug_name=drug.name,
        quantity=order.quantity,
        unit=drug.unit,
        supply_mode=params.supply_mode.value,
        cycle_start=order.cycle_start,
        shortage_ids=list(order.shortage_ids),
    )


def member_feedback(
    member_id: str,
    in_reply_to: str | None,
    status: FeedbackStatus,
    *,
    id_parts: tuple[str, ...],
    cause_id: str,
    now: datetime,
    reason_code: str | None = None,
    reason: str | None = None,
    details: dict[str, str] | None = None,
) -> Feedback:
    event_id = deterministic_id("feedback", in_reply_to or "", status.value, *id_parts)
    return Feedback(
        envelope=Feedback.new_envelope(
            member_id, event_id=event_id, occurred_at=now, correlation_id=cause_id
        ),
        in_reply_to=in_reply_to,
        status=status,
        reason_code=reason_code,
        reason=reason,
        details=details or {},
    )


def transfer_request(
    donor: str, shortage_id: str, to_member: str, drug: Drug, quantity: float, *,
    cause_id: str, now: datetime, locale: Locale = DEFAULT_LOCALE,
) -> Feedback:
    """Asks the donor to transfer stock; it names the shortage as transfer_ref."""
    return member_feedback(
        donor, None, FeedbackStatus.TRANSFER_REQUESTED,
        id_parts=(shortage_id,), cause_id=cause_id, now=now,
        reason_code="TRANSFER_REQUESTED",
        reason=locale.render(text("pharmacy.transfer_requested", quantity=float(quantity),
                                  unit=drug.unit, drug=drug.name, to_member=to_member)),
        details={
            "shortage_id": shortage_id, "transfer_ref": shortage_id, "to_member": to_member,
            "drug_code": drug.code, "drug_name": drug.name, "quantity": f"{quantity:g}",
            "unit": drug.unit,
        },
    )


def _trace_details(dup: TraceDuplicate, drug: Drug) -> dict[str, str]:
    return {
        "trace_code": dup.trace_code, "product_prefix": dup.product_prefix,
        "drug_code": drug.code, "drug_name": drug.name,
        "first_member": dup.first.member_id, "first_event_id": dup.first.event_id,
        "again_member": dup.again.member_id, "again_event_id": dup.again.event_id,
    }


def trace_alert(dup: TraceDuplicate, drug: Drug, *, now: datetime,
                locale: Locale = DEFAULT_LOCALE) -> OperatorAlert:
    alert_id = deterministic_id("alert", TRACE_DUPLICATE_ALERT, dup.again.event_id, dup.trace_code)
    return OperatorAlert(
        envelope=OperatorAlert.new_envelope(
            dup.again.member_id, event_id=alert_id, occurred_at=now,
            correlation_id=dup.again.event_id,
        ),
        alert_id=alert_id,
        kind=TRACE_DUPLICATE_ALERT,
        severity="WARNING",
        member_ids=dup.member_ids,
        summary=locale.render(text(
            "pharmacy.trace_duplicate_alert", trace_code=dup.trace_code, drug=drug.name,
            again=dup.again.member_id, first=dup.first.member_id,
        )),
        details=_trace_details(dup, drug),
    )


def trace_feedback(dup: TraceDuplicate, drug: Drug, *, now: datetime,
                   locale: Locale = DEFAULT_LOCALE) -> list[Feedback]:
    """Tells both members (once if it is the same member) about the pack seen twice."""
    reason = locale.render(text("pharmacy.trace_duplicate", trace_code=dup.trace_code,
                                drug=drug.name))
    sightings = [dup.again] if dup.first.member_id == dup.again.member_id else [
        dup.again, dup.first
    ]
    return [
        member_feedback(
            seen.member_id, seen.event_id, FeedbackStatus.TRACE_DUPLICATE,
            id_parts=(dup.trace_code, dup.again.event_id), cause_id=dup.again.event_id,
            now=now, reason_code=TRACE_DUPLICATE_ALERT, reason=reason,
            details=_trace_details(dup, drug),
        )
        for seen in sightings
    ]
