"""Reporting rules: cards, duplicates, revisions, incomplete cases and the watchdog."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.reporting import (
    Context,
    Outcome,
    PatientCases,
    Report,
    check_deadlines,
    detect_diagnosis,
    detect_lab,
    on_detection,
    on_withdrawal,
    timeliness,
)
from schemas.models import Diagnosis, DiseaseReportCard, Event, Feedback, LabResult, LateReport
from schemas.models.clinical import (
    AbnormalFlag,
    CaseClassification,
    Chronicity,
    DiagnosisVerification,
    ResultStatus,
)
from schemas.models.clinical import VisitKind as Visit
from schemas.models.common import Address, AgeUnit, IdType, Occupation, Patient, Sex
from schemas.models.outputs import CardKind, DiseaseClass, FeedbackStatus
from schemas.reference.calendar import load_working_calendar
from schemas.reference.diseases import load_disease_catalogue
from schemas.reference.items import load_item_catalogue
from schemas.reference.messages import Language, Locale
from schemas.reference.registry import load_registry
from tests.factories import diagnosis, lab_result, patient

SECRET = b"reporting-test-secret"
SEALER = Sealer(Fernet.generate_key())
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in China
H, D = timedelta(hours=1), timedelta(days=1)
C = CaseClassification
S = FeedbackStatus


def opener(report: Report) -> Patient:
    return SEALER.open_patient(Patient(key="k", sealed=report.sealed.encode()))


CTX = Context(load_disease_catalogue(), load_registry(), opener, retention_days=1096,
              calendar=load_working_calendar())
ITEMS = load_item_catalogue()


def dx(member: str, icd: str, cls: C | None = C.CONFIRMED, at: datetime = T0,
       **kw: Any) -> Diagnosis:
    return diagnosis(member, icd, icd, at=at, **{"case_classification": cls, **kw})


class Hub:
    """The rules fed as the reporting agent feeds them, one state per patient."""

    def __init__(self, ctx: Context = CTX) -> None:
        self.ctx = ctx
        self.states: dict[str, PatientCases] = {}
        self.cards: list[DiseaseReportCard] = []
        self.feedback: list[Feedback] = []
        self.late: list[LateReport] = []

    def _record(self, out: Outcome) -> Outcome:
        self.states[out.state.key] = out.state
        self.cards += [card for _, card in out.cards]
        self.feedback += out.feedback
        self.late += out.late_reports
        return out

    def admit(self, event: Event) -> Event:
        assert isinstance(event, Diagnosis | LabResult)
        return event.model_copy(
            update={"patient": pseudonymous(event.patient, SECRET, SEALER,
                                            issuer=event.envelope.member_id)}
        )

    def send(self, event: Event, now: datetime | None = None, admitted: bool = False) -> Outcome:
        event = event if admitted else self.admit(event)
        if isinstance(event, Diagnosis):
            found = detect_diagnosis(event, CTX.catalogue, CTX.registry)
            now = now or event.diagnosed_at
        else:
            assert isinstance(event, LabResult)
            found = detect_lab(event, CTX.catalogue, CTX.registry)
            now = now or event.reported_at
        assert found is not None, "not reportable"
        key = event.patient.key
        assert key is not None
        apply = on_withdrawal if found.takes_back else on_detection
        return self._record(apply(self.states.get(key), key, found, self.ctx, now, 0))

    def tick(self, now: datetime) -> list[Outcome]:
        return [self._record(check_deadlines(s, CTX.catalogue, now, self.ctx.locale))
                for s in list(self.states.values())]

    def statuses(self) -> list[tuple[str, S]]:
        return [(f.envelope.member_id, f.status) for f in self.feedback]


def test_a_complete_cholera_diagnosis_makes_one_card() -> None:
    hub, event = Hub(), dx("lead", "A00.000")
    out = hub.send(event)
    [(case_id, card)] = out.cards
    assert card.kind is CardKind.INITIAL and card.card_id == card.envelope.event_id
    assert card.envelope.member_id == "lead"
    assert card.envelope.correlation_id == event.envelope.event_id
    assert (card.patient_name, card.id_number) == ("张三", "110101199003074514")
    assert card.sex is Sex.MALE
    assert card.birth_date == date(1990, 3, 7) and card.address.township == "河口镇"
    assert (card.disease_code, card.disease_name) == ("CHOLERA", "霍乱")
    assert card.disease_class is DiseaseClass.A
    assert card.case_classification is C.CONFIRMED and card.onset_date == (T0 - 2 * D).date()
    assert (card.reporting_unit_name, card.reporting_unit_phone) == ("安县人民医院", "0816-4200120")
    assert card.reporting_doctor == "李医生" and card.icd10 == "A00.000"
    assert card.deadline == T0 + 2 * H and card.late_by_seconds is None
    [reply] = out.feedback
    assert reply.status is S.REPORTED and reply.card_id == card.card_id
    assert reply.in_reply_to == event.envelope.event_id
    # a redelivery changes nothing; a replay from scratch gives the same ids
    again = hub.send(event)
    assert not again.changed and not again.cards and not again.feedback
    replay = Hub().send(event)
    assert replay.cards[0][1].card_id == card.card_id and replay.cards[0][0] == case_id
    assert replay.feedback[0].envelope.event_id == reply.envelope.event_id


def test_the_same_event_twice_yields_nothing_the_second_time() -> None:
    hub = Hub()
    admitted = hub.admit(dx("lead", "B05.900"))
    assert hub.send(admitted, admitted=True).cards
    again = hub.send(admitted, admitted=True)
    assert not again.changed and not again.cards and not again.feedback


def test_the_state_holds_no_identity_in_clear() -> None:
    hub = Hub()
    hub.send(dx("lead", "A00.000"))
    hub.send(dx("lead", "B05.900", onset_date=None))
    dumped = str([s.dump() for s in hub.states.values()])
    for personal in ("张三", "110101199003074514", "河口镇", "河西村", "13800000000"):
        assert personal not in dumped


def test_a_lab_result_alone_opens_a_case_pending_the_diagnosis() -> None:
    hub = Hub()
    smear = lab_result("lead", item="TB-SMEAR", abnormal_flag=AbnormalFlag.POSITIVE,
                       value_text="阳性", method="SMEAR", reported_at=T0)
    out = hub.send(smear)
    [reply] = out.feedback
    assert not out.cards and reply.status is S.INCOMPLETE
    assert reply.reason_code == "PENDING_DIAGNOSIS"
    assert reply.missing_fields == ["onset_date", "diagnosis"]
    out = hub.send(dx("chc-east", "A16.200", C.CLINICAL, at=T0 + 3 * H))
    [(_, card)] = out.cards
    assert card.reporting_unit_id == "chc-east" and card.subtype == "病原学阳性"
    assert card.case_classification is C.CONFIRMED and card.deadline == T0 + 24 * H
    local_only = lab_result("lead", item_code=None, local_code="L0063",  # lead's HIV-CONFIRM
                            abnormal_flag=AbnormalFlag.POSITIVE, reported_at=T0)
    found = detect_lab(hub.admit(local_only), CTX.catalogue, CTX.registry, ITEMS)  # type: ignore[arg-type]
    assert found is not None and found.match.code == "HIV-AIDS"
    assert detect_lab(hub.admit(local_only), CTX.catalogue, CTX.registry) is None  # type: ignore[arg-type]
    preliminary = lab_result("lead", item="TB-CULTURE", abnormal_flag=AbnormalFlag.POSITIVE,
                             status=ResultStatus.PRELIMINARY, reported_at=T0)
    assert detect_lab(hub.admit(preliminary), CTX.catalogue, CTX.registry) is None  # type: ignore[arg-type]


def test_suspected_then_confirmed_is_a_revision_of_the_original_card() -> None:
    hub = Hub()
    first = hub.send(dx("thc-river", "B05.900", C.SUSPECTED)).cards[0][1]
    later = dx("thc-river", "B05.900", C.CONFIRMED, at=T0 + D)
    [(_, revision)] = hub.send(later).cards
    assert revision.kind is CardKind.REVISION and revision.revision_of == first.card_id
    assert revision.card_number == first.card_number and revision.card_id != first.card_id
    assert revision.case_classification is C.CONFIRMED and revision.revised_disease_name == "麻疹"
    assert revision.diagnosed_at == T0 + D and revision.filled_at == T0 + D
    assert revision.revision_reason == "病例分类 疑似病例 → 确诊病例"
    assert hub.statuses()[-1] == ("thc-river", S.REVISED)
    assert hub.feedback[-1].card_id == revision.card_id
    hub.send(dx("thc-river", "B05.900", C.SUSPECTED, at=T0 + 2 * D, visit_kind=Visit.FOLLOW_UP))
    assert hub.statuses()[-1] == ("thc-river", S.DUPLICATE)
    assert hub.feedback[-1].card_id == revision.card_id
    assert len(hub.cards) == 2


V = DiagnosisVerification


def test_a_refuted_suspected_measles_is_revised_to_an_excluded_case() -> None:
    hub = Hub()
    first = hub.send(dx("thc-river", "B05.900", C.SUSPECTED)).cards[0][1]
    refuted = dx("thc-river", "B05.900", None, at=T0 + 2 * D, verification=V.REFUTED,
                 doctor="王医生")
    out = hub.send(refuted, now=T0 + 2 * D + H)
    [(case_id, revision)] = out.cards
    assert case_id == hub.feedback[0].details["case_id"]
    assert revision.kind is CardKind.REVISION and revision.revision_of == first.card_id
    assert revision.card_number == first.card_number and revision.card_id != first.card_id
    assert revision.case_classification is C.EXCLUDED
    assert revision.diagnosed_at == T0 + 2 * D and revision.filled_at == T0 + 2 * D + H
    assert revision.deadline == T0 + 2 * D + 24 * H  # the measles limit, from the new date
    assert revision.reporting_doctor == "王医生" and revision.patient_name == "张三"
    assert revision.revision_reason == "诊断已排除（王医生），麻疹报告卡订正为排除病例"
    assert revision.envelope.correlation_id == refuted.envelope.event_id
    [reply] = out.feedback
    assert (reply.status, reply.reason_code, reply.card_id) == (S.REVISED, "REFUTED",
                                                                revision.card_id)
    # a redelivery changes nothing; the case takes no more reports, a new diagnosis opens
    # a new case and card
    assert not hub.send(refuted).changed
    later = hub.send(dx("thc-river", "B05.900", C.CONFIRMED, at=T0 + 5 * D))
    [(new_case, new_card)] = later.cards
    assert new_case != case_id and new_card.kind is CardKind.INITIAL
    # a HIS that says 排除 as the case class means the same
    hub.send(dx("thc-river", "B05.900", C.EXCLUDED, at=T0 + 6 * D))
    assert hub.cards[-1].case_classification is C.EXCLUDED
    assert hub.cards[-1].revision_of == new_card.card_id


def test_a_diagnosis_entered_in_error_withdraws_its_card() -> None:
    hub = Hub()
    first = hub.send(dx("lead", "A00.000")).cards[0][1]
    wrong = dx("lead", "A00.000", None, at=T0 + 3 * H, verification=V.ENTERED_IN_ERROR)
    [(_, deletion)] = hub.send(wrong).cards
    assert deletion.kind is CardKind.DELETION and deletion.revision_of == first.card_id
    assert deletion.case_classification is C.CONFIRMED  # the card as it was, withdrawn
    assert deletion.revision_reason == "诊断系误录（李医生），霍乱报告卡予以删除"
    assert hub.statuses()[-1] == ("lead", S.REVISED)
    assert hub.feedback[-1].reason_code == "ENTERED_IN_ERROR"


def test_a_diagnosis_taken_back_before_its_card_closes_the_case() -> None:
    hub = Hub()
    opened = hub.send(dx("lead", "B05.900", onset_date=None))
    assert opened.feedback[0].status is S.INCOMPLETE
    out = hub.send(dx("lead", "B05.900", None, at=T0 + 2 * H, verification=V.REFUTED))
    assert out.cards == []
    [reply] = out.feedback
    assert (reply.status, reply.reason_code) == (S.WITHDRAWN, "REFUTED")
    assert reply.reason == "诊断已撤回，麻疹病例尚未报卡，已关闭，无需再报"
    [case] = hub.states[out.state.key].cases
    assert not case.is_open and case.withdrawn is V.REFUTED
    assert not any(o.changed for o in hub.tick(T0 + 30 * H))  # no warning, no late report
    assert not hub.late and timeliness(c for s in hub.states.values() for c in s.cases) == []
    # nothing to take back: remembered as seen, nothing sent
    nothing = hub.send(dx("lead", "A00.000", None, verification=V.REFUTED))
    assert nothing.changed and not nothing.cards and not nothing.feedback


def test_a_new_subtype_is_a_revision_an_untyped_one_is_not() -> None:
    hub = Hub()
    hub.send(dx("lead", "Z21.x00"))
    [(_, aids)] = hub.send(dx("lead", "B20.900", at=T0 + D)).cards
    assert aids.subtype == "艾滋病病人"
    assert aids.revision_reason == "疾病分型 HIV感染者 → 艾滋病病人"
    other = Hub()
    other.send(dx("lead", "A22.000"))
    assert not other.send(dx("lead", "A22.900", at=T0 + D)).cards
    assert other.feedback[-1].status is S.DUPLICATE


def test_death_from_the_disease_is_a_revision_and_stays() -> None:
    hub = Hub()
    hub.send(dx("lead", "A03.900"))
    died = dx("lead", "A03.900", at=T0 + 2 * D, died_of_disease=True, death_date=date(2026, 11, 28))
    [(_, revision)] = hub.send(died).cards
    assert revision.death_date == date(2026, 11, 28)
    assert not hub.send(dx("lead", "A03.900", at=T0 + 3 * D)).cards


def test_same_id_same_disease_is_a_duplicate_another_disease_is_not() -> None:
    hub = Hub()
    card = hub.send(dx("lead", "A03.900")).cards[0][1]
    hub.send(dx("lead", "A03.900", at=T0 + D))
    assert hub.statuses()[-1] == ("lead", S.DUPLICATE) and hub.feedback[-1].card_id == card.card_id
    assert hub.feedback[-1].reason_code == "SAME_CASE"
    assert hub.send(dx("lead", "B26.900", at=T0 + D)).cards  # mumps: its own card


def test_without_an_id_number_the_case_is_name_sex_birth_address_and_occupation() -> None:
    no_id: dict[str, Any] = {"id_type": None, "id_number": None}
    hub = Hub()
    first = hub.send(dx("vp-hexi", "A03.900", patient=patient(**no_id)))
    same = hub.send(dx("vp-hexi", "A03.900", at=T0 + H, patient=patient(**no_id)))
    worker = hub.send(dx("vp-hexi", "A03.900", at=T0 + 2 * H,
                         patient=patient(**no_id, occupation="WORKER")))
    case_ids = [o.feedback[0].details["case_id"] for o in (first, same, worker)]
    assert case_ids[0] == case_ids[1] != case_ids[2]
    assert all(o.feedback[0].missing_fields == ["id_number"] for o in (first, same, worker))


def test_a_record_number_is_one_case_only_at_the_member_that_issued_it() -> None:
    """Record number 555-44-4444 at the lead and at chc-east: two women with dysentery are
    two cases, not one card and a duplicate; the same number again at the lead is its case.
    A resident ID reported by two units is one case."""
    mrn: dict[str, Any] = {"id_type": IdType.MEDICAL_RECORD_NUMBER, "id_number": "555-44-4444",
                           "sex": Sex.FEMALE}
    eve = patient(**mrn, name="Eve Everywoman", birth_date=date(1962, 3, 20))
    hub = Hub()
    at_lead = hub.send(dx("lead", "A03.900", patient=eve))
    at_east = hub.send(dx("chc-east", "A03.900", at=T0 + H,
                          patient=patient(**mrn, name="李秀英", birth_date=date(1975, 8, 2))))
    lead_again = hub.send(dx("lead", "A03.900", at=T0 + 2 * H, patient=eve))
    cases = [o.feedback[0].details["case_id"] for o in (at_lead, at_east, lead_again)]
    assert cases[0] == cases[2] != cases[1]
    resident = [hub.send(dx(unit, "A03.900", at=T0 + 3 * H + n * H)).feedback[0]
                for n, unit in enumerate(("lead", "chc-east"))]
    assert resident[0].details["case_id"] == resident[1].details["case_id"]
    assert resident[1].status is S.DUPLICATE


def test_a_second_course_in_the_same_year_gets_its_own_card() -> None:
    hub = Hub()
    first = hub.send(dx("lead", "A03.900")).cards[0][1]
    hub.send(dx("lead", "A03.900", at=T0 + 20 * D))  # within 30 days: the same course
    hub.send(dx("lead", "A03.900", at=T0 + 60 * D, visit_kind=Visit.FOLLOW_UP))
    assert [s for _, s in hub.statuses()] == [S.REPORTED, S.DUPLICATE, S.DUPLICATE]
    [(_, second)] = hub.send(dx("lead", "A03.900", at=T0 + 100 * D)).cards
    assert second.kind is CardKind.INITIAL and second.card_number != first.card_number


def test_chronic_diseases_get_a_card_at_first_diagnosis_only() -> None:
    hub = Hub()
    [(_, card)] = hub.send(dx("lead", "B18.100", chronicity=None)).cards
    assert card.chronicity is Chronicity.CHRONIC and card.subtype == "乙型肝炎"
    hub.send(dx("chc-east", "B18.100", at=T0 + 30 * D, visit_kind=Visit.FOLLOW_UP))
    hub.send(dx("lead", "B18.100", at=T0 + 400 * D))
    assert hub.statuses()[1:] == [("chc-east", S.DUPLICATE), ("lead", S.DUPLICATE)]
    assert hub.feedback[-1].card_id == card.card_id and len(hub.cards) == 1
    known = Hub()  # a follow-up with no case on record: reported before the hub knew
    known.send(dx("lead", "A15.000", visit_kind=Visit.FOLLOW_UP))
    known.send(dx("lead", "A15.000", at=T0 + D))
    assert not known.cards and [f.reason_code for f in known.feedback] == ["CHRONIC_FOLLOW_UP"] * 2
    assert not any(o.late_reports for o in known.tick(T0 + 10 * D))


@pytest.mark.parametrize(("first", "second", "kept", "second_gets"), [
    (("lead", True, C.CONFIRMED), ("chc-east", False, C.CONFIRMED), "lead", S.DUPLICATE),
    (("chc-east", False, C.CONFIRMED), ("lead", True, C.CONFIRMED), "lead", S.REVISED),
    (("chc-east", True, C.CONFIRMED), ("lead", True, C.CONFIRMED), "lead", S.REVISED),
    (("lead", True, C.CONFIRMED), ("chc-east", True, C.CONFIRMED), "lead", S.DUPLICATE),
    (("chc-east", True, C.CLINICAL), ("chc-west", True, C.CONFIRMED), "chc-west", S.REVISED),
    (("chc-east", True, C.CONFIRMED), ("chc-west", True, C.CONFIRMED), "chc-east", S.DUPLICATE),
])
def test_reports_from_two_units_keep_treating_then_higher_level_then_higher_class(
    first: tuple[str, bool, C], second: tuple[str, bool, C], kept: str, second_gets: S
) -> None:
    hub = Hub()
    for i, (member, treating, cls) in enumerate((first, second)):
        hub.send(dx(member, "A15.000", cls, at=T0 + i * H, is_treating_unit=treating))
    assert hub.cards[-1].reporting_unit_id == kept
    assert (second[0], second_gets) in hub.statuses()[1:]
    if second_gets is S.REVISED:
        assert hub.cards[-1].revision_of == hub.cards[0].card_id
        assert (first[0], S.REVISED) in hub.statuses()  # the unit whose card was replaced


NO_TOWNSHIP = Address(province="四川省", city="绵阳市", county="安县")
ALL_MISSING = ["patient_name", "id_number", "sex", "birth_date", "belonging", "address.province",
               "address.city", "address.county", "address.township", "occupation",
               "case_classification", "onset_date"]


@pytest.mark.parametrize(("who", "how", "missing"), [
    ({"id_type": None, "id_number": None}, {}, ["id_number"]),
    ({"id_number": "12345"}, {}, ["id_number"]),
    ({"id_type": IdType.MEDICAL_RECORD_NUMBER, "id_number": "MR-1"}, {}, ["id_number"]),
    ({"name": None}, {}, ["patient_name"]),
    ({"sex": None}, {}, ["sex"]),
    ({"sex": Sex.UNKNOWN}, {}, ["sex"]),
    ({"birth_date": None}, {}, ["birth_date"]),
    ({"birth_date": None, "age_value": 36, "age_unit": AgeUnit.YEAR}, {}, []),
    ({"belonging": None}, {}, []),  # derived from the address in the county
    ({"belonging": None, "address": Address(province="四川", city="绵阳", township="河口镇")},
     {}, ["belonging", "address.county"]),
    ({"address": None}, {}, ["address.province", "address.city", "address.county",
                             "address.township"]),
    ({"address": NO_TOWNSHIP}, {}, ["address.township"]),
    ({"occupation": None}, {}, ["occupation"]),
    ({}, {"case_classification": None}, ["case_classification"]),
    ({}, {"onset_date": None}, ["onset_date"]),
    ({"id_type": None, "id_number": None, "sex": None, "birth_date": None, "belonging": None,
      "address": None, "occupation": None, "name": None, "phone": "13800000000"},
     {"case_classification": None, "onset_date": None}, ALL_MISSING),
])
def test_missing_mandatory_fields_are_named_one_by_one(
    who: dict[str, Any], how: dict[str, Any], missing: list[str]
) -> None:
    if who.get("name", "") is None and who.get("id_number", "") is None:
        who = {**who, "name": None, "id_type": IdType.PASSPORT, "id_number": " "}
    out = Hub().send(dx("lead", "B05.900", patient=patient(**who), **how))
    if not missing:
        assert out.cards and out.feedback[0].status is S.REPORTED
        return
    [reply] = out.feedback
    assert not out.cards and reply.status is S.INCOMPLETE and reply.missing_fields == missing


CHILD_2015 = {"id_number": "510726201503033457", "birth_date": date(2015, 3, 3),
              "parent_name": "王建国", "occupation": Occupation.STUDENT}


@pytest.mark.parametrize(("who", "missing"), [
    ({}, []),
    ({"parent_name": None}, ["parent_name"]),
    ({"parent_name": " "}, ["parent_name"]),
    ({"occupation": Occupation.FARMER}, ["occupation"]),
    ({"parent_name": None, "occupation": Occupation.FARMER}, ["parent_name", "occupation"]),
    ({"occupation": Occupation.SCATTERED_CHILD}, ["occupation"]),
    ({"birth_date": None, "age_value": 11, "age_unit": AgeUnit.YEAR, "parent_name": None},
     ["parent_name"]),
    ({"birth_date": date(2023, 1, 1), "occupation": Occupation.STUDENT}, ["occupation"]),
    ({"birth_date": date(2023, 1, 1), "occupation": Occupation.SCATTERED_CHILD}, []),
    ({"birth_date": None, "age_value": 8, "age_unit": AgeUnit.MONTH,
      "occupation": Occupation.NURSERY_CHILD}, []),
    ({"birth_date": date(2011, 11, 27), "parent_name": None}, ["parent_name"]),  # 14 still
    ({"birth_date": date(2011, 11, 26), "parent_name": None, "occupation": Occupation.FARMER},
     []),  # 15 on the day of diagnosis
    ({"birth_date": date(1990, 3, 7), "parent_name": None,
      "occupation": Occupation.SCATTERED_CHILD}, ["occupation"]),
])
def test_a_child_card_needs_the_parent_and_an_occupation_group_that_fits_the_age(
    who: dict[str, Any], missing: list[str]
) -> None:
    out = Hub().send(dx("lead", "B05.900", patient=patient(**{**CHILD_2015, **who})))
    if not missing:
        assert out.cards and out.feedback[0].status is S.REPORTED
        return
    [reply] = out.feedback
    assert not out.cards and reply.status is S.INCOMPLETE and reply.missing_fields == missing


def test_a_child_card_is_sent_once_the_parent_name_comes() -> None:
    hub = Hub()
    child = {**CHILD_2015, "parent_name": None, "occupation": Occupation.FARMER}
    first = hub.send(dx("lead", "B05.900", patient=patient(**child)))
    assert not first.cards and first.feedback[0].missing_fields == ["parent_name", "occupation"]
    fixed = hub.send(dx("lead", "B05.900", at=T0 + timedelta(minutes=5),
                        patient=patient(**CHILD_2015)))
    [(_, card)] = fixed.cards
    assert card.parent_name == "王建国" and card.occupation is Occupation.STUDENT


def test_acute_or_chronic_is_mandatory_where_the_card_asks_for_it() -> None:
    assert Hub().send(dx("lead", "B65.200")).feedback[0].missing_fields == ["chronicity"]
    assert Hub().send(dx("lead", "B65.200", chronicity=Chronicity.CHRONIC)).cards
    assert Hub().send(dx("lead", "B16.900")).cards[0][1].chronicity is Chronicity.ACUTE


def test_an_incomplete_case_is_completed_later_and_keeps_its_deadline() -> None:
    hub = Hub()
    opened = hub.send(dx("lead", "B05.900", onset_date=None))
    assert opened.feedback[0].missing_fields == ["onset_date"]
    [(case_id, card)] = hub.send(dx("lead", "B05.900", at=T0 + 30 * H)).cards
    assert case_id == opened.feedback[0].details["case_id"]
    assert card.deadline == T0 + 24 * H and card.late_by_seconds == 6 * 3600


def test_the_watchdog_warns_at_half_time_and_reports_late_once() -> None:
    hub = Hub()
    event = dx("lead", "B05.900", onset_date=None)
    hub.send(event)
    assert [o.changed for o in hub.tick(T0 + 11 * H)] == [False]
    hub.tick(T0 + 12 * H)
    hub.tick(T0 + 13 * H)
    warning = hub.feedback[-1]
    assert hub.statuses()[1:] == [("lead", S.DEADLINE_WARNING)]
    assert warning.in_reply_to == event.envelope.event_id
    assert warning.missing_fields == ["onset_date"]
    assert warning.reason == "报告时限已过半；须在 2026-11-27 10:00 +08:00 前报告"
    hub.tick(T0 + 24 * H)
    assert not hub.late
    hub.tick(T0 + 24 * H + timedelta(seconds=90))
    hub.tick(T0 + 30 * H)
    [late] = hub.late
    assert late.late_by_seconds == 90 and late.missing_fields == ["onset_date"]
    assert late.lacks == ["发病日期"]  # what held the card up, as the CDC reads it
    assert (late.reporting_unit_id, late.disease_code) == ("lead", "MEASLES")
    assert late.deadline == T0 + 24 * H
    assert hub.statuses()[-1] == ("lead", S.LATE)
    assert hub.feedback[-1].reason == (
        "已超过报告时限 0 小时 1 分 30 秒（时限 2026-11-27 10:00 +08:00）：已向疾控中心报告迟报；"
        "报告卡仍缺：发病日期"
    )
    hub.send(dx("lead", "B05.900", at=T0 + 31 * H))
    assert hub.cards[-1].late_by_seconds == 7 * 3600
    assert not any(o.changed for o in hub.tick(T0 + 60 * H))


def test_reasons_are_chinese_by_default_with_the_deadline_date_in_the_consortium_zone() -> None:
    hub = Hub()
    child = {**CHILD_2015, "parent_name": None}
    [reply] = hub.send(dx("lead", "B05.900", patient=patient(**child), onset_date=None)).feedback
    assert reply.reason_code == "MISSING_FIELDS"  # codes stay machine-readable
    assert reply.reason == ("报告卡缺少以下项目，无法报送：患儿家长姓名、发病日期；"
                            "报告时限 2026-11-27 10:00 +08:00 仍在计时")
    [done] = hub.send(dx("lead", "B05.900", patient=patient(**CHILD_2015))).feedback
    assert done.reason == f"报告卡 {hub.cards[0].card_number} 已报送疾控中心"


def test_reasons_and_revisions_in_english_when_the_settings_say_so() -> None:
    english = Locale.of(Language.EN, "Asia/Shanghai")
    hub = Hub(replace(CTX, locale=english))
    [reply] = hub.send(dx("lead", "B05.900", C.SUSPECTED, onset_date=None)).feedback
    assert reply.reason == ("the report card cannot be sent without these fields: onset date; "
                            "the deadline 2026-11-27 10:00 +08:00 keeps running")
    hub.send(dx("lead", "B05.900", C.SUSPECTED, at=T0 + H))
    [(_, revision)] = hub.send(dx("lead", "B05.900", C.CONFIRMED, at=T0 + 2 * H)).cards
    assert revision.revision_reason == "case classification SUSPECTED -> CONFIRMED"
    warned = Hub(replace(CTX, locale=english))
    warned.send(dx("lead", "B05.900", onset_date=None))
    warned.tick(T0 + 13 * H)
    assert warned.feedback[-1].reason == (
        "half the time to report is gone; due 2026-11-27 10:00 +08:00"
    )


def test_a_case_first_seen_past_its_deadline_is_only_reported_late() -> None:
    hub = Hub()
    hub.send(dx("lead", "A00.000", onset_date=None), now=T0 + 3 * H)
    hub.tick(T0 + 3 * H)
    assert [s for _, s in hub.statuses()] == [S.INCOMPLETE, S.LATE] and len(hub.late) == 1


def test_a_more_urgent_subtype_tightens_the_deadline() -> None:
    hub = Hub()
    hub.send(dx("lead", "A22.900", onset_date=None))
    out = hub.send(dx("lead", "A22.100", at=T0 + H, onset_date=None))
    assert out.feedback[0].details["deadline"] == (T0 + 3 * H).isoformat()


def test_timeliness_per_unit_and_disease() -> None:
    hub = Hub()
    hub.send(dx("lead", "B05.900"), now=T0 + H)
    hub.send(dx("lead", "B05.900", patient=patient("510726197505052345")), now=T0 + 30 * H)
    hub.send(dx("chc-east", "A00.000", onset_date=None))
    hub.tick(T0 + 3 * H)
    rows = {(r.member_id, r.disease_code): r for r in
            timeliness(c for s in hub.states.values() for c in s.cases)}
    measles = rows[("lead", "MEASLES")]
    assert (measles.cases, measles.on_time, measles.late_cards) == (2, 1, 1)
    assert measles.on_time_rate == 0.5 and measles.mean_delay_seconds == 15.5 * 3600
    cholera = rows[("chc-east", "CHOLERA")]
    assert (cholera.open, cholera.late_reports, cholera.reported) == (1, 1, 0)


# Wednesday 30 September 2026 10:00 in China, the eve of the National Day week (1-7 October,
# 10 October a make-up Saturday: schemas/reference/calendar/2026.toml).
EVE_OF_NATIONAL_DAY = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def test_a_foodborne_case_before_national_day_is_due_after_the_holiday_week() -> None:
    hub = Hub()
    event = dx("lead", "T62.000", at=EVE_OF_NATIONAL_DAY, onset_date=None)
    opened = hub.send(event)
    # working days 8 and 9 October: due Friday 9 October 10:00, not Friday 2 October
    due = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    assert opened.feedback[0].details["deadline"] == due.isoformat()
    hub.tick(datetime(2026, 10, 8, 2, 0, tzinfo=UTC))  # late under weekends-only counting
    assert not hub.late
    hub.tick(due + timedelta(seconds=1))
    [late] = hub.late
    assert late.deadline == due and late.late_by_seconds == 1


def test_a_foodborne_case_on_a_spring_festival_eve_counts_the_make_up_saturday() -> None:
    friday = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday 13 February, 10:00 in China
    [(_, card)] = Hub().send(dx("lead", "T62.000", at=friday)).cards
    # Saturday 14 February is worked (调休), 15-23 February are the holiday: Tuesday 24th
    assert card.deadline == datetime(2026, 2, 24, 2, 0, tzinfo=UTC)
