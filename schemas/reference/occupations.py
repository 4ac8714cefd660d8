"""The report card's occupation groups (人群分类) and the national occupation codes mapped
to them, loaded from `occupations.toml` and checked at load: every group of the card is
named, every code maps to a group, no name or code means two groups."""

from __future__ import annotations

import re
import tomllib
from functools import cache, cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from schemas.models.common import Occupation
from schemas.reference import DATA_DIR

OCCUPATIONS_FILE = DATA_DIR / "occupations.toml"
_SPELLING = re.compile(r"[\s/\-_]")


def _system_key(name: str) -> str:
    return _SPELLING.sub("", name).upper()


def _text_key(name: str) -> str:
    return "".join(name.split()).replace("(", "（").replace(")", "）")


class CodeSystem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    aliases: tuple[str, ...]


class OccupationCode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str
    code: str
    name: str
    group: Occupation


class OccupationMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    occupation_loinc: tuple[str, ...]
    onset_loinc: tuple[str, ...]
    groups: dict[Occupation, tuple[str, ...]]
    systems: dict[str, CodeSystem]
    codes: tuple[OccupationCode, ...]

    @model_validator(mode="after")
    def _check(self) -> OccupationMap:
        unnamed = set(Occupation) - set(self.groups)
        if unnamed:
            raise ValueError(f"groups without names: {sorted(unnamed)}")
        for code in self.codes:
            if code.system not in self.systems:
                raise ValueError(f"code {code.code} names unknown system {code.system}")
        keys = [(c.system, c.code) for c in self.codes]
        if len(set(keys)) != len(keys):
            raise ValueError("a code is listed twice")
        names: dict[str, Occupation] = {}
        for group, spellings in self.groups.items():
            for spelling in spellings:
                if names.setdefault(_text_key(spelling), group) is not group:
                    raise ValueError(f"{spelling!r} names two groups")
        _ = self._by_text
        return self

    @cached_property
    def _system_of(self) -> dict[str, str]:
        found = {_system_key(key): key for key in self.systems}
        for key, system in self.systems.items():
            found.update({_system_key(alias): key for alias in system.aliases})
        return found

    @cached_property
    def _by_code(self) -> dict[tuple[str, str], Occupation]:
        return {(c.system, c.code.upper()): c.group for c in self.codes}

    @cached_property
    def _by_text(self) -> dict[str, Occupation]:
        """Group names, their Chinese names, and the names of the codes (a code's name
        that is also a group's name must mean that group)."""
        found: dict[str, Occupation] = {group.value: group for group in Occupation}
        for group, spellings in self.groups.items():
            found.update({_text_key(s): group for s in spellings})
        for code in self.codes:
            if found.setdefault(_text_key(code.name), code.group) is not code.group:
                raise ValueError(f"code {code.code} {code.name!r} contradicts a group name")
        return found

    def system(self, name: str) -> str | None:
        """The system key a member's spelling names (GB/T 2261.4 -> GB_T_2261_4)."""
        return self._system_of.get(_system_key(name)) if name.strip() else None

    def group(self, code: str = "", text: str = "", system: str = "") -> Occupation | None:
        """The card's group for what a member sent: a code of a known system (a code
        without a system is read as GB/T 2261.4, the national one), a group's name or a
        Chinese name of a group or code; None when nothing maps."""
        code = code.strip().upper()
        named = self.system(system) if system else "GB_T_2261_4"
        if code and named == "CARD_GROUP":
            found = self._by_text.get(code)
        elif code and named is not None:
            found = self._by_code.get((named, code))
        else:
            found = None
        if found is None and code and not system:
            found = self._by_text.get(_text_key(code))
        if found is None and text.strip():
            found = self._by_text.get(_text_key(text))
        return found

    def is_occupation_loinc(self, code: str) -> bool:
        return code.strip() in self.occupation_loinc

    def is_onset_loinc(self, code: str) -> bool:
        return code.strip() in self.onset_loinc


def load_occupations(path: Path | None = None) -> OccupationMap:
    data = tomllib.loads((path or OCCUPATIONS_FILE).read_text(encoding="utf-8"))
    return OccupationMap.model_validate(data)


@cache
def occupations() -> OccupationMap:
    """The shipped map, loaded once (the connectors read it per message)."""
    return load_occupations()
