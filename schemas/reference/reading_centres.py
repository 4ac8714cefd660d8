"""Who reads what (remote diagnosis, domain.md section 6): for an examining member and a
modality, the reading member and its backup centre, from `reading_centres.toml` beside
the member registry. One route per (examining member, modality): two would make the
reader a matter of chance."""

from __future__ import annotations

import tomllib
from functools import cache, cached_property

from pydantic import BaseModel, ConfigDict, model_validator

from schemas.models.remote_read import ReadModality
from schemas.reference import DATA_DIR, Source, source_text


class ReadingRoute(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reading_member: str
    backup_member: str | None = None
    modalities: tuple[ReadModality, ...]
    for_members: tuple[str, ...]

    @model_validator(mode="after")
    def _check(self) -> ReadingRoute:
        if self.backup_member == self.reading_member:
            raise ValueError(f"{self.reading_member} cannot be its own backup")
        if self.reading_member in self.for_members:
            raise ValueError(f"{self.reading_member} reads for itself: no remote read")
        if not self.modalities or not self.for_members:
            raise ValueError("a route names at least one modality and one member")
        return self


class ReadingCentres(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    routes: tuple[ReadingRoute, ...]

    @model_validator(mode="after")
    def _one_route_each(self) -> ReadingCentres:
        seen: set[tuple[str, ReadModality]] = set()
        for route in self.routes:
            for member in route.for_members:
                for modality in route.modalities:
                    if (member, modality) in seen:
                        raise ValueError(f"two routes read {modality} for {member}")
                    seen.add((member, modality))
        return self

    @cached_property
    def _by_pair(self) -> dict[tuple[str, ReadModality], ReadingRoute]:
        return {(member, modality): route for route in self.routes
                for member in route.for_members for modality in route.modalities}

    def route_for(self, examining_member: str, modality: ReadModality) -> ReadingRoute | None:
        """Who reads `modality` for `examining_member` (None: nobody does)."""
        return self._by_pair.get((examining_member, modality))

    def members_named(self) -> set[str]:
        named: set[str] = set()
        for route in self.routes:
            named |= {route.reading_member, *route.for_members}
            if route.backup_member is not None:
                named.add(route.backup_member)
        return named


def load_reading_centres(source: Source | None = None) -> ReadingCentres:
    data = tomllib.loads(source_text(source, DATA_DIR / "reading_centres.toml"))
    return ReadingCentres.model_validate({"routes": data.get("routes", [])})


@cache
def shipped_reading_centres() -> ReadingCentres:
    return load_reading_centres()
