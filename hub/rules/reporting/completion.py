"""A doctor completes an incomplete card at the workstation (the card page).

The form asks only for what `missing_fields` names; the doctor's values become a report
copied from the one the card is built from (same unit, diagnosis and time) that carries
them, put first so they win over what the HIS sent. The card then goes out like any other:
the case's one INITIAL card id, so a repeated submission finds the card sent and changes
nothing. A lab result still waiting for the doctor's diagnosis is not completed here: the
diagnosis comes from the HIS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from hub.rules.reporting.card import card_view
from hub.rules.reporting.card_fields import age_in_years, valid_id_number
from hub.rules.reporting.cases import MAX_REPORTS, MAX_SEEN, Context, send_card
from hub.rules.reporting.detection import local_date
from hub.rules.reporting.outputs import Outcome
from hub.rules.reporting.state import Case, PatientCases
from schemas.models import deterministic_id
from schemas.models.clinical import CaseClassification, Chronicity
from schemas.models.common import Address, Belonging, IdType, Occupation, Patient, Sex
from schemas.models.outputs import CardKind

# Seals a completed patient block (the agent passes the hub's sealer).
Sealer = Callable[[Patient], str]
ENUMS: dict[str, type[object]] = {
    "sex": Sex, "belonging": Belonging, "occupation": Occupation,
    "case_classification": CaseClassification, "chronicity": Chronicity,
}


class CompletionRefused(ValueError):
    """Why a completion is not taken: `code` for programs, `field` the form field."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {field}" if field else code)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class Owed:
    """An open case a member may complete, and what its card lacks."""

    case: Case
    missing: list[str]


def owed_case(state: PatientCases | None, case_id: str, member_id: str, ctx: Context) -> Owed:
    """The open case `case_id` if `member_id` reported it; refused alike when it is
    unknown or another member's, so the answer says nothing about other members' cases."""
    case = next((c for c in state.cases if c.case_id == case_id), None) if state else None
    if case is None or member_id not in {r.member_id for r in case.reports}:
        raise CompletionRefused("not_found")
    if not case.is_open:
        raise CompletionRefused("already_reported")
    missing = card_view(case, ctx.catalogue, ctx.opener).missing
    if "diagnosis" in missing:
        raise CompletionRefused("pending_diagnosis")
    return Owed(case, missing)


def _choice(name: str, raw: str) -> object:
    try:
        return ENUMS[name](raw)  # type: ignore[call-arg]
    except ValueError as exc:
        raise CompletionRefused("invalid", name) from exc


def _day(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise CompletionRefused("invalid", name) from exc


def parse_values(missing: list[str], form: Mapping[str, str]) -> dict[str, object]:
    """Each missing field's value from the form, typed; refused when one is empty or not
    a valid value. Fields the card does not lack are ignored."""
    values: dict[str, object] = {}
    for name in missing:
        raw = (form.get(name) or "").strip()
        if not raw:
            raise CompletionRefused("required", name)
        if name in ENUMS:
            values[name] = _choice(name, raw)
        elif name in ("birth_date", "onset_date"):
            values[name] = _day(name, raw)
        elif name == "id_number":
            id_type = (form.get("id_type") or IdType.RESIDENT_ID.value).strip()
            if id_type not in IdType.__members__ or not valid_id_number(IdType(id_type), raw):
                raise CompletionRefused("invalid", name)
            values["id_type"], values[name] = IdType(id_type), raw.upper()
        else:
            values[name] = raw
    return values


def _patient(before: Patient, values: Mapping[str, object]) -> Patient:
    fields = {"patient_name": "name"}
    update = {fields.get(k, k): v for k, v in values.items()
              if k in Patient.model_fields or k in fields}
    address = dict(before.address.model_dump() if before.address else {})
    address.update({k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("address.")})
    if address:
        update["address"] = Address.model_validate(address)
    if "birth_date" in values:
        update.update(age_value=None, age_unit=None)
    return before.model_copy(update=update)


def _check(patient: Patient, values: Mapping[str, object], diagnosed_on: date,
           ctx: Context) -> None:
    """Values that do not fit the card: dates after the diagnosis, an occupation group
    the patient's age rules out."""
    born, onset = patient.birth_date, values.get("onset_date")
    if born is not None and born > diagnosed_on:
        raise CompletionRefused("after_diagnosis", "birth_date")
    if isinstance(onset, date) and (onset > diagnosed_on or (born and onset < born)):
        raise CompletionRefused("onset_out_of_range", "onset_date")
    age = age_in_years(patient, diagnosed_on)
    if patient.occupation is not None and age is not None and not (
        ctx.catalogue.card.occupation_fits(patient.occupation, age)
    ):
        raise CompletionRefused("occupation_age", "occupation")


def completion_id(case_id: str) -> str:
    """One completion per case: the one that sends its card."""
    return deterministic_id("card-completion", case_id)


def complete_card(
    state: PatientCases | None, case_id: str, member_id: str, form: Mapping[str, str],
    ctx: Context, seal: Sealer, now: datetime,
) -> Outcome:
    """Apply a doctor's completion to a patient's cases: the card, and the REPORTED answer
    to the member, or CompletionRefused saying which field is wrong."""
    owed = owed_case(state, case_id, member_id, ctx)
    assert state is not None
    state = state.model_copy(deep=True)
    case = next(c for c in state.cases if c.case_id == case_id)
    view = card_view(case, ctx.catalogue, ctx.opener)
    values = parse_values(owed.missing, form)
    patient = _patient(view.patient, values)
    _check(patient, values, local_date(view.winner.diagnosed_at, ctx.catalogue), ctx)
    subtype = values.get("subtype")
    if subtype is not None and view.match.disease.subtype(str(subtype)) is None:
        raise CompletionRefused("invalid", "subtype")
    event_id = completion_id(case_id)
    report = view.winner.model_copy(update={
        "event_id": event_id, "sealed": seal(patient), "occupation": patient.occupation,
        "classification": values.get("case_classification", view.classification),
        "chronicity": values.get("chronicity", view.chronicity),
        "onset_date": values.get("onset_date", view.onset_date),
        "subtype_code": str(subtype) if subtype else view.winner.subtype_code,
    })
    case.reports = [report, *case.reports][:MAX_REPORTS]
    state.seen = [*state.seen, event_id][-MAX_SEEN:]
    view = card_view(case, ctx.catalogue, ctx.opener)
    if view.missing:
        raise CompletionRefused("required", view.missing[0])
    case.missing = []
    out = Outcome(state)
    send_card(case, view, report, CardKind.INITIAL, None, ctx, now, out)
    return out
