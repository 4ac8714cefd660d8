"""ORU^R01 and MDM^T02 to results.

An ORU^R01 order group (OBR and its OBX) is an examination when OBR-24 names an imaging or
electrophysiology section (or a DICOM modality), or when OBR-4 maps to an examination item
of the catalogue: it gives one ImagingReport. Otherwise every OBX is a lab result and gives
one LabResult, its item mapped from OBX-3 (the member's code, or the LOINC code when OBX-3
carries one with system LN).

Report text: a TX/FT/ST OBX whose OBX-3 is the LOINC impression code (19005-8), ends in
IMP, or is named 印象/诊断/结论/impression is the conclusion; the others are the findings.
A report with a single unlabelled text OBX takes it as the conclusion.

OBX with LOINC 11341-5 (occupation) or 11368-8 (onset date) are report-card data
(connectors/member/hl7/card.py): they set the patient's occupation group and each result's onset.
"""

from __future__ import annotations

import hl7

from connectors.member.hl7.card import card_fields
from connectors.member.hl7.context import EventList, MappingContext, coded
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.patient import patient_from_pid
from connectors.member.mapping import Rejected, RejectReason, modality_of
from schemas.models import ImagingReport, LabResult, Patient
from schemas.models.clinical import AbnormalFlag, ResultStatus
from schemas.reference.messages import text as msg

ABNORMAL_FLAGS: dict[str, AbnormalFlag] = {
    "N": AbnormalFlag.NORMAL, "L": AbnormalFlag.LOW, "H": AbnormalFlag.HIGH,
    "LL": AbnormalFlag.CRITICAL_LOW, "HH": AbnormalFlag.CRITICAL_HIGH, "<": AbnormalFlag.LOW,
    ">": AbnormalFlag.HIGH, "A": AbnormalFlag.ABNORMAL, "AA": AbnormalFlag.ABNORMAL,
    "POS": AbnormalFlag.POSITIVE, "NEG": AbnormalFlag.NEGATIVE,
}
RESULT_STATUSES: dict[str, ResultStatus] = {
    "F": ResultStatus.FINAL, "C": ResultStatus.CORRECTED, "P": ResultStatus.PRELIMINARY,
    "R": ResultStatus.PRELIMINARY, "": ResultStatus.FINAL,
}
# OBX-11 only (HL7 table 0085): W "post original as wrong, e.g. transmitted for wrong
# patient", D "delete the OBX record". Either retracts the result of the same OBR-3 (else
# OBR-2) and OBX-3 sent earlier for the same patient; OBX-5 may be empty.
OBSERVATION_STATUSES: dict[str, ResultStatus] = {
    **RESULT_STATUSES, "W": ResultStatus.RETRACTED, "D": ResultStatus.RETRACTED,
}
DOCUMENT_STATUSES: dict[str, ResultStatus] = {
    "AU": ResultStatus.FINAL, "LA": ResultStatus.FINAL, "": ResultStatus.FINAL,
    "DO": ResultStatus.PRELIMINARY, "IP": ResultStatus.PRELIMINARY,
    "IN": ResultStatus.PRELIMINARY, "PA": ResultStatus.PRELIMINARY,
}
TEXT_TYPES = frozenset({"TX", "FT", "ST"})
LAB_VALUE_TYPES = frozenset({"NM", "SN", "ST", "TX", "FT", "CE", "CWE"})
IMPRESSION_MARKERS = ("19005-8", "IMP", "印象", "诊断", "结论", "IMPRESSION")


def _status(code: str, table: dict[str, ResultStatus], location: str) -> ResultStatus:
    if code.upper() not in table:
        raise Rejected(RejectReason.UNSUPPORTED, msg("connector.result_status", code=code),
                       location)
    return table[code.upper()]


def _lab_value(obx: hl7.Segment, index: int) -> tuple[float | None, str | None]:
    value_type = get(obx, 2).upper()
    location = f"OBX[{index}]-5"
    if value_type not in LAB_VALUE_TYPES:
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.value_type", kind=value_type or "-"), f"OBX[{index}]-2")
    if value_type == "NM":
        text = get(obx, 5)
        if not text:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_value"), location)
        try:
            return float(text), None
        except ValueError:
            raise Rejected(RejectReason.INVALID_VALUE,
                           msg("connector.not_number", value=text, kind="NM"),
                           location) from None
    if value_type == "SN":
        comparator, first, separator, second = (get(obx, 5, n) for n in (1, 2, 3, 4))
        if comparator in ("", "=") and not separator:
            try:
                return float(first), None
            except ValueError:
                raise Rejected(RejectReason.INVALID_VALUE,
                               msg("connector.not_number", value=first, kind="SN"),
                               location) from None
        return None, f"{comparator}{first}{separator}{second}"
    coded_value = value_type in ("CE", "CWE")
    value = (get(obx, 5, 2) or get(obx, 5, 1)) if coded_value else get(obx, 5)
    if not value:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_value"), location)
    return None, value


def _lab_result(ctx: MappingContext, message: Hl7Message, patient: Patient,
                obr: hl7.Segment, obx: hl7.Segment, index: int) -> LabResult:
    code = coded(obx, 3)
    item = ctx.codes.item(code.local, code.loinc, f"OBX[{index}]-3")
    status = _status(get(obx, 11), OBSERVATION_STATUSES, f"OBX[{index}]-11")
    order_ref = get(obr, 3) or get(obr, 2) or None
    if status is ResultStatus.RETRACTED:
        if order_ref is None:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.retraction_no_order"),
                           "OBR-3")
        value_numeric, value_text = (_lab_value(obx, index) if get(obx, 5) else (None, None))
    else:
        value_numeric, value_text = _lab_value(obx, index)
    flag_code = get(obx, 8).upper()
    if flag_code and flag_code not in ABNORMAL_FLAGS:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.abnormal_flag", code=flag_code), f"OBX[{index}]-8")
    reported_at = ctx.first_time(message, (obr, 22), (obx, 19), (obx, 14), (obr, 7))
    spm = message.first("SPM")
    specimen = (get(spm, 4, 2) or get(spm, 4, 1)) if spm is not None else ""
    return LabResult(
        envelope=LabResult.new_envelope(
            ctx.member_id, event_id=ctx.event_id(message, "OBX", str(index)),
            occurred_at=reported_at),
        patient=patient, item_code=item.code, local_code=code.local or code.loinc,
        loinc=code.loinc or item.loinc, item_name=code.text or item.name,
        order_ref=order_ref, value_numeric=value_numeric, value_text=value_text,
        unit=get(obx, 6, 1) or get(obx, 6, 2) or None,
        reference_range=get(obx, 7) or None, abnormal_flag=ABNORMAL_FLAGS.get(flag_code),
        specimen=specimen or get(obr, 15, 1) or None,
        method=get(obx, 17, 2) or get(obx, 17, 1) or None,
        status=status, reported_at=reported_at,
    )


def _report_text(observations: list[hl7.Segment]) -> tuple[str | None, str | None]:
    """(findings, conclusion) from the text OBX of a report."""
    findings: list[str] = []
    conclusions: list[str] = []
    for obx in observations:
        if get(obx, 2).upper() not in TEXT_TYPES:
            continue
        texts = [get(obx, 5, 1, rep) for rep in range(1, len(obx(5)) + 1)] if len(obx) > 5 else []
        text = "\n".join(t for t in texts if t)
        label = " ".join([get(obx, 3, 1, 1, 2).upper(),
                          *(get(obx, 3, n).upper() for n in (1, 2, 4, 5))])
        target = conclusions if any(m in label for m in IMPRESSION_MARKERS) else findings
        if text:
            target.append(text)
    if not conclusions and len(findings) == 1:
        return None, findings[0]
    return "\n".join(findings) or None, "\n".join(conclusions) or None


def imaging_report(ctx: MappingContext, message: Hl7Message, patient: Patient,
                   obr: hl7.Segment, obr_index: int, observations: list[hl7.Segment],
                   *, report_ref: str = "", status_code: str | None = None) -> ImagingReport:
    code = coded(obr, 4)
    item = ctx.codes.item(code.local, code.loinc, f"OBR[{obr_index}]-4")
    modality = item.modality or modality_of(get(obr, 24))
    if modality is None or item.is_lab:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.lab_not_exam", code=item.code), f"OBR[{obr_index}]-4")
    zds = message.first("ZDS")
    pointer = next((get(o, 5, 1) for o in observations if get(o, 2).upper() == "RP"), "")
    ref = report_ref or (get(zds, 1) if zds is not None else "") or pointer or get(obr, 3) \
        or get(obr, 2)
    if not ref:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.hl7_no_report_ref"),
                       f"OBR[{obr_index}]-3")
    findings, conclusion = _report_text(observations)
    withdrawn = {"W", "D"}
    if observations and all(get(o, 11).upper() in withdrawn for o in observations):
        status = ResultStatus.RETRACTED  # every OBX of the report posted as wrong or deleted
    elif status_code is None:
        status = _status(get(obr, 25), RESULT_STATUSES, f"OBR[{obr_index}]-25")
    else:
        status = _status(status_code, DOCUMENT_STATUSES, "TXA-17")
    txa = message.first("TXA")
    reported_at = ctx.first_time(message, (txa, 4), (txa, 6), (obr, 22), (obr, 7))
    return ImagingReport(
        envelope=ImagingReport.new_envelope(
            ctx.member_id, event_id=ctx.event_id(message, "OBR", str(obr_index)),
            occurred_at=reported_at),
        patient=patient, item_code=item.code, local_code=code.local or code.loinc,
        item_name=code.text or item.name, modality=modality,
        body_site=get(obr, 15, 4) or None, order_ref=get(obr, 2) or None, report_ref=ref,
        findings=findings, conclusion=conclusion, status=status, reported_at=reported_at,
    )


def _is_examination(ctx: MappingContext, obr: hl7.Segment) -> bool:
    if modality_of(get(obr, 24)) is not None:
        return True
    code = coded(obr, 4)
    item = ctx.codes.items.resolve(ctx.member_id, code.local) if code.local else None
    return item is not None and not item.is_lab


def map_oru(ctx: MappingContext, message: Hl7Message) -> EventList:
    events: EventList = []
    card = card_fields(message)
    patient: Patient | None = None
    groups: list[tuple[Patient, hl7.Segment, int, list[hl7.Segment]]] = []
    obr_count = 0
    for segment in message.parsed:
        name = str(segment[0][0])
        if name == "PID":
            patient = card.on(patient_from_pid(segment, message.segments("NK1")))
        elif name == "OBR":
            obr_count += 1
            if patient is None:
                raise Rejected(RejectReason.MISSING_FIELD, msg("connector.obr_before_pid"),
                               "PID")
            groups.append((patient, segment, obr_count, []))
        elif name == "OBX":
            if not groups:
                raise Rejected(RejectReason.MALFORMED, msg("connector.obx_before_obr"), "OBR")
            groups[-1][3].append(segment)
    if not groups:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.nothing_reported"), "OBR")
    obx_index = 0
    for group_patient, obr, obr_index, observations in groups:
        if _is_examination(ctx, obr):
            events.append(imaging_report(ctx, message, group_patient, obr, obr_index,
                                         observations))
            obx_index += len(observations)
            continue
        if not observations:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.group_without_obx"),
                           f"OBR[{obr_index}]")
        for obx in observations:
            obx_index += 1
            if obx_index not in card.observations:  # occupation and onset: card data
                result = _lab_result(ctx, message, group_patient, obr, obx, obx_index)
                events.append(result.model_copy(update={"onset_date": card.onset_date}))
    return events


def map_mdm(ctx: MappingContext, message: Hl7Message) -> EventList:
    """MDM^T02: TXA (document) and OBX (its text); the examination is OBR-4."""
    txa = message.first("TXA")
    if txa is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.mdm_without_txa"), "TXA")
    obr = message.first("OBR")
    if obr is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.mdm_needs_obr"), "OBR")
    patient = patient_from_pid(message.first("PID"), message.segments("NK1"))
    return [imaging_report(ctx, message, patient, obr, 1, message.segments("OBX"),
                           report_ref=get(txa, 12), status_code=get(txa, 17))]
