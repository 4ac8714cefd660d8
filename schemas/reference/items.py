"""The item catalogue (互认项目目录): consortium item codes, their recognition windows and
each member's local codes, loaded from `items.toml` and checked at load."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.models.clinical import Modality
from schemas.reference import DATA_DIR, Source, source_text
from schemas.reference.registry import MEMBER_ID

ITEMS_FILE = DATA_DIR / "items.toml"


class ItemKind(StrEnum):
    LAB = "LAB"
    IMAGING = "IMAGING"
    ULTRASOUND = "ULTRASOUND"
    ELECTROPHYSIOLOGY = "ELECTROPHYSIOLOGY"
    NUCLEAR_MEDICINE = "NUCLEAR_MEDICINE"


def normalise_code(code: str) -> str:
    """Local codes are matched without surrounding spaces and case (HIS exports vary)."""
    return code.strip().upper()


class Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    name_en: str | None = None
    kind: ItemKind
    group: str | None = Field(default=None, description="Lab section, e.g. biochemistry")
    modality: Modality | None = Field(default=None, description="For examinations")
    window_days: int = Field(ge=0, description="Days a result stays recognisable")
    loinc: str | None = None
    unit: str | None = None
    recognisable: bool = True
    local_codes: dict[str, str] = Field(default_factory=dict, description="member id -> code")

    @model_validator(mode="after")
    def _check(self) -> Item:
        if self.code != normalise_code(self.code):
            raise ValueError(f"item code {self.code!r} must be upper case without spaces")
        if self.recognisable and self.window_days < 1:
            raise ValueError(f"recognisable item {self.code} needs a window of at least 1 day")
        if self.kind is ItemKind.LAB and self.modality is not None:
            raise ValueError(f"lab item {self.code} has a modality")
        if self.kind is not ItemKind.LAB and self.modality is None:
            raise ValueError(f"examination {self.code} needs a modality")
        for member_id, local in self.local_codes.items():
            if not MEMBER_ID.match(member_id):
                raise ValueError(f"item {self.code}: {member_id!r} is not a member id")
            if not local.strip():
                raise ValueError(f"item {self.code}: empty local code for {member_id}")
        return self

    @property
    def is_lab(self) -> bool:
        return self.kind is ItemKind.LAB


class ItemCatalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: tuple[Item, ...]

    @model_validator(mode="after")
    def _unique(self) -> ItemCatalogue:
        seen: dict[str, str] = {}
        loincs: dict[str, str] = {}
        locals_: dict[tuple[str, str], str] = {}
        for item in self.items:
            if item.code in seen:
                raise ValueError(f"item code {item.code} appears twice")
            seen[item.code] = item.code
            if item.loinc is not None:
                if item.loinc in loincs:
                    raise ValueError(f"LOINC {item.loinc} maps to {loincs[item.loinc]} and "
                                     f"{item.code}")
                loincs[item.loinc] = item.code
            for member_id, local in item.local_codes.items():
                key = (member_id, normalise_code(local))
                if key in locals_:
                    raise ValueError(f"{member_id} code {local!r} maps to {locals_[key]} and "
                                     f"{item.code}")
                locals_[key] = item.code
        return self

    @cached_property
    def _by_code(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    @cached_property
    def _by_local(self) -> dict[tuple[str, str], Item]:
        return {(member_id, normalise_code(local)): item
                for item in self.items for member_id, local in item.local_codes.items()}

    @cached_property
    def _by_loinc(self) -> dict[str, Item]:
        return {item.loinc: item for item in self.items if item.loinc is not None}

    def get(self, code: str) -> Item | None:
        """The item with this consortium code."""
        return self._by_code.get(code)

    def resolve(self, member_id: str, local_code: str) -> Item | None:
        """The item a member means by its own local code."""
        return self._by_local.get((member_id, normalise_code(local_code)))

    def by_loinc(self, loinc: str) -> Item | None:
        return self._by_loinc.get(loinc.strip())

    def local_code(self, member_id: str, item_code: str) -> str | None:
        """A member's own code for a consortium item (the reverse of `resolve`)."""
        item = self.get(item_code)
        return item.local_codes.get(member_id) if item is not None else None

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self.items]

    def members(self) -> set[str]:
        """Every member id that has local codes in the catalogue."""
        return {member_id for item in self.items for member_id in item.local_codes}

    def __len__(self) -> int:
        return len(self.items)


def load_item_catalogue(path: Source | None = None) -> ItemCatalogue:
    data = tomllib.loads(source_text(path, ITEMS_FILE))
    return ItemCatalogue(items=tuple(Item.model_validate(raw) for raw in data.get("items", [])))
