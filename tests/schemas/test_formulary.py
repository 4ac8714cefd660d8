"""The consortium formulary: the shipped data loads, and the loader refuses bad data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas.reference import DATA_DIR
from schemas.reference.formulary import (
    DRUG_CODE,
    Formulary,
    StockParams,
    SupplyMode,
    load_formulary,
)
from schemas.reference.registry import load_registry

AMOXICILLIN = "XJ01CAA040E001010101445"
METFORMIN = "XA10BAE054A001010101603"
OXYTOCIN = "XH01BBS046B002010101623"
GLARGINE = "XA10AEG011B002010101832"


@pytest.fixture(scope="module")
def formulary() -> Formulary:
    return load_formulary()


def params(formulary: Formulary, member_id: str, drug_code: str) -> StockParams:
    found = formulary.stock_params(member_id, drug_code)
    assert found is not None, (member_id, drug_code)
    return found


def local(formulary: Formulary, member_id: str, local_code: str) -> str:
    drug = formulary.resolve_local(member_id, local_code)
    assert drug is not None, (member_id, local_code)
    return drug.code


def test_shipped_formulary_has_common_essential_drugs(formulary: Formulary) -> None:
    names = {d.name for d in formulary.drugs}
    assert len(formulary.drugs) >= 30
    for expected in ("阿莫西林胶囊", "盐酸二甲双胍片", "苯磺酸氨氯地平片", "奥美拉唑肠溶胶囊"):
        assert expected in names
    assert any("胰岛素" in n for n in names)
    assert all(DRUG_CODE.match(d.code) and len(d.code) == 23 for d in formulary.drugs)
    assert {d.code[0] for d in formulary.drugs} == {"X", "Z"}


def test_every_consortium_member_has_parameters_for_what_its_level_stocks(
    formulary: Formulary,
) -> None:
    registry = load_registry()
    county = [m for m in registry.members if registry.consortium_of(m) == registry.consortium.id]
    for member in county:
        assert formulary.stock_params(member.id, AMOXICILLIN) is not None, member.id
    # the partner hospital of another consortium has its own pharmacy
    assert formulary.stock_params("city-tcm", AMOXICILLIN) is None
    # village points do not keep insulin glargine
    assert formulary.stock_params("vp-hexi", GLARGINE) is None
    assert formulary.stock_params("lead", GLARGINE) is not None


def test_level_defaults_member_exceptions_and_overrides(formulary: Formulary) -> None:
    lead = formulary.stock_params("lead", AMOXICILLIN)
    village = formulary.stock_params("vp-hexi", AMOXICILLIN)
    assert lead is not None and village is not None
    assert (lead.order_cycle_days, lead.lead_time_days, lead.supply_mode) == (
        7, 2, SupplyMode.TOP_UP
    )
    assert (lead.safety_stock, lead.max_stock, lead.min_purchase) == (200, 1500, 100)
    assert village.supply_mode is SupplyMode.REQUISITION
    assert params(formulary, "thc-river", AMOXICILLIN).lead_time_days == 4
    mch_oxytocin = formulary.stock_params("mch", OXYTOCIN)
    assert mch_oxytocin is not None
    assert (mch_oxytocin.safety_stock, mch_oxytocin.max_stock) == (150, 800)
    assert mch_oxytocin.order_cycle_days == 30
    assert params(formulary, "chc-east", METFORMIN).max_stock == 900
    assert params(formulary, "chc-west", METFORMIN).max_stock == 600


def test_local_codes_resolve_per_member(formulary: Formulary) -> None:
    assert local(formulary, "chc-east", "CE-0030") == METFORMIN
    assert local(formulary, "lead", "YP000245") == METFORMIN
    assert local(formulary, "thc-river", "HK1001") == AMOXICILLIN
    assert formulary.resolve_local("lead", "CE-0030") is None
    assert formulary.get("X" + "0" * 22) is None
    assert formulary.stockists(GLARGINE) == ["chc-east", "chc-west", "lead", "mch", "thc-river"]


@pytest.fixture()
def copy_dir(tmp_path: Path) -> Path:
    for name in ("formulary.toml", "formulary.csv"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("formulary.csv", AMOXICILLIN, "XJ01CA-BAD", "line 2"),
        ("formulary.csv", "0.25g×12片,片剂,盒,true,120,800", "0.25g×12片,片剂,盒,true,900,800",
         "below safety_stock"),
        ("formulary.csv", ",true,80,500,40,20,120,20,,,", ",true,80,500,40,20,120,20,5,,",
         "partly empty"),
        ("formulary.toml", 'member = "chc-east"', 'member = "chc-north"', "unknown member"),
        ("formulary.toml", '"CE-0030" = "XA10BAE054A001010101603"',
         '"CE-0030" = "XA10BAE054A001010109999"', "unknown"),
        ("formulary.toml", "[members.mch]", "[members.city-tcm]", "not a consortium member"),
    ],
)
def test_bad_data_fails_at_load(copy_dir: Path, file: str, old: str, new: str,
                                message: str) -> None:
    _edit(copy_dir / file, old, new)
    with pytest.raises(ValueError, match=message):
        load_formulary(copy_dir / "formulary.toml")


def test_a_drug_listed_twice_fails(copy_dir: Path) -> None:
    catalogue = copy_dir / "formulary.csv"
    first_row = catalogue.read_text(encoding="utf-8").splitlines()[1]
    with catalogue.open("a", encoding="utf-8") as handle:
        handle.write(first_row + "\n")
    with pytest.raises(ValueError, match="listed twice"):
        load_formulary(copy_dir / "formulary.toml")
