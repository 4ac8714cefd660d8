"""Reference data as published on the reference topic (schemas.topics.REFERENCE): one
record per file, keyed by the file's kind (its shipped name, e.g. `items.toml`), holding
the file's content and its version (content digest, when, by whom). The hub publishes;
the hub and every connector read the same versions. `ReferenceData` is one consistent set
of files loaded and checked: a set that does not load is refused whole, so a reader keeps
the set it has."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.reference import DATA_DIR
from schemas.reference.diseases import DiseaseCatalogue, load_disease_catalogue
from schemas.reference.formulary import Formulary, load_formulary
from schemas.reference.items import ItemCatalogue, load_item_catalogue
from schemas.reference.local_diagnosis_codes import (
    LocalDiagnosisCodes,
    load_local_diagnosis_codes,
)
from schemas.reference.registry import Registry, load_registry

# People-facing text is code's companion, released with it, not reference data.
NOT_PUBLISHED = frozenset({"messages.toml"})
PACKAGED_BY = "packaged"
MEMBERS, ITEMS, DISEASES = "members.toml", "items.toml", "diseases.toml"
FORMULARY, DRUG_CATALOGUE = "formulary.toml", "formulary.csv"
LOCAL_DIAGNOSIS_CODES = "local_diagnosis_codes.csv"


def packaged_files() -> dict[str, Path]:
    """Every reference file shipped with the code, by kind: each `*.toml` and `*.csv` beside
    the loaders (a file added there is published with the others)."""
    return {path.name: path for pattern in ("*.toml", "*.csv")
            for path in sorted(DATA_DIR.glob(pattern)) if path.name not in NOT_PUBLISHED}


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class PublishedFile(BaseModel):
    """One version of one reference file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(min_length=1, description="The file's shipped name: items.toml")
    content: str
    digest: str = Field(description="SHA-256 of the content's UTF-8 bytes")
    published_at: datetime | None = None
    published_by: str = PACKAGED_BY

    @model_validator(mode="after")
    def _digest_matches(self) -> PublishedFile:
        if digest_of(self.content_bytes) != self.digest:
            raise ValueError(f"{self.kind}: the digest does not match the content")
        return self

    @classmethod
    def of(cls, kind: str, content: bytes, published_by: str = PACKAGED_BY,
           published_at: datetime | None = None) -> PublishedFile:
        return cls(kind=kind, content=content.decode("utf-8"), digest=digest_of(content),
                   published_at=published_at, published_by=published_by)

    @property
    def content_bytes(self) -> bytes:
        return self.content.encode("utf-8")

    @property
    def version(self) -> str:
        """The short digest people compare (as git shows commits)."""
        return self.digest[:12]

    @property
    def key(self) -> bytes:
        return self.kind.encode("utf-8")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_bytes(cls, value: bytes) -> PublishedFile:
        return cls.model_validate(json.loads(value))


def _check_other(file: PublishedFile) -> None:
    """A kind no loader here knows (added beside them later) is at least well formed."""
    if file.kind.endswith(".toml"):
        tomllib.loads(file.content)
    elif not file.content.strip():
        raise ValueError("empty file")


@dataclass(frozen=True)
class ReferenceData:
    """One set of reference files, loaded and checked together (the formulary is checked
    against the registry, so a set is what must load, not a file)."""

    files: Mapping[str, PublishedFile]
    registry: Registry = field(repr=False)
    items: ItemCatalogue = field(repr=False)
    formulary: Formulary = field(repr=False)
    diagnoses: LocalDiagnosisCodes = field(repr=False)
    diseases: DiseaseCatalogue = field(repr=False)

    @classmethod
    def build(cls, files: Mapping[str, PublishedFile]) -> ReferenceData:
        """Load every file; ValueError naming the file that does not load."""
        missing = {MEMBERS, ITEMS, DISEASES, FORMULARY, DRUG_CATALOGUE,
                   LOCAL_DIAGNOSIS_CODES} - set(files)
        if missing:
            raise ValueError(f"reference files missing: {sorted(missing)}")
        current = MEMBERS
        try:
            registry = load_registry(files[MEMBERS].content_bytes)
            current = ITEMS
            items = load_item_catalogue(files[ITEMS].content_bytes)
            current = FORMULARY
            formulary = load_formulary(files[FORMULARY].content_bytes, registry,
                                       catalogue=files[DRUG_CATALOGUE].content_bytes)
            current = LOCAL_DIAGNOSIS_CODES
            diagnoses = load_local_diagnosis_codes(files[LOCAL_DIAGNOSIS_CODES].content_bytes)
            current = DISEASES
            diseases = load_disease_catalogue(files[DISEASES].content_bytes)
            for kind in sorted(set(files) - {MEMBERS, ITEMS, FORMULARY, DRUG_CATALOGUE,
                                             LOCAL_DIAGNOSIS_CODES, DISEASES}):
                current = kind
                _check_other(files[kind])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{current}: {exc}") from exc
        return cls(dict(files), registry, items, formulary, diagnoses, diseases)

    @classmethod
    def from_paths(cls, paths: Mapping[str, Path]) -> ReferenceData:
        return cls.build({kind: PublishedFile.of(kind, path.read_bytes())
                          for kind, path in paths.items()})

    @classmethod
    def packaged(cls) -> ReferenceData:
        return cls.from_paths(packaged_files())

    def with_file(self, file: PublishedFile) -> ReferenceData:
        """This set with one file replaced; ValueError if the new set does not load."""
        return self.build({**self.files, file.kind: file})

    def versions(self) -> dict[str, str]:
        return {kind: file.version for kind, file in sorted(self.files.items())}
