"""The words of a remote-diagnosis message (远程诊断) and what they mean to the hub: the
modality a diagnostic service section names, the priority, the report status (and where a
RIS may have put it), the readers (书写 / 审核), and the hub's two Z-segments as a member
sends them. The member guide (docs/member-integration.md, 远程诊断) is the profile.

ZRR, a step on a read request (every field optional):
    ZRR|1 action (ReadAction)|2 examining member (id or name)|3 reader (XCN, title in
        XCN-7)|4 reassigned to (XCN)|5 reason code|6 note|7 setting (O/I/E/P)|8 complex
        study (Y/N)|9 WADO-RS url|10 ECG record or slide ref|11 report ref|12 supersedes
        (report ref)|13 amendment reason
ZCV, a critical value (危急值):
    ZCV|1 critical id|2 action (CriticalAction)|3 finding|4 read-back|5 by (XCN)|6 note|
        7 request id or accession (a message without OBR)|8 when
"""

from __future__ import annotations

from dataclasses import dataclass

import hl7

from connectors.member.hl7.message import get
from connectors.member.hl7.patient import person_name
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.clinical import Modality, OrderPriority
from schemas.models.remote_read import PatientSetting, Reader, ReadModality
from schemas.reference.messages import text

ZRR_FIELDS = 13
# HL7 table 0074 (diagnostic service section), DICOM modalities, and Chinese RIS words
SECTIONS: dict[str, ReadModality] = {
    "CT": ReadModality.CT, "CTS": ReadModality.CT, "MR": ReadModality.MR,
    "MRI": ReadModality.MR, "NMR": ReadModality.MR, "DR": ReadModality.DR,
    "DX": ReadModality.DR, "CR": ReadModality.DR, "RAD": ReadModality.DR, "RX": ReadModality.DR,
    "XRC": ReadModality.DR, "US": ReadModality.US, "RUS": ReadModality.US,
    "CUS": ReadModality.US, "OUS": ReadModality.US, "VUS": ReadModality.US,
    "EC": ReadModality.ECG, "ECG": ReadModality.ECG, "EKG": ReadModality.ECG,
    "SP": ReadModality.PATHOLOGY, "PAT": ReadModality.PATHOLOGY, "PATH": ReadModality.PATHOLOGY,
    "CP": ReadModality.PATHOLOGY, "PATHOLOGY": ReadModality.PATHOLOGY,
    "放射": ReadModality.DR, "超声": ReadModality.US, "心电": ReadModality.ECG,
    "病理": ReadModality.PATHOLOGY,
}
CATALOGUE_MODALITIES: dict[Modality, ReadModality] = {
    Modality.CT: ReadModality.CT, Modality.MRI: ReadModality.MR, Modality.XRAY: ReadModality.DR,
    Modality.ULTRASOUND: ReadModality.US, Modality.ELECTROPHYSIOLOGY: ReadModality.ECG,
}
SECTION_CODES: dict[ReadModality, str] = {
    ReadModality.CT: "CT", ReadModality.MR: "MR", ReadModality.DR: "DX", ReadModality.US: "US",
    ReadModality.ECG: "EC", ReadModality.PATHOLOGY: "SP",
}
PRIORITIES: dict[str, OrderPriority] = {
    "S": OrderPriority.EMERGENCY, "STAT": OrderPriority.EMERGENCY, "急": OrderPriority.EMERGENCY,
    "急诊": OrderPriority.EMERGENCY, "A": OrderPriority.URGENT, "ASAP": OrderPriority.URGENT,
    "URGENT": OrderPriority.URGENT, "加急": OrderPriority.URGENT,
    "R": OrderPriority.ROUTINE, "ROUTINE": OrderPriority.ROUTINE, "": OrderPriority.ROUTINE,
    # TQ1-9 (table 0485): T timing critical; P preoperative and C callback are not hurried
    "T": OrderPriority.URGENT, "P": OrderPriority.ROUTINE, "C": OrderPriority.ROUTINE,
}
SETTINGS: dict[str, PatientSetting] = {
    "O": PatientSetting.OUTPATIENT, "I": PatientSetting.INPATIENT, "E": PatientSetting.EMERGENCY,
    "P": PatientSetting.PHYSICAL_EXAM, "门诊": PatientSetting.OUTPATIENT,
    "住院": PatientSetting.INPATIENT, "急诊": PatientSetting.EMERGENCY,
    "体检": PatientSetting.PHYSICAL_EXAM, **{s.value: s for s in PatientSetting},
}
REPORT_STATUSES = frozenset({"P", "F", "C"})
# MDM TXA-17 (HL7 table 0271): authenticated or legally authenticated is the signed report
DOCUMENT_STATUSES: dict[str, str] = {"AU": "F", "LA": "F", "DO": "P", "IP": "P", "IN": "P",
                                     "PA": "P"}
CRITICAL_FLAGS = frozenset({"AA", "HH", "LL", "危急"})


@dataclass(frozen=True, slots=True)
class StepFields:
    """ZRR as a member sends it."""

    action: str = ""
    examining_member: str = ""
    reader: str = ""
    reassigned_to: str = ""
    reason_code: str = ""
    note: str = ""
    setting: str = ""
    complex_study: str = ""
    wado_url: str = ""
    record_ref: str = ""
    report_ref: str = ""
    supersedes: str = ""
    amend_reason: str = ""


def step_fields(zrr: hl7.Segment | None) -> StepFields:
    if zrr is None:
        return StepFields()
    values = [get(zrr, n) for n in range(1, ZRR_FIELDS + 1)]
    values[2], values[3] = _xcn_text(zrr, 3), _xcn_text(zrr, 4)
    return StepFields(*values)


def _xcn_text(segment: hl7.Segment, field: int) -> str:
    return "^".join(get(segment, field, n) for n in range(1, 8)).rstrip("^")


def reader_of(segment: hl7.Segment | None, field: int) -> Reader | None:
    """A reader from an XCN (id^family^given^^^^title), or from an NDL (OBR-32..35: its
    first component a CNN, id&family&given, as HL7 v2.5 has it)."""
    if segment is None:
        return None
    if get(segment, field, 1, 1, 2):  # NDL: id&family&given in the first component
        reader_id = get(segment, field, 1, 1, 1)
        name = person_name(get(segment, field, 1, 1, 2), get(segment, field, 1, 1, 3))
        title = ""
    else:
        reader_id = get(segment, field, 1)
        name = person_name(get(segment, field, 2), get(segment, field, 3))
        title = get(segment, field, 7)
    if not reader_id and not name:
        return None
    return Reader(reader_id=reader_id or name or "", name=name, title=title or None)


def modality_of(code: str, location: str) -> ReadModality | None:
    if not code:
        return None
    found = SECTIONS.get(code.strip().upper()) or SECTIONS.get(code.strip())
    if found is None:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.remote_read_modality", code=code), location)
    return found


def priority_of(code: str, location: str) -> OrderPriority:
    key = code.strip().upper() if code.isascii() else code.strip()
    if key not in PRIORITIES:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.remote_read_priority", code=code), location)
    return PRIORITIES[key]


def setting_of(code: str, location: str) -> PatientSetting | None:
    if not code:
        return None
    key = code.strip().upper() if code.isascii() else code.strip()
    if key not in SETTINGS:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.remote_read_setting", code=code), location)
    return SETTINGS[key]
