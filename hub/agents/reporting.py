"""Reporting: notifiable diagnoses (hub.diagnoses) and triggering lab results (hub.results)
become report cards on cdc.disease-reports, keyed by case id so a card and its revisions
stay in order, and answers on the member's out. topic. A timer watches open cases against
their deadlines. The rules are in hub.rules.reporting; this module only moves data.

State: one `reporting-cases` table keyed by patient pseudonym (hub.diagnoses and
hub.results are co-partitioned by it), holding only pseudonyms, sealed patient blocks and
non-identifying fields. Outputs go out before the state that remembers them is written, so
a crash in between repeats them with the same ids rather than losing them; a redelivered
event finds its id in the state and changes nothing.

Non-notifiable diagnoses get no answer (intake's ACCEPTED already acknowledged them):
telling members "not reportable" for most of their diagnoses would be noise.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from hub import metrics
from hub.agents.base import Meta, hub_agent
from hub.agents.card_links import with_card_link
from hub.rules.rejections import Reason, Rejection
from hub.rules.reporting import (
    Context,
    DeadlineState,
    Detection,
    Outcome,
    PatientCases,
    Report,
    check_deadlines,
    deadline_state,
    detect_diagnosis,
    detect_lab,
    lacks,
    on_detection,
    on_withdrawal,
    timeliness,
)
from hub.runtime import channels, table_writes
from hub.runtime.app import app
from hub.runtime.emit import publish, send_feedback
from hub.runtime.services import runtime
from schemas import topics
from schemas.models import Diagnosis, Event, LabResult
from schemas.models.common import Patient
from schemas.models.outputs import CardKind
from schemas.reference.calendar import WorkingCalendar
from schemas.reference.diseases import DiseaseCatalogue, load_disease_catalogue
from schemas.reference.items import ItemCatalogue, load_item_catalogue

log = logging.getLogger(__name__)
DIAGNOSES_AGENT = "reporting-diagnoses"
RESULTS_AGENT = "reporting-results"

catalogue: DiseaseCatalogue = load_disease_catalogue(runtime.settings.diseases_file)
items: ItemCatalogue = load_item_catalogue(runtime.settings.items_file)  # local lab codes
calendar: WorkingCalendar = runtime.calendar  # the foodborne cards' working days
# patient key -> PatientCases.dump()
cases = app.Table("reporting-cases", default=None, partitions=topics.INTERNAL_PARTITIONS,
                  options=runtime.settings.rocksdb_options())
# One writer at a time: both agents and the watchdog read, send, then write a patient.
_writing = asyncio.Lock()


def _open_patient(report: Report) -> Patient:
    return runtime.sealer.open_patient(Patient(key="-", sealed=report.sealed.encode("ascii")))


def _context() -> Context:
    return Context(catalogue, runtime.registry, _open_patient,
                   runtime.settings.reporting_case_retention_days, calendar, runtime.locale)


def _load(key: str) -> PatientCases | None:
    value = cases.get(key)
    return PatientCases.load(value) if value is not None else None


async def _send(out: Outcome) -> None:
    for case_id, card in out.cards:
        await publish(channels.cdc_reports, case_id, card)
        timely = "yes" if card.late_by_seconds is None else "no"
        if card.kind is not CardKind.INITIAL:
            timely = "n/a"
        metrics.CARDS.labels(card.kind.value, timely).inc()
    for late in out.late_reports:
        await publish(channels.cdc_reports, late.case_id, late)
        metrics.LATE_REPORTS.labels(late.reporting_unit_id, late.disease_code).inc()
    for answer in out.feedback:
        answer = with_card_link(answer, out.state)
        await send_feedback(answer)
        metrics.REPORTING_FEEDBACK.labels(
            answer.status.value, answer.details.get("disease_code", "")
        ).inc()


def _pseudonym(patient: Patient) -> str:
    if not patient.key or not patient.sealed:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_pseudonym")
    return patient.key


async def _apply(detection: Detection, key: str, meta: Meta) -> None:
    async with _writing:
        apply = on_withdrawal if detection.takes_back else on_detection
        out = apply(_load(key), key, detection, _context(), runtime.now(), meta.partition)
        if not out.changed:
            return
        await _send(out)
        await table_writes.put(cases, meta.partition, key, out.state.dump())


@hub_agent(channels.diagnoses, name=DIAGNOSES_AGENT)
async def on_diagnosis(event: Event, meta: Meta) -> None:
    if not isinstance(event, Diagnosis):
        return
    key = _pseudonym(event.patient)
    found = detect_diagnosis(event, catalogue, runtime.registry)
    if found is not None:
        await _apply(found, key, meta)


@hub_agent(channels.results, name=RESULTS_AGENT)
async def on_result(event: Event, meta: Meta) -> None:
    if not isinstance(event, LabResult):
        return
    key = _pseudonym(event.patient)
    found = detect_lab(event, catalogue, runtime.registry, items)
    if found is not None:
        await _apply(found, key, meta)


def _owned_partitions() -> set[int]:
    """Partitions of the patient topics this worker owns (not standbys: their states are
    in the local store too, but another worker answers for them)."""
    assigned = app.assignor.assigned_actives()
    return {tp.partition for tp in assigned if tp.topic == topics.DIAGNOSES.name}


def _ready() -> bool:
    """Not while partitions move or tables recover: a half-restored table would repeat
    warnings and late reports already sent."""
    recovery = getattr(app.tables, "recovery", None)
    recovered = recovery is None or recovery.completed.is_set()
    return recovered and not app.rebalancing and not app.in_recovery


def _may_be_open(value: dict[str, Any]) -> bool:
    return any(not c["cards"] and not c["reported_elsewhere"] and not c["late_reported_at"]
               and not c.get("withdrawn") for c in value.get("cases", ()))


async def _write_back(key: str, patient: PatientCases) -> None:
    """Write a state from the timer: no input event decides the changelog partition, so
    use the one the patient's events arrive on."""
    await table_writes.put(cases, patient.partition, key, patient.dump())


def owned_states() -> list[PatientCases]:
    owned = _owned_partitions()
    return [state for value in list(cases.values())
            if (state := PatientCases.load(value)).partition in owned]


async def deadline_watchdog() -> None:
    if not _ready():
        return
    now = runtime.now()
    counts = dict.fromkeys(DeadlineState, 0)
    owned = _owned_partitions()
    async with _writing:
        for key, value in list(cases.items()):
            if not _may_be_open(value):
                continue
            state = PatientCases.load(value)
            if state.partition not in owned:
                continue
            out = check_deadlines(state, catalogue, now, runtime.locale)
            for case in out.state.cases:
                if case.is_open:
                    counts[deadline_state(case, now)] += 1
            if out.changed:
                await _send(out)
                await _write_back(key, out.state)
    for deadline, count in counts.items():
        metrics.OPEN_CASES.labels(deadline.value).set(count)


app.timer(interval=runtime.settings.reporting_watchdog_seconds)(deadline_watchdog)


def open_cases(member_id: str | None = None) -> list[dict[str, object]]:
    """Cases still owing the CDC a card, soonest deadline first: no identity, no pseudonym
    (the case id is a one-way hash), so the dashboard can remind the units."""
    now = runtime.now()
    rows: list[dict[str, object]] = []
    for state in owned_states():
        for case in state.cases:
            if not case.is_open or member_id not in (None, case.basis.member_id):
                continue
            disease = catalogue.get(case.disease_code)
            rows.append({
                "case_id": case.case_id, "member_id": case.basis.member_id,
                "disease_code": case.disease_code,
                "disease_name": disease.name if disease else case.disease_code,
                "opened_at": case.opened_at.isoformat(), "deadline": case.deadline.isoformat(),
                "state": deadline_state(case, now).value, "missing_fields": list(case.missing),
                "lacks": lacks(case.missing, runtime.locale),
                "late_reported": case.late_reported_at is not None,
            })
    return sorted(rows, key=lambda row: str(row["deadline"]))


def timeliness_figures(
    member_id: str | None = None, disease_code: str | None = None, since: datetime | None = None
) -> list[dict[str, object]]:
    """Timeliness per unit and disease over the cases this worker owns (one worker: all)."""
    rows = timeliness((c for s in owned_states() for c in s.cases), since)
    return [row.as_dict() for row in rows
            if member_id in (None, row.member_id) and disease_code in (None, row.disease_code)]
