"""The notifiable disease catalogue, case detection and reporting deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.rules.reporting.detection import deadline_for, late_by_seconds, local_zone
from hub.rules.worktime import add_working_days
from schemas.models.clinical import AbnormalFlag, CaseClassification, Chronicity
from schemas.models.outputs import DiseaseClass
from schemas.reference import DATA_DIR
from schemas.reference.calendar import load_working_calendar
from schemas.reference.diseases import Limit, load_disease_catalogue

CATALOGUE = load_disease_catalogue()
CALENDAR = load_working_calendar()
CST = local_zone(8)
# 2026-11-26 is a Thursday.
THURSDAY_10 = datetime(2026, 11, 26, 10, 0, tzinfo=CST)


def test_the_law_lists_2_a_27_b_11_c_and_two_more_b_from_april_2026() -> None:
    def count(on: str) -> dict[str, int]:
        day = datetime.fromisoformat(on).date()
        classes = [d.disease_class for d in CATALOGUE.diseases if d.in_force(day)]
        b = sum(c in (DiseaseClass.B, DiseaseClass.B_AS_A) for c in classes)
        return {"A": classes.count(DiseaseClass.A), "B": b, "C": classes.count(DiseaseClass.C)}

    assert count("2025-09-01") == {"A": 2, "B": 27, "C": 11}
    assert count("2026-04-01") == {"A": 2, "B": 29, "C": 11}
    assert CATALOGUE.match_icd("A92.0", on=THURSDAY_10.date()) is not None
    assert CATALOGUE.match_icd("A92.0", on=datetime(2026, 3, 31).date()) is None


@pytest.mark.parametrize(("code", "disease", "subtype", "klass", "hours"), [
    ("A22.101", "ANTHRAX", "肺炭疽", DiseaseClass.B_AS_A, 2),
    ("A22.1", "ANTHRAX", "肺炭疽", DiseaseClass.B_AS_A, 2),
    ("A22.000", "ANTHRAX", "皮肤炭疽", DiseaseClass.B, 24),
    ("A22.900", "ANTHRAX", "未分型炭疽", DiseaseClass.B, 24),
    ("A00.000", "CHOLERA", None, DiseaseClass.A, 2),
    ("A20.200x001", "PLAGUE", "肺鼠疫", DiseaseClass.A, 2),
    ("U04.900", "SARS", None, DiseaseClass.B_AS_A, 2),
    ("B05.900", "MEASLES", None, DiseaseClass.B, 24),
    ("Z21.x00", "HIV-AIDS", "HIV感染者", DiseaseClass.B, 24),
    ("B22.700", "HIV-AIDS", "艾滋病病人", DiseaseClass.B, 24),
    ("B18.100", "HEPATITIS", "乙型肝炎", DiseaseClass.B, 24),
    ("B19.900", "HEPATITIS", "未分型肝炎", DiseaseClass.B, 24),
    ("B17.9", "HEPATITIS", "未分型肝炎", DiseaseClass.B, 24),
    ("A15.000", "TUBERCULOSIS", "病原学阳性", DiseaseClass.B, 24),
    ("A16.200", "TUBERCULOSIS", "无病原学结果", DiseaseClass.B, 24),
    ("J09.x00", "NOVEL-INFLUENZA", None, DiseaseClass.B, 24),
    ("J11.100", "INFLUENZA", None, DiseaseClass.C, 24),
    ("B08.400", "HFMD", None, DiseaseClass.C, 24),
    ("A09.000", "OTHER-INFECTIOUS-DIARRHOEA", None, DiseaseClass.C, 24),
    ("A39.0†G01*", "MENINGOCOCCAL-MENINGITIS", None, DiseaseClass.B, 24),
])
def test_icd_codes_match_by_longest_prefix(
    code: str, disease: str, subtype: str | None, klass: DiseaseClass, hours: int
) -> None:
    match = CATALOGUE.match_icd(code)
    assert match is not None
    assert (match.code, match.subtype_name, match.disease_class) == (disease, subtype, klass)
    assert match.limit.hours == hours


@pytest.mark.parametrize("code", ["I10.x00", "J18.900", "A39.100", "K29.700", "A2", ""])
def test_other_codes_are_not_reportable(code: str) -> None:
    assert CATALOGUE.match_icd(code) is None


def test_foodborne_cases_have_two_working_days() -> None:
    match = CATALOGUE.match_icd("T62.000")
    assert match is not None and match.disease_class is DiseaseClass.FOODBORNE
    assert match.subtype_name == "毒蘑菇中毒" and match.limit.working_days == 2


def test_chronic_diseases_are_flagged_and_acute_or_chronic_comes_from_the_code() -> None:
    chronic = {c for c in ("B18.1", "B16.9", "A15.0", "B65.2", "B15.9", "B05.9")
               if (m := CATALOGUE.match_icd(c)) is not None and m.chronic}
    assert chronic == {"B18.1", "B16.9", "A15.0", "B65.2"}
    hep_b = CATALOGUE.match_icd("B18.100")
    assert hep_b is not None and hep_b.chronicity_of("B18.100") is Chronicity.CHRONIC
    assert hep_b.chronicity_of("B16.900") is Chronicity.ACUTE and hep_b.acute_or_chronic


@pytest.mark.parametrize(("item", "flag", "method", "disease", "subtype"), [
    ("HIV-CONFIRM", AbnormalFlag.POSITIVE, "WESTERN_BLOT", "HIV-AIDS", "HIV感染者"),
    ("TB-CULTURE", AbnormalFlag.POSITIVE, None, "TUBERCULOSIS", "病原学阳性"),
    ("TB-SMEAR", AbnormalFlag.POSITIVE, "SMEAR", "TUBERCULOSIS", "病原学阳性"),
    ("MTB", AbnormalFlag.POSITIVE, "CULTURE", "TUBERCULOSIS", "病原学阳性"),
    ("V-CHOLERAE-CULTURE", AbnormalFlag.POSITIVE, "CULTURE", "CHOLERA", None),
    ("MTB", AbnormalFlag.POSITIVE, "PCR", None, None),
    ("TB-CULTURE", AbnormalFlag.NEGATIVE, None, None, None),
    ("HIV-CONFIRM", None, None, None, None),
    ("K", AbnormalFlag.HIGH, None, None, None),
])
def test_lab_triggers(
    item: str, flag: AbnormalFlag | None, method: str | None, disease: str | None,
    subtype: str | None,
) -> None:
    match = CATALOGUE.match_lab(item, flag, method)
    if disease is None:
        assert match is None
        return
    assert match is not None and (match.code, match.subtype_name) == (disease, subtype)
    assert match.classification is CaseClassification.CONFIRMED


def test_deadline_of_each_class() -> None:
    at = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    expected = {DiseaseClass.A: 2, DiseaseClass.B_AS_A: 2, DiseaseClass.B: 24,
                DiseaseClass.C: 24}
    for klass, hours in expected.items():
        due = deadline_for(CATALOGUE.limits[klass], at, 8, CALENDAR)
        assert due == at + timedelta(hours=hours)
    foodborne = deadline_for(CATALOGUE.limits[DiseaseClass.FOODBORNE], at, 8, CALENDAR)
    assert foodborne == at + timedelta(days=4)  # Thu -> Fri (1), weekend skipped, Mon (2)


@pytest.mark.parametrize(("start", "due"), [
    (THURSDAY_10, datetime(2026, 11, 30, 10, 0, tzinfo=CST)),  # Thu -> Fri, Mon
    (THURSDAY_10 + timedelta(days=1), datetime(2026, 12, 1, 10, 0, tzinfo=CST)),  # Fri -> Tue
    (THURSDAY_10 + timedelta(days=2), datetime(2026, 12, 1, 10, 0, tzinfo=CST)),  # Sat -> Tue
    (THURSDAY_10 + timedelta(days=3), datetime(2026, 12, 1, 10, 0, tzinfo=CST)),  # Sun -> Tue
    (THURSDAY_10 - timedelta(days=3), datetime(2026, 11, 25, 10, 0, tzinfo=CST)),  # Mon -> Wed
])
def test_working_days_skip_weekends(start: datetime, due: datetime) -> None:
    assert add_working_days(CALENDAR, start.astimezone(UTC), 2, CST) == due


def test_working_days_count_in_local_time() -> None:
    # Friday 23:30 UTC is already Saturday 07:30 in China: due Tuesday 07:30 local.
    friday_night_utc = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    due = add_working_days(CALENDAR, friday_night_utc, 2, CST)
    assert due.astimezone(CST) == datetime(2026, 12, 1, 7, 30, tzinfo=CST)


def test_late_by_seconds() -> None:
    deadline = THURSDAY_10
    assert late_by_seconds(deadline, deadline) is None
    assert late_by_seconds(deadline, deadline + timedelta(minutes=5, seconds=1)) == 301


def test_a_limit_is_hours_or_working_days() -> None:
    with pytest.raises(ValidationError):
        Limit(hours=2, working_days=2)
    with pytest.raises(ValidationError):
        Limit()


def test_a_prefix_listed_twice_is_refused(tmp_path: Path) -> None:
    text = (DATA_DIR / "diseases.toml").read_text(encoding="utf-8")
    broken = tmp_path / "diseases.toml"
    broken.write_text(text.replace('icd10 = ["B26"]', 'icd10 = ["B05"]'), encoding="utf-8")
    with pytest.raises(ValidationError, match="B05 is listed twice"):
        load_disease_catalogue(broken)
