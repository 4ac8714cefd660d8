"""ADT^A01/A04/A08: the patient's demographics go to the local patient cache (to complete
later diagnoses), and each DG1 gives a Diagnosis event.

DG1-3 is ICD-10 (coding system I10, or none) or a local code of the member, mapped through
the local diagnosis code map. DG1-6 (diagnosis type) gives a default case classification:
A (admitting) and W (working) are SUSPECTED, F (final) CLINICAL; the hub's reporting flow
upgrades a case to CONFIRMED from lab results. An ADT without DG1 publishes nothing: its
ACK says the demographics were kept. The occupation group and onset date of the report
card come from ZCD, OBX (LOINC 11341-5, 11368-8) or NTE (connectors/member/hl7/card.py).
"""

from __future__ import annotations

from connectors.member.hl7.card import card_fields
from connectors.member.hl7.context import EventList, MappingContext
from connectors.member.hl7.message import Hl7Message, get
from connectors.member.hl7.orders import doctor
from connectors.member.hl7.patient import identifiers, patient_from_pid
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import Diagnosis
from schemas.models.clinical import CaseClassification
from schemas.reference.messages import text

ADT_TRIGGERS = frozenset({"A01", "A04", "A08"})
DIAGNOSIS_TYPES: dict[str, CaseClassification | None] = {
    "A": CaseClassification.SUSPECTED, "W": CaseClassification.SUSPECTED,
    "F": CaseClassification.CLINICAL, "": None,
}


def map_adt(ctx: MappingContext, message: Hl7Message) -> EventList:
    if message.header.trigger.upper() not in ADT_TRIGGERS:
        raise Rejected(RejectReason.UNSUPPORTED, text(
            "connector.adt_not_accepted", trigger=message.header.trigger), "MSH-9")
    pid = message.first("PID")
    card = card_fields(message)
    patient = card.on(patient_from_pid(pid, message.segments("NK1")))
    assert pid is not None  # patient_from_pid rejects a message without PID
    patient = ctx.patients.complete(patient)
    ctx.patients.store(patient, identifiers(pid))
    pv1 = message.first("PV1")
    encounter = get(pv1, 19) if pv1 is not None else ""
    evn = message.first("EVN")
    events: EventList = []
    for index, dg1 in enumerate(message.segments("DG1"), start=1):
        location = f"DG1[{index}]-3"
        mapped = ctx.codes.diagnosis(get(dg1, 3, 1), get(dg1, 3, 3), location)
        name = get(dg1, 3, 2) or get(dg1, 4) or mapped.name
        if not name:
            raise Rejected(RejectReason.MISSING_FIELD, text("connector.hl7_no_diagnosis_name"),
                           location)
        kind = get(dg1, 6).upper()
        if kind not in DIAGNOSIS_TYPES:
            raise Rejected(RejectReason.UNMAPPED_CODE,
                           text("connector.diagnosis_type", kind=kind), f"DG1[{index}]-6")
        diagnosed_at = ctx.first_time(message, (dg1, 5), (dg1, 19), (evn, 2))
        events.append(Diagnosis(
            envelope=Diagnosis.new_envelope(
                ctx.member_id, event_id=ctx.event_id(message, "DG1", str(index)),
                occurred_at=diagnosed_at),
            patient=patient, icd10=mapped.icd10, diagnosis_name=name,
            encounter_ref=encounter or None, case_classification=DIAGNOSIS_TYPES[kind],
            onset_date=card.onset_date, diagnosed_at=diagnosed_at, doctor=doctor(dg1, 16),
        ))
    return events
