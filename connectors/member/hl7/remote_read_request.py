"""The examining member's side of a remote read (ORM^O01 / OMI^O23 from its RIS): a new
request (ORC-1 NW), images available, information provided, a cancellation.

Request fields: OBR-4 the exam (the member's code, mapped to the recognition catalogue when
it is there), OBR-24 the diagnostic service section (table 0074 or a DICOM modality; else
the catalogue item's modality), priority TQ1-9, else ORC-7.6, else OBR-27.6, else OBR-5;
setting ZRR-7, else PV1-2; clinical question OBR-31 (reason for study) and OBR-13
(relevant clinical information), else the NTE; the study ZDS-1.1 (IHE: the Study Instance
UID, type DICOM), else IPC-3, else an OBX of type RP with type DICOM; WADO-RS ZRR-9, else
ZDS-1.2 when it is a URL; body site OBR-15.4, else OBR-46.

Images are available when ORC-5 is CM (the exam done), or an OMI carries IPC-3 (the study
exists), or ZRR-1 says IMAGES_AVAILABLE: a request then starts the clock at OBR-8
(observation end), else OBR-7, else TQ1-7, else ORC-9, else the message time.

Other steps: ZRR-1 first (IMAGES_AVAILABLE, INFO_PROVIDED, CANCELLED); else ORC-1 CA, DC or
OC cancels; else ORC-5 CM or the study (ZDS, IPC-3) makes the images available.
"""

from __future__ import annotations

from datetime import UTC, datetime

import hl7

from connectors.member.hl7.context import MappingContext, coded
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.orders import doctor
from connectors.member.hl7.patient import patient_from_pid
from connectors.member.hl7.referral_parts import notes
from connectors.member.hl7.remote_read_terms import (
    CATALOGUE_MODALITIES,
    modality_of,
    priority_of,
    setting_of,
    step_fields,
)
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import deterministic_id
from schemas.models.clinical import Modality
from schemas.models.remote_read import (
    PatientSetting,
    ReadAction,
    ReadModality,
    ReadRequest,
    ReadUpdate,
)
from schemas.reference.messages import text

EXAMINING_ACTIONS = frozenset({ReadAction.IMAGES_AVAILABLE, ReadAction.INFO_PROVIDED,
                               ReadAction.CANCELLED})
CANCELLING = frozenset({"CA", "DC", "OC"})
EXAM_DONE = "CM"
SETTING_FOR_PV1 = {"E": PatientSetting.EMERGENCY, "I": PatientSetting.INPATIENT}


def event_id(ctx: MappingContext, message: Hl7Message, request_id: str, part: str) -> str:
    return deterministic_id(ctx.event_id(message, "REMOTE_READ"), request_id, part)


def message_time(ctx: MappingContext, message: Hl7Message,
                 *candidates: tuple[hl7.Segment | None, int]) -> datetime:
    """The first time present among the candidates and MSH-7; a RIS that leaves MSH-7 empty
    is accepted, the time the connector took the message is then used."""
    msh = message.first("MSH")
    for segment, field in (*candidates, (msh, 7)):
        if segment is not None:
            at = ctx.time(segment, field)
            if at is not None:
                return at
    return datetime.now(UTC)


def _study(message: Hl7Message) -> tuple[str, str]:
    """(Study Instance UID, WADO-RS url) from ZDS, IPC-3 or an OBX RP of type DICOM."""
    zds, ipc = message.first("ZDS"), message.first("IPC")
    uid = get(zds, 1, 1) if zds is not None else ""
    url = get(zds, 1, 2) if zds is not None else ""
    uid = uid or (get(ipc, 3) if ipc is not None else "")
    if not uid:
        uid = next((get(obx, 5, 1) for obx in message.segments("OBX")
                    if get(obx, 2).upper() == "RP" and get(obx, 5, 3).upper() == "DICOM"), "")
    return uid, url if url.lower().startswith("http") else ""


def images_available(message: Hl7Message, orc: hl7.Segment) -> bool:
    ipc = message.first("IPC")
    return get(orc, 5).upper() == EXAM_DONE or (ipc is not None and bool(get(ipc, 3)))


def _modality(obr: hl7.Segment, catalogue_modality: Modality | None) -> ReadModality:
    found = modality_of(get(obr, 24), "OBR-24")
    if found is None and catalogue_modality is not None:
        found = CATALOGUE_MODALITIES.get(catalogue_modality)
    if found is None:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.remote_read_no_modality"),
                       "OBR-24")
    return found


def read_request(ctx: MappingContext, message: Hl7Message, request_id: str) -> ReadRequest:
    orc, obr = message.first("ORC"), message.first("OBR")
    assert orc is not None and obr is not None  # the caller checked
    code = coded(obr, 4)
    if not code.local and not code.loinc:
        raise Rejected(RejectReason.MISSING_FIELD, text("connector.no_item_code"), "OBR-4")
    item = ctx.codes.items.resolve(ctx.member_id, code.local) if code.local else None
    if item is None and code.loinc:
        item = ctx.codes.items.by_loinc(code.loinc)
    step = step_fields(message.first("ZRR"))
    tq1, pv1 = message.first("TQ1"), message.first("PV1")
    priority_code, location = next(
        ((value, where) for value, where in (
            (get(tq1, 9) if tq1 is not None else "", "TQ1-9"), (get(orc, 7, 6), "ORC-7"),
            (get(obr, 27, 6), "OBR-27"), (get(obr, 5), "OBR-5")) if value), ("", "OBR-27"))
    setting = setting_of(step.setting, "ZRR-7") or (
        SETTING_FOR_PV1.get(get(pv1, 2).upper()) if pv1 is not None else None)
    question = "\n".join(dict.fromkeys(t for t in (
        get(obr, 31, 2) or get(obr, 31, 1), get(obr, 13)) if t)) or notes(message)
    uid, zds_url = _study(message)
    ordered_at = message_time(ctx, message, (orc, 9), (obr, 6), (obr, 7))
    done_at = (message_time(ctx, message, (obr, 8), (obr, 7), (tq1, 7), (orc, 9))
               if images_available(message, orc)
               or step.action.upper() == ReadAction.IMAGES_AVAILABLE.value else None)
    pv1_department = get(pv1, 3, 1) if pv1 is not None else ""
    return ReadRequest(
        envelope=ReadRequest.new_envelope(
            ctx.member_id, event_id=event_id(ctx, message, request_id, "REQUEST"),
            occurred_at=ordered_at),
        patient=patient_from_pid(message.first("PID"), message.segments("NK1")),
        accession=request_id.partition(":")[2],
        modality=_modality(obr, item.modality if item is not None else None),
        item_code=item.code if item is not None else None, local_code=code.local or code.loinc,
        item_name=code.text or (item.name if item is not None else None),
        body_site=get(obr, 15, 4) or get(obr, 46, 2) or get(obr, 46, 1) or None,
        priority=priority_of(priority_code, location),
        setting=setting or PatientSetting.OUTPATIENT,
        complex_study=step.complex_study.upper() in ("Y", "1", "TRUE", "是"),
        clinical_question=question or None, study_uid=uid or None,
        record_ref=step.record_ref or None, wado_url=step.wado_url or zds_url or None,
        ordering_doctor=doctor(orc, 12) or doctor(obr, 16),
        ordering_department=get(orc, 17, 2) or get(orc, 17, 1) or pv1_department or None,
        ordered_at=ordered_at, images_available_at=done_at,
    )


def examining_update(ctx: MappingContext, message: Hl7Message, request_id: str) -> ReadUpdate:
    orc = message.first("ORC")
    assert orc is not None
    step = step_fields(message.first("ZRR"))
    if step.action:
        action = ReadAction.__members__.get(step.action.upper())
        if action is None or action not in EXAMINING_ACTIONS:
            raise Rejected(RejectReason.INVALID_VALUE, text(
                "connector.remote_read_action_examining", code=step.action), "ZRR-1")
    elif get(orc, 1).upper() in CANCELLING:
        action = ReadAction.CANCELLED
    elif images_available(message, orc) or _study(message)[0]:
        action = ReadAction.IMAGES_AVAILABLE
    else:
        raise Rejected(RejectReason.UNSUPPORTED, text(
            "connector.remote_read_order_control", control=get(orc, 1) or "-",
            status=get(orc, 5) or "-"), "ORC-1")
    obr = message.first("OBR")
    when = message_time(ctx, message, (obr, 8), (orc, 9)) \
        if action is ReadAction.IMAGES_AVAILABLE else message_time(ctx, message, (orc, 9))
    return ReadUpdate(
        envelope=ReadUpdate.new_envelope(
            ctx.member_id, event_id=event_id(ctx, message, request_id, action.value),
            occurred_at=when),
        request_id=request_id, action=action,
        reason_code=step.reason_code or (get(orc, 16, 1) or None if action is
                                         ReadAction.CANCELLED else None),
        note=step.note or get(orc, 16, 2) or notes(message) or None,
    )
