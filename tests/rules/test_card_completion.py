"""A doctor completes an incomplete card on the card page (hub.rules.reporting.completion):
the card then goes to the CDC with the case's one INITIAL card id; wrong values are refused
field by field, another member's case is not found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hub.rules.reporting.completion import CompletionRefused, complete_card, owed_case
from hub.rules.reporting.outputs import card_id_for
from schemas.models.clinical import AbnormalFlag, CaseClassification
from schemas.models.common import Address, Belonging, Occupation, Patient, Sex
from schemas.models.outputs import CardKind, FeedbackStatus
from tests.factories import lab_result, patient
from tests.rules.test_reporting_rules import CHILD_2015, CTX, SEALER, T0, Hub, dx


def seal(p: Patient) -> str:
    return SEALER.seal_patient(p).decode("ascii")


def incomplete(hub: Hub, **who: Any) -> tuple[str, str]:
    out = hub.send(dx("lead", "B05.900", onset_date=None, patient=patient(**who)))
    [reply] = out.feedback
    assert reply.status is FeedbackStatus.INCOMPLETE
    return out.state.key, reply.details["case_id"]


def test_completing_the_missing_fields_sends_the_normal_initial_card() -> None:
    hub = Hub()
    key, case_id = incomplete(hub, occupation=None)
    state = hub.states[key]
    assert owed_case(state, case_id, "lead", CTX).missing == ["occupation", "onset_date"]
    form = {"occupation": "FARMER", "onset_date": (T0 - timedelta(days=3)).date().isoformat()}
    out = complete_card(state, case_id, "lead", form, CTX, seal, T0 + timedelta(minutes=30))
    [(sent_case, card)] = out.cards
    assert sent_case == case_id and card.kind is CardKind.INITIAL
    assert card.occupation is Occupation.FARMER
    assert card.onset_date.isoformat() == form["onset_date"]
    assert (card.patient_name, card.id_number) == ("张三", "110101199003074514")
    assert card.case_classification is CaseClassification.CONFIRMED
    assert card.late_by_seconds is None
    [reply] = out.feedback
    assert reply.status is FeedbackStatus.REPORTED and reply.card_id == card.card_id
    # the case's one initial card id, as if the HIS had sent the missing fields itself
    assert card.card_id == card_id_for(case_id, CardKind.INITIAL, "any report")
    # submitted twice: the card is out, nothing is sent again
    with pytest.raises(CompletionRefused, match="already_reported"):
        complete_card(out.state, case_id, "lead", form, CTX, seal, T0 + timedelta(hours=1))


def test_an_occupation_that_does_not_fit_the_age_is_refused() -> None:
    hub = Hub()
    key, case_id = incomplete(hub, **{**CHILD_2015, "occupation": None})
    state = hub.states[key]
    form = {"occupation": "FARMER", "onset_date": "2026-11-24"}
    with pytest.raises(CompletionRefused) as refused:
        complete_card(state, case_id, "lead", form, CTX, seal, T0)
    assert (refused.value.code, refused.value.field) == ("occupation_age", "occupation")
    form["occupation"] = "STUDENT"
    assert complete_card(state, case_id, "lead", form, CTX, seal, T0).cards


@pytest.mark.parametrize(("form", "code", "field"), [
    ({"occupation": "FARMER"}, "required", "onset_date"),
    ({"occupation": "PILOT", "onset_date": "2026-11-24"}, "invalid", "occupation"),
    ({"occupation": "FARMER", "onset_date": "24/11/2026"}, "invalid", "onset_date"),
    ({"occupation": "FARMER", "onset_date": "2026-11-27"}, "onset_out_of_range", "onset_date"),
    ({"occupation": "FARMER", "onset_date": "1980-01-01"}, "onset_out_of_range", "onset_date"),
])
def test_wrong_values_are_refused_field_by_field(
    form: dict[str, str], code: str, field: str
) -> None:
    hub = Hub()
    key, case_id = incomplete(hub, occupation=None)
    with pytest.raises(CompletionRefused) as refused:
        complete_card(hub.states[key], case_id, "lead", form, CTX, seal, T0)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_an_id_number_must_be_a_valid_document_number() -> None:
    hub = Hub()
    key, case_id = incomplete(hub, id_number="12345")
    form = {"id_number": "12345", "onset_date": "2026-11-24"}
    with pytest.raises(CompletionRefused, match="invalid: id_number"):
        complete_card(hub.states[key], case_id, "lead", form, CTX, seal, T0)
    form["id_number"] = "110101199003074514"
    [(_, card)] = complete_card(hub.states[key], case_id, "lead", form, CTX, seal, T0).cards
    assert card.id_number == "110101199003074514"


def test_another_members_case_or_an_unknown_one_is_not_found() -> None:
    hub = Hub()
    key, case_id = incomplete(hub, occupation=None)
    for member, case in (("mch", case_id), ("lead", "no-such-case")):
        with pytest.raises(CompletionRefused, match="not_found"):
            owed_case(hub.states[key], case, member, CTX)
    with pytest.raises(CompletionRefused, match="not_found"):
        owed_case(None, case_id, "lead", CTX)


def test_a_lab_result_waiting_for_the_diagnosis_is_not_completed_on_the_page() -> None:
    hub = Hub()
    smear = lab_result("lead", item="TB-SMEAR", abnormal_flag=AbnormalFlag.POSITIVE,
                       value_text="阳性", method="SMEAR", reported_at=T0)
    out = hub.send(smear)
    case_id = out.feedback[0].details["case_id"]
    with pytest.raises(CompletionRefused, match="pending_diagnosis"):
        owed_case(out.state, case_id, "lead", CTX)


def test_patient_fields_address_parts_and_the_case_class_are_completed_together() -> None:
    hub = Hub()
    who = {"sex": Sex.UNKNOWN, "belonging": None, "name": None,
           "address": Address(province="四川省", city="绵阳市", township="河口镇")}
    out = hub.send(dx("lead", "B05.900", cls=None, patient=patient(**who)))
    [reply] = out.feedback
    assert reply.missing_fields == ["patient_name", "sex", "belonging", "address.county",
                                    "case_classification"]
    form = {"patient_name": " 张三 ", "sex": "MALE", "belonging": "THIS_COUNTY",
            "address.county": "安县", "case_classification": "CLINICAL"}
    [(_, card)] = complete_card(out.state, reply.details["case_id"], "lead", form, CTX, seal,
                                T0).cards
    assert (card.patient_name, card.sex, card.belonging) == ("张三", Sex.MALE,
                                                             Belonging.THIS_COUNTY)
    assert (card.address.county, card.address.township) == ("安县", "河口镇")
    assert card.case_classification is CaseClassification.CLINICAL
