"""The consortium registry: members, their level, parent and quality-controlled items."""

from __future__ import annotations

import re
import tomllib
from enum import IntEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.reference import DATA_DIR, Source, source_text

MEMBER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ALL_ITEMS = "*"


class Level(IntEnum):
    """Higher value, higher level."""

    VILLAGE_POINT = 1
    CENTRE = 2
    LEAD_HOSPITAL = 3


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    level: Level
    parent: str | None = None
    consortium: str | None = None
    phone: str | None = None
    qc_items: frozenset[str] = Field(default_factory=frozenset)
    eqa_failed_items: frozenset[str] = Field(default_factory=frozenset)

    @model_validator(mode="before")
    @classmethod
    def _level_by_name(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("level"), str):
            data = {**data, "level": Level[data["level"]]}
        return data

    def passed_qc(self, item_code: str) -> bool:
        if item_code in self.eqa_failed_items:
            return False
        return ALL_ITEMS in self.qc_items or item_code in self.qc_items


class ConsortiumInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    recognition_mark: str = "HR"
    region_prefix: str = ""
    province: str | None = None
    city: str | None = None
    county: str | None = None


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    consortium: ConsortiumInfo
    members: tuple[Member, ...]

    @model_validator(mode="after")
    def _check(self) -> Registry:
        ids = [m.id for m in self.members]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate member ids: {sorted(dupes)}")
        for m in self.members:
            if not MEMBER_ID.match(m.id):
                raise ValueError(f"member id {m.id!r} is not usable in a topic name")
            if m.parent is not None and m.parent not in ids:
                raise ValueError(f"member {m.id} names unknown parent {m.parent}")
        return self

    @cached_property
    def by_id(self) -> dict[str, Member]:
        return {m.id: m for m in self.members}

    def get(self, member_id: str) -> Member | None:
        return self.by_id.get(member_id)

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.members]

    def consortium_of(self, member: Member) -> str:
        return member.consortium or self.consortium.id

    @property
    def mark(self) -> str:
        prefix = self.consortium.region_prefix
        return f"{prefix}{self.consortium.recognition_mark}"


def load_registry(path: Source | None = None) -> Registry:
    data = tomllib.loads(source_text(path, DATA_DIR / "members.toml"))
    members = [{**m, "qc_items": frozenset(m.get("qc_items", ())),
                "eqa_failed_items": frozenset(m.get("eqa_failed_items", ()))}
               for m in data.get("members", [])]
    return Registry(consortium=ConsortiumInfo(**data["consortium"]), members=tuple(members))
