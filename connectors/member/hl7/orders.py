"""ORM^O01 and OML^O21 to TestOrder, one per OBR, so recognition advice can be returned
for it. Only new orders (ORC-1 NW) are accepted; any other order control is answered
with an error saying so (cancellations and changes are not hub events).

Priority: TQ1-9, else ORC-7.6, else OBR-27.6 (TQ-6): S (stat) is an emergency, A (ASAP)
urgent, R or empty routine.
"""

from __future__ import annotations

import hl7

from connectors.member.hl7.context import EventList, MappingContext, coded
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.patient import patient_from_pid, person_name
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import Patient, TestOrder
from schemas.models.clinical import OrderPriority
from schemas.reference.messages import text

PRIORITIES: dict[str, OrderPriority] = {
    "S": OrderPriority.EMERGENCY, "A": OrderPriority.URGENT, "R": OrderPriority.ROUTINE,
    "": OrderPriority.ROUTINE,
}
NEW_ORDER = "NW"


def doctor(segment: hl7.Segment | None, field: int) -> str | None:
    """An XCN as a name (family then given), else the doctor's id."""
    if segment is None:
        return None
    return person_name(get(segment, field, 2), get(segment, field, 3)) or get(segment, field, 1) \
        or None


def _priority(orc: hl7.Segment, obr: hl7.Segment, tq1: hl7.Segment | None,
              index: int) -> OrderPriority:
    code = (get(tq1, 9) if tq1 is not None else "") or get(orc, 7, 6) or get(obr, 27, 6)
    if code.upper() not in PRIORITIES:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.priority", code=code), f"OBR[{index}]-27")
    return PRIORITIES[code.upper()]


def _order(ctx: MappingContext, message: Hl7Message, patient: Patient, orc: hl7.Segment,
           obr: hl7.Segment, tq1: hl7.Segment | None, index: int) -> TestOrder:
    control = get(orc, 1).upper()
    if control != NEW_ORDER:
        raise Rejected(RejectReason.UNSUPPORTED,
                       text("connector.order_control", control=control or "-"), "ORC-1")
    order_id = get(obr, 2) or get(orc, 2)
    if not order_id:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_placer_order"),
                       f"OBR[{index}]-2")
    code = coded(obr, 4)
    item = ctx.codes.item(code.local, code.loinc, f"OBR[{index}]-4")
    ordered_at = ctx.first_time(message, (orc, 9), (obr, 6))
    pv1 = message.first("PV1")
    department = get(orc, 17, 2) or get(orc, 17, 1) or (get(pv1, 3, 1) if pv1 is not None else "")
    return TestOrder(
        envelope=TestOrder.new_envelope(
            ctx.member_id, event_id=ctx.event_id(message, "OBR", str(index)),
            occurred_at=ordered_at),
        patient=patient, order_id=order_id, item_code=item.code,
        local_code=code.local or code.loinc, ordered_at=ordered_at,
        priority=_priority(orc, obr, tq1, index),
        ordering_doctor=doctor(orc, 12) or doctor(obr, 16), department=department or None,
    )


def map_order(ctx: MappingContext, message: Hl7Message) -> EventList:
    patient: Patient | None = None
    orc: hl7.Segment | None = None
    tq1: hl7.Segment | None = None
    pending_orc = False
    events: EventList = []
    index = 0
    for segment in message.parsed:
        name = str(segment[0][0])
        if name == "PID":
            patient = patient_from_pid(segment, message.segments("NK1"))
        elif name == "ORC":
            if pending_orc:
                raise Rejected(RejectReason.UNSUPPORTED, text("connector.orc_without_obr"),
                               "ORC")
            orc, tq1, pending_orc = segment, None, True
        elif name == "TQ1":
            tq1 = segment
        elif name == "OBR":
            index += 1
            if orc is None:
                raise Rejected(RejectReason.MALFORMED, text("connector.obr_without_orc"),
                               f"OBR[{index}]")
            if patient is None:
                raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_pid_before_order"),
                               "PID")
            events.append(_order(ctx, message, patient, orc, segment, tq1, index))
            pending_orc = False
    if pending_orc or not events:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.nothing_ordered"), "OBR")
    return events
