"""The reading centre's side of a remote read (ORU^R01, MDM^T02 and ORM^O01 from its RIS),
and critical values (危急值) from either side.

Report status: OBR-25 P (preliminary, 书写), F (final, 审核), C (corrected; ZRR-1 AMENDED
makes it an amendment). Where OBR-25 is empty, the status a RIS put one field off (OBR-24
or OBR-26 holding only P, F or C) is taken, then the text OBX's OBX-11 (all alike), then
an MDM's TXA-17 (AU, LA final; DO, IP, IN, PA preliminary). ZRR-1 names any other step
(CLAIMED, RELEASED, REASSIGNED, INFO_REQUESTED); an ORM from the centre with ORC-5 IP is a
claim, ORC-5 HD asks for information, ORC-1 CA or DC releases the claim.

Text: OBX of type TX, FT or ST (each repetition a line), and CE/CWE (its text, else its
code), labelled impression (LOINC 19005-8, ...IMP, 印象, 诊断, 结论) or else findings.
Readers: the writer (书写) is ZRR-3, else OBR-33 (assistant result interpreter), else an
MDM's TXA-9 (originator), else OBR-32 when the report is preliminary; the reviewer (审核)
is OBR-32 (principal result interpreter), else TXA-22 (authentication person), else TXA-10.
Report number: ZRR-11, else TXA-12, else OBR-3 (the centre's filler number), else OBR-20.

Critical values: each ZCV (layout in remote_read_terms.py); from the centre without ZCV, an
OBX whose OBX-8 is AA, HH or LL raises one (its id `<report ref>-<OBX-1>`, its finding the
OBX text). From the examining member only ACKNOWLEDGED (ZCV-4, the read-back, required) and
RESOLVED are taken; from the centre only RAISED and DOUBLE_CHECKED.
"""

from __future__ import annotations

from datetime import datetime

import hl7

from connectors.member.hl7.context import EventList, MappingContext
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.referral_parts import notes
from connectors.member.hl7.remote_read_request import event_id, message_time
from connectors.member.hl7.remote_read_terms import (
    CRITICAL_FLAGS,
    DOCUMENT_STATUSES,
    REPORT_STATUSES,
    reader_of,
    step_fields,
)
from connectors.member.hl7.results import IMPRESSION_MARKERS
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueUpdate,
    ReadAction,
    Reader,
    ReadReport,
    ReadUpdate,
)
from schemas.reference.messages import text

NO_OBR = hl7.parse("MSH|^~\\&|\rOBR|1").segment("OBR")
TEXT_TYPES = frozenset({"TX", "FT", "ST"})
CODED_TYPES = frozenset({"CE", "CWE"})
READING_ACTIONS = frozenset({
    ReadAction.CLAIMED, ReadAction.RELEASED, ReadAction.REASSIGNED, ReadAction.INFO_REQUESTED,
    ReadAction.PRELIMINARY_REPORT, ReadAction.FINAL_REPORT, ReadAction.AMENDED_REPORT,
    ReadAction.CORRECTED_REPORT})
REPORT_ACTIONS = {"P": ReadAction.PRELIMINARY_REPORT, "F": ReadAction.FINAL_REPORT,
                  "C": ReadAction.CORRECTED_REPORT}
ORDER_STATUS_ACTIONS = {"IP": ReadAction.CLAIMED, "HD": ReadAction.INFO_REQUESTED}
RELEASING = frozenset({"CA", "DC"})
CRITICAL_BY_SIDE = {
    True: frozenset({CriticalAction.RAISED, CriticalAction.DOUBLE_CHECKED}),
    False: frozenset({CriticalAction.ACKNOWLEDGED, CriticalAction.RESOLVED}),
}


def _lines(obx: hl7.Segment) -> str:
    if get(obx, 2).upper() in CODED_TYPES:
        return get(obx, 5, 2) or get(obx, 5, 1)
    count = len(obx(5)) if len(obx) > 5 else 0
    return "\n".join(t for t in (get(obx, 5, 1, rep) for rep in range(1, count + 1)) if t)


def _texts(message: Hl7Message) -> tuple[str | None, str | None]:
    findings: list[str] = []
    impressions: list[str] = []
    for obx in message.segments("OBX"):
        if get(obx, 2).upper() not in TEXT_TYPES | CODED_TYPES:
            continue
        label = " ".join(get(obx, 3, n).upper() for n in (1, 2, 4, 5))
        value = _lines(obx)
        if value:
            (impressions if any(m in label for m in IMPRESSION_MARKERS) else findings).append(value)
    return "\n".join(findings) or None, "\n".join(impressions) or None


def _status(message: Hl7Message, obr: hl7.Segment) -> str:
    """P, F or C: OBR-25, else where a RIS put it (see the module's docstring), else ''."""
    if get(obr, 25):
        code = get(obr, 25).upper()
        if code not in REPORT_STATUSES:
            raise Rejected(RejectReason.UNMAPPED_CODE,
                           text("connector.remote_read_status", code=code), "OBR-25")
        return code
    for field in (24, 26):
        if get(obr, field).upper() in REPORT_STATUSES:
            return get(obr, field).upper()
    found = {get(o, 11).upper() for o in message.segments("OBX")
             if get(o, 2).upper() in TEXT_TYPES | CODED_TYPES and get(o, 11)}
    if len(found) == 1 and found <= REPORT_STATUSES:
        return found.pop()
    if len(found) > 1:
        raise Rejected(RejectReason.INVALID_VALUE, text(
            "connector.remote_read_status_conflict", codes=sorted(found)), "OBX-11")
    txa = message.first("TXA")
    return DOCUMENT_STATUSES.get(get(txa, 17).upper(), "") if txa is not None else ""


def _action(message: Hl7Message, obr: hl7.Segment) -> ReadAction:
    step = step_fields(message.first("ZRR"))
    if step.action:
        action = ReadAction.__members__.get(step.action.upper())
        if action is None or action not in READING_ACTIONS:
            raise Rejected(RejectReason.INVALID_VALUE, text(
                "connector.remote_read_action_reading", code=step.action), "ZRR-1")
        return action
    orc = message.first("ORC")
    if message.header.message_type.upper() == "ORM" and orc is not None:
        if get(orc, 1).upper() in RELEASING:
            return ReadAction.RELEASED
        if get(orc, 5).upper() in ORDER_STATUS_ACTIONS:
            return ORDER_STATUS_ACTIONS[get(orc, 5).upper()]
        raise Rejected(RejectReason.MISSING_FIELD, text(
            "connector.remote_read_claim_status", status=get(orc, 5) or "-"), "ORC-5")
    status = _status(message, obr)
    if not status:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.remote_read_no_status"),
                       "OBR-25")
    return REPORT_ACTIONS[status]


def _report(message: Hl7Message, obr: hl7.Segment, action: ReadAction) -> ReadReport:
    step = step_fields(message.first("ZRR"))
    txa = message.first("TXA")
    ref = step.report_ref or (get(txa, 12) if txa is not None else "") or get(obr, 3) \
        or get(obr, 20)
    if not ref:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.hl7_no_report_ref"), "OBR-3")
    findings, impression = _texts(message)
    if not findings and not impression:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.remote_read_no_text"), "OBX-5")
    zrr = message.first("ZRR")
    preliminary = action is ReadAction.PRELIMINARY_REPORT
    writer = (reader_of(zrr, 3) or reader_of(obr, 33) or reader_of(txa, 9)
              or (reader_of(obr, 32) if preliminary else None))
    reviewer = None if preliminary else (reader_of(obr, 32) or reader_of(txa, 22)
                                         or reader_of(txa, 10))
    supersedes = step.supersedes or (get(txa, 13) if txa is not None else "")
    return ReadReport(report_ref=ref, findings=findings, impression=impression, writer=writer,
                      reviewer=reviewer, supersedes=supersedes or None,
                      amend_reason=step.amend_reason or None)


def report_update(ctx: MappingContext, message: Hl7Message, request_id: str) -> ReadUpdate:
    obr = message.first("OBR") or NO_OBR  # an MDM^T02 may carry TXA and OBX only
    action = _action(message, obr)
    step = step_fields(message.first("ZRR"))
    zrr, txa = message.first("ZRR"), message.first("TXA")
    report = _report(message, obr, action) if action in REPORT_ACTIONS.values() or \
        action is ReadAction.AMENDED_REPORT else None
    if report is not None:
        reader = report.reviewer or report.writer
    else:
        reader = reader_of(zrr, 3) or reader_of(obr, 32)
    when = message_time(ctx, message, (txa, 4), (txa, 6), (obr, 22), (obr, 7))
    return ReadUpdate(
        envelope=ReadUpdate.new_envelope(
            ctx.member_id, event_id=event_id(ctx, message, request_id, action.value),
            occurred_at=when),
        request_id=request_id, action=action, reader=reader,
        reassigned_to=reader_of(zrr, 4), report=report,
        reason_code=step.reason_code or None, note=step.note or notes(message) or None,
    )


def critical_values(ctx: MappingContext, message: Hl7Message, request_id: str, *,
                    reading: bool) -> EventList:
    found: EventList = []
    for index, zcv in enumerate(message.segments("ZCV"), start=1):
        where = f"ZCV[{index}]"
        code = get(zcv, 2).upper() or (CriticalAction.RAISED.value if reading else "")
        action = CriticalAction.__members__.get(code)
        if action is None or action not in CRITICAL_BY_SIDE[reading]:
            raise Rejected(RejectReason.INVALID_VALUE, text(
                "connector.remote_read_critical_action", code=get(zcv, 2) or "-"), f"{where}-2")
        if not get(zcv, 1):
            raise Rejected(RejectReason.MISSING_FIELD,
                           text("connector.remote_read_no_critical_id"), f"{where}-1")
        if action is CriticalAction.ACKNOWLEDGED and not get(zcv, 4):
            raise Rejected(RejectReason.MISSING_FIELD,
                           text("connector.remote_read_no_read_back"), f"{where}-4")
        if action is CriticalAction.RAISED and not get(zcv, 3):
            raise Rejected(RejectReason.MISSING_FIELD,
                           text("connector.remote_read_no_finding"), f"{where}-3")
        found.append(_critical(ctx, message, request_id, get(zcv, 1), action, get(zcv, 3),
                               read_back=get(zcv, 4), by=reader_of(zcv, 5), note=get(zcv, 6),
                               when=message_time(ctx, message, (zcv, 8))))
    if found or not reading:
        return found
    obr = message.first("OBR")
    ref = (get(obr, 3) or get(obr, 20)) if obr is not None else ""
    for index, obx in enumerate(message.segments("OBX"), start=1):
        if get(obx, 8).upper() in CRITICAL_FLAGS or get(obx, 8) in CRITICAL_FLAGS:
            finding = _lines(obx) or get(obx, 3, 2)
            if not finding:
                raise Rejected(RejectReason.MISSING_FIELD,
                               text("connector.remote_read_no_finding"), f"OBX[{index}]-5")
            critical_id = f"{ref or request_id}-{get(obx, 1) or index}"
            found.append(_critical(ctx, message, request_id, critical_id, CriticalAction.RAISED,
                                   finding, by=reader_of(obr, 32) if obr is not None else None,
                                   when=message_time(ctx, message, (obx, 14), (obr, 22))))
    return found


def _critical(ctx: MappingContext, message: Hl7Message, request_id: str, critical_id: str,
              action: CriticalAction, finding: str, *, read_back: str = "",
              by: Reader | None = None, note: str = "",
              when: datetime) -> CriticalValueUpdate:
    return CriticalValueUpdate(
        envelope=CriticalValueUpdate.new_envelope(
            ctx.member_id, event_id=event_id(ctx, message, request_id,
                                             f"CRITICAL:{critical_id}:{action.value}"),
            occurred_at=when),
        request_id=request_id, critical_id=critical_id, action=action,
        finding=finding or None, read_back=read_back or None, by=by, note=note or None,
    )
