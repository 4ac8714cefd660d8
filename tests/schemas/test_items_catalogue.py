"""The item catalogue: the shipped file loads, covers what the flows need, and the loader
refuses an inconsistent one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.reference.items import ItemKind, load_item_catalogue
from schemas.reference.registry import load_registry

CATALOGUE = load_item_catalogue()
# The lab items domain.md names (windows table and the regional list of 60).
DOMAIN_LAB_ITEMS = {
    "K", "NA", "CL", "CA", "MG", "FE", "TIBC", "P", "LI", "TP", "ALB", "FERRITIN", "GLU",
    "TC", "TG", "HDL-C", "LDL-C", "TBIL", "HBA1C", "CRE", "UREA", "UA", "ALT", "AST", "GGT",
    "LDH", "CK", "AMY", "ALP", "HCY", "HBSAG", "HBSAB", "HCV-AB", "AFP", "CEA", "PSA", "TSH",
    "T3", "FT3", "FT4", "T4", "IGG", "IGM", "IGA", "C3", "C4", "CA125", "CA15-3", "BHCG",
    "WBC", "RBC", "HB", "PLT",
}


def test_shipped_catalogue_covers_the_domain_and_the_registry() -> None:
    labs = {i.code for i in CATALOGUE.items if i.kind is ItemKind.LAB and i.recognisable}
    assert labs >= DOMAIN_LAB_ITEMS and len(DOMAIN_LAB_ITEMS) >= 48
    registry = load_registry()
    for member in registry.members:
        assert member.qc_items - {"*"} <= set(CATALOGUE.codes), member.id
        assert member.eqa_failed_items <= set(CATALOGUE.codes), member.id
    assert CATALOGUE.members() <= set(registry.ids)
    for code in ("CXR", "CT-HEAD", "CT-CHEST", "MRI-HEAD", "US-ABD", "ECG", "NM-BONE"):
        item = CATALOGUE.get(code)
        assert item is not None and item.kind is not ItemKind.LAB and item.modality is not None
    assert {i.kind for i in CATALOGUE.items} == set(ItemKind)


@pytest.mark.parametrize(("code", "days"), [
    ("K", 7), ("NA", 7), ("CL", 7), ("CA", 7), ("MG", 7), ("FE", 7), ("TIBC", 7), ("P", 7),
    ("LI", 7), ("TP", 30), ("ALB", 30), ("FERRITIN", 30), ("GLU", 30), ("TC", 30), ("TG", 30),
    ("HDL-C", 30), ("LDL-C", 30), ("TBIL", 30), ("HBA1C", 60),
])
def test_windows_follow_the_provincial_table(code: str, days: int) -> None:
    item = CATALOGUE.get(code)
    assert item is not None and item.window_days == days


def test_reporting_triggers_are_catalogued_but_not_recognised() -> None:
    for code in ("HIV-CONFIRM", "TB-CULTURE", "TB-SMEAR", "V-CHOLERAE-CULTURE"):
        item = CATALOGUE.get(code)
        assert item is not None and not item.recognisable and item.kind is ItemKind.LAB


def test_members_use_different_local_codes_for_the_same_item() -> None:
    east, west = CATALOGUE.resolve("chc-east", "SH-K"), CATALOGUE.resolve("chc-west", "CW101")
    assert east is not None and west is not None and east.code == west.code == "K"
    assert CATALOGUE.local_code("chc-east", "K") != CATALOGUE.local_code("chc-west", "K")
    assert CATALOGUE.resolve("chc-west", "SH-K") is None  # east's code means nothing at west
    assert CATALOGUE.resolve("chc-east", " sh-k ") is east  # spacing and case do not matter
    assert CATALOGUE.resolve("unknown", "SH-K") is None
    assert CATALOGUE.get("NOPE") is None


def test_lookup_by_loinc_and_item_fields() -> None:
    potassium = CATALOGUE.by_loinc("2823-3")
    assert potassium is not None and potassium.code == "K"
    assert (potassium.name, potassium.unit, potassium.window_days) == ("钾", "mmol/L", 7)
    assert potassium.recognisable and potassium.is_lab
    assert CATALOGUE.by_loinc("0000-0") is None


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "items.toml"
    path.write_text(body, encoding="utf-8")
    return path


ITEM = '[[items]]\ncode = "{code}"\nname = "x"\nkind = "LAB"\nwindow_days = {days}\n' \
       'local_codes = {{ lead = "{local}" }}\n'


@pytest.mark.parametrize(("body", "message"), [
    (ITEM.format(code="K", days=7, local="A") + ITEM.format(code="K", days=7, local="B"),
     "appears twice"),
    (ITEM.format(code="K", days=7, local="A") + ITEM.format(code="NA", days=7, local="a"),
     "maps to K and NA"),
    (ITEM.format(code="K", days=0, local="A"), "window of at least 1 day"),
    (ITEM.format(code="k", days=7, local="A"), "upper case"),
    ('[[items]]\ncode = "CT"\nname = "x"\nkind = "IMAGING"\nwindow_days = 7\n', "modality"),
    ('[[items]]\ncode = "K"\nname = "x"\nkind = "LAB"\nwindow_days = 7\nlocal_codes = '
     '{ "Bad Member" = "A" }\n', "not a member id"),
    ('[[items]]\ncode = "K"\nname = "x"\nkind = "LAB"\nwindow_days = 7\ncolour = "red"\n',
     "colour"),
])
def test_loader_refuses_an_inconsistent_catalogue(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        load_item_catalogue(_write(tmp_path, body))


def test_loader_reads_a_given_file(tmp_path: Path) -> None:
    catalogue = load_item_catalogue(_write(tmp_path, ITEM.format(code="K", days=7, local="A")))
    assert catalogue.codes == ["K"] and len(catalogue) == 1
    assert catalogue.resolve("lead", "a") is catalogue.get("K")
