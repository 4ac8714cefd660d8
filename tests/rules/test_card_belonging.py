"""The report card's derived and mapped fields as pure rules: where the patient belongs
(病人属于) from the current address and the consortium's place, and the occupation group
(人群分类) from national codes and names (schemas/reference/occupations.toml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.reporting import (
    Context,
    Home,
    Report,
    belonging_of,
    detect_diagnosis,
    on_detection,
    with_belonging,
)
from schemas.models import DiseaseReportCard
from schemas.models.clinical import CaseClassification
from schemas.models.common import Address, Belonging, Occupation, Patient
from schemas.reference.calendar import load_working_calendar
from schemas.reference.diseases import load_disease_catalogue
from schemas.reference.occupations import OCCUPATIONS_FILE, load_occupations, occupations
from schemas.reference.registry import load_registry
from tests.factories import diagnosis, patient

HOME = Home(province="四川省", city="绵阳市", county="安县")
SEALER = Sealer(Fernet.generate_key())
REGISTRY = load_registry()


def at(province: str | None = None, city: str | None = None, county: str | None = None,
       country: str | None = None) -> Address:
    return Address(province=province, city=city, county=county, township="某镇",
                   country=country)


@pytest.mark.parametrize(("address", "expected"), [
    (at("四川省", "绵阳市", "安县"), Belonging.THIS_COUNTY),
    (at("四川", "绵阳", "安县", "CHN"), Belonging.THIS_COUNTY),  # name forms, China
    (at(" 四川省 ", "绵阳市", "安县", "中国"), Belonging.THIS_COUNTY),
    (at("四川省", "绵阳市", "涪城区"), Belonging.OTHER_COUNTY_THIS_CITY),
    (at("四川", "成都市", "武侯区"), Belonging.OTHER_CITY_THIS_PROVINCE),
    (at("四川省", "成都市"), Belonging.OTHER_CITY_THIS_PROVINCE),  # the city decides
    (at("广西壮族自治区", "南宁市", "青秀区"), Belonging.OTHER_PROVINCE),
    (at("重庆市"), Belonging.OTHER_PROVINCE),
    (at("香港特别行政区", None, "九龙城区"), Belonging.HK_MACAO_TAIWAN),
    (at("台湾省"), Belonging.HK_MACAO_TAIWAN),
    (at(None, None, None, "MAC"), Belonging.HK_MACAO_TAIWAN),
    (at("Ontario", "Toronto", None, "CAN"), Belonging.FOREIGN),
    (at("四川省", "绵阳市", None), None),  # this city, county unknown: ask
    (at("四川省", None, "安县"), None),
    (at(None, "绵阳市", "安县"), None),
    (None, None),
])
def test_belonging_from_the_current_address(address: Address | None,
                                            expected: Belonging | None) -> None:
    assert belonging_of(address, HOME) == expected


def test_what_the_member_sent_wins_and_no_home_derives_nothing() -> None:
    sent = patient(belonging=Belonging.OTHER_PROVINCE)  # address in this county
    assert with_belonging(sent, HOME).belonging is Belonging.OTHER_PROVINCE
    unsent = patient(belonging=None)
    assert with_belonging(unsent, HOME).belonging is Belonging.THIS_COUNTY
    assert with_belonging(unsent, None).belonging is None
    assert Home.of(REGISTRY.consortium) == HOME  # members.toml says where it is


def _card_of(who: Patient) -> tuple[list[str], DiseaseReportCard | None]:
    def opener(report: Report) -> Patient:
        return SEALER.open_patient(Patient(key="k", sealed=report.sealed.encode()))

    ctx = Context(load_disease_catalogue(), REGISTRY, opener, retention_days=1096,
                  calendar=load_working_calendar())
    event = diagnosis("lead", "A01.0", "伤寒", at=datetime(2026, 3, 1, 3, tzinfo=UTC),
                      case_classification=CaseClassification.CLINICAL,
                      patient=pseudonymous(who, b"secret", SEALER, issuer="lead"))
    found = detect_diagnosis(event, ctx.catalogue, REGISTRY)
    assert found is not None
    assert found.report.occupation == who.occupation
    out = on_detection(None, "k", found, ctx, datetime(2026, 3, 1, 4, tzinfo=UTC))
    missing = [m for f in out.feedback for m in f.missing_fields]
    return missing, out.cards[0][1] if out.cards else None


def test_the_card_derives_belonging_where_it_is_built() -> None:
    missing, card = _card_of(patient(belonging=None, address=Address(
        province="四川", city="绵阳", county="涪城区", township="城厢街道")))
    assert not missing and card is not None
    assert card.belonging is Belonging.OTHER_COUNTY_THIS_CITY
    missing, card = _card_of(patient(belonging=None, address=Address(
        province="四川省", city="绵阳市", township="城厢街道")))
    assert card is None and missing == ["belonging", "address.county"]


@pytest.mark.parametrize(("code", "text", "system", "expected"), [
    ("27", "", "GB/T 2261.4", Occupation.FARMER),
    ("27", "", "", Occupation.FARMER),  # a bare code is the national one
    ("31", "学生", "GBT2261.4", Occupation.STUDENT),
    ("80", "", "urn:consortium-hub:gbt-2261.4", Occupation.RETIRED),
    ("13", "", "GB/T 2261.4", Occupation.OTHER),
    ("", "散居儿童", "", Occupation.SCATTERED_CHILD),
    ("", "渔(船)民", "", Occupation.FISHERMAN),
    ("", "学生（大中小学）", "", Occupation.STUDENT),
    ("医务人员", "", "", Occupation.MEDICAL_STAFF),  # a name where the code goes
    ("NURSERY_CHILD", "", "urn:consortium-hub:occupation-group", Occupation.NURSERY_CHILD),
    ("99", "宇航员", "GB/T 2261.4", None),
    ("0050", "Marketing managers", "urn:oid:2.16.840.1.114222.4.5.327", None),
    ("27", "", "urn:oid:2.16.840.1.114222.4.5.327", None),  # another system's 27
    ("", "", "", None),
])
def test_occupation_codes_and_names_map_to_the_cards_groups(
    code: str, text: str, system: str, expected: Occupation | None
) -> None:
    assert occupations().group(code, text, system) is expected


def test_the_occupation_file_names_every_group_and_is_checked(tmp_path: Path) -> None:
    loaded = load_occupations()
    assert set(loaded.groups) == set(Occupation)
    assert {c.code for c in loaded.codes} >= {"11", "24", "27", "31", "70", "80", "90"}
    broken = tmp_path / "occupations.toml"
    broken.write_text(OCCUPATIONS_FILE.read_text(encoding="utf-8").replace(
        'FARMER = ["农民"]', 'FARMER = ["农民", "工人"]'), encoding="utf-8")
    with pytest.raises(ValueError, match="names two groups"):
        load_occupations(broken)
