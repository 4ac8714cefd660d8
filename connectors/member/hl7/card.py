"""Report-card fields an HL7 message carries besides PID and DG1: the occupation group
(人群分类), the illness onset date (发病日期) and the employer or school.

Where a member's HIS may put them (the first source that has a field wins):

1. ZCD, this hub's Z-segment for the card (传染病报告卡补充): ZCD-1 人群分类 (CWE:
   code^text^system; a GB/T 2261.4 code, a group of the card, or only its Chinese name),
   ZCD-2 发病日期 (DT), ZCD-3 工作单位或学校 (ST).
2. OBX whose OBX-3 is LOINC 11341-5 (history of occupation, as in HL7's Occupational Data
   for Health; 21843-8 usual occupation too) with OBX-5 CWE/CE or ST text, and LOINC
   11368-8 (illness or injury onset date) with OBX-5 DT/TS. In an ORU these OBX are card
   data, not lab results.
3. NTE-3 text "人群分类：农民" (or 职业), "发病日期：2025-02-27".

DG1 has no onset field (DG1-5 is when the diagnosis was made), so it never fills the onset.
An occupation that maps to no group is not an error of the message: the diagnosis still
goes to the hub, whose card then lists 人群分类 as missing, and the ACK warns (ERR with
severity W) which value was not understood. An onset that is not a date is refused (AE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import hl7

from connectors.member.hl7.context import coded
from connectors.member.hl7.message import Hl7Message, get, parse_date
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import Patient
from schemas.models.common import Occupation
from schemas.reference.messages import text
from schemas.reference.occupations import OccupationMap, occupations

CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF"})
_NOTE = re.compile(r"^\s*(人群分类|职业|发病日期)\s*[:：]\s*(.+?)\s*$")
_NOTE_DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


@dataclass(frozen=True, slots=True)
class CardFields:
    occupation: Occupation | None = None
    onset_date: date | None = None
    employer: str | None = None
    warnings: tuple[Rejected, ...] = field(default=())
    observations: frozenset[int] = frozenset()  # OBX (1-based, message order) of card data

    def on(self, patient: Patient) -> Patient:
        """The patient with the occupation and employer the message gave (theirs win)."""
        update = {"occupation": self.occupation, "employer": self.employer}
        given = {k: v for k, v in update.items() if v is not None}
        return patient.model_copy(update=given) if given else patient


NOTHING = CardFields()


def _card_loinc(obx: hl7.Segment, codes: OccupationMap) -> str:
    found = coded(obx, 3)
    for code in (found.loinc, found.local if found.system.upper() in ("", "LN") else ""):
        if code and (codes.is_occupation_loinc(code) or codes.is_onset_loinc(code)):
            return code
    return ""


class _Reader:
    def __init__(self, codes: OccupationMap) -> None:
        self.codes = codes
        self.occupation: Occupation | None = None
        self.onset: date | None = None
        self.employer: str | None = None
        self.warnings: list[Rejected] = []
        self.observations: set[int] = set()

    def occupation_from(self, code: str, name: str, system: str, location: str) -> None:
        if self.occupation is not None or not (code or name):
            return
        group = self.codes.group(code, name, system)
        if group is None:
            shown = "^".join(part for part in (code, name, system) if part)
            self.warnings.append(Rejected(RejectReason.UNMAPPED_CODE, text(
                "connector.occupation_unmapped", value=shown), location))
        self.occupation = group

    def onset_from(self, value: str, location: str) -> None:
        if self.onset is None and value:
            self.onset = parse_date(value, location)

    def result(self) -> CardFields:
        # a later source that maps cancels the warning about an earlier one
        warnings = tuple(self.warnings) if self.occupation is None else ()
        return CardFields(self.occupation, self.onset, self.employer, warnings,
                          frozenset(self.observations))


def _note_date(value: str, location: str) -> str:
    match = _NOTE_DATE.match(value)
    if match is None:
        raise Rejected(RejectReason.INVALID_VALUE, text("connector.not_date", value=value),
                       location)
    year, month, day = match.groups()
    return f"{year}{int(month):02d}{int(day):02d}"


def card_fields(message: Hl7Message) -> CardFields:
    codes = occupations()
    markers = (*codes.occupation_loinc, *codes.onset_loinc, "\rZCD", "\rNTE")
    if not any(marker in message.text for marker in markers):
        return NOTHING  # most results carry no card data: spare reading every OBX
    reader = _Reader(codes)
    zcd = message.first("ZCD")
    if zcd is not None:
        reader.occupation_from(get(zcd, 1, 1), get(zcd, 1, 2), get(zcd, 1, 3), "ZCD-1")
        reader.onset_from(get(zcd, 2), "ZCD-2")
        reader.employer = get(zcd, 3) or None
    for index, obx in enumerate(message.segments("OBX"), start=1):
        loinc = _card_loinc(obx, codes)
        location = f"OBX[{index}]-5"
        if loinc:
            reader.observations.add(index)
        if codes.is_occupation_loinc(loinc):
            if get(obx, 2).upper() in CODED_TYPES:
                reader.occupation_from(get(obx, 5, 1), get(obx, 5, 2), get(obx, 5, 3), location)
            else:
                reader.occupation_from("", get(obx, 5), "", location)
        elif codes.is_onset_loinc(loinc):
            reader.onset_from(get(obx, 5), location)
    for index, nte in enumerate(message.segments("NTE"), start=1):
        match = _NOTE.match(get(nte, 3))
        if match is None:
            continue
        label, value = match.groups()
        location = f"NTE[{index}]-3"
        if label == "发病日期":
            reader.onset_from(_note_date(value, location), location)
        else:
            reader.occupation_from("", value, "", location)
    return reader.result()
