"""The consortium registry data file and its rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.reference.registry import Level, load_registry


def test_registry_holds_a_1_plus_5_plus_n_consortium() -> None:
    registry = load_registry()
    levels = [m.level for m in registry.members if m.consortium is None]
    assert levels.count(Level.LEAD_HOSPITAL) == 1
    assert levels.count(Level.CENTRE) >= 4 and levels.count(Level.VILLAGE_POINT) >= 3
    for member in registry.members:
        if member.level is Level.VILLAGE_POINT:
            parent = registry.get(member.parent or "")
            assert parent is not None and parent.level is Level.CENTRE


def test_quality_control_status_per_item() -> None:
    registry = load_registry()
    lead, west = registry.get("lead"), registry.get("chc-west")
    assert lead is not None and west is not None
    assert lead.passed_qc("CT-CHEST")  # "*" covers every item
    assert west.passed_qc("K") and not west.passed_qc("HBA1C")
    assert not west.passed_qc("CA")  # failed external quality assessment
    assert registry.mark == "AXHR"


def test_partner_outside_the_consortium_is_marked() -> None:
    registry = load_registry()
    partner = registry.get("city-tcm")
    assert partner is not None
    assert registry.consortium_of(partner) != registry.consortium.id


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ('[[members]]\nid = "a"\nname = "A"\nlevel = "CENTRE"\n' * 2, "duplicate"),
        ('[[members]]\nid = "Bad Id"\nname = "A"\nlevel = "CENTRE"\n', "topic name"),
        ('[[members]]\nid = "a"\nname = "A"\nlevel = "CENTRE"\nparent = "zz"\n', "unknown parent"),
    ],
    ids=["duplicate", "bad-id", "unknown-parent"],
)
def test_bad_registry_files_are_refused(tmp_path: Path, members: str, message: str) -> None:
    path = tmp_path / "members.toml"
    path.write_text('[consortium]\nid = "c"\nname = "C"\n' + members)
    with pytest.raises(ValidationError, match=message):
        load_registry(path)
