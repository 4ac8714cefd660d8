"""The consortium formulary: drugs, members' stock parameters and local drug codes.

`formulary.toml` holds the per level defaults, the exceptions and the local codes, and
names the drug catalogue (`formulary.csv`, with the par quantities per member level).
Everything is checked at load: a typo in a code or a member id fails loudly.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.reference import DATA_DIR, Source, source_text
from schemas.reference.registry import Level, Registry, load_registry

DRUG_CODE = re.compile(r"^[XZ][A-Z0-9]{22}$")
# Column prefix of the par quantities of each member level in the catalogue.
LEVEL_COLUMNS: dict[Level, str] = {
    Level.LEAD_HOSPITAL: "lead",
    Level.CENTRE: "centre",
    Level.VILLAGE_POINT: "village",
}
QUANTITIES = ("safety_stock", "max_stock", "min_purchase")
_QUANTITY_COLUMNS = {"safety_stock": "safety", "max_stock": "max", "min_purchase": "min_purchase"}


class SupplyMode(StrEnum):
    TOP_UP = "TOP_UP"
    REQUISITION = "REQUISITION"


class Drug(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=DRUG_CODE.pattern, description="National insurance drug code")
    name: str = Field(min_length=1)
    specification: str
    dosage_form: str
    unit: str = Field(min_length=1)
    essential: bool = Field(description="On the national essential medicines list")

    @property
    def is_chinese_patent_medicine(self) -> bool:
        return self.code.startswith("Z")


class StockParams(BaseModel):
    """One member's stock parameters for one drug (quantities in the drug's unit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_cycle_days: int = Field(default=7, ge=1)
    lead_time_days: float = Field(ge=0)
    safety_stock: float = Field(ge=0)
    max_stock: float = Field(gt=0)
    min_purchase: float = Field(ge=0)
    supply_mode: SupplyMode

    @model_validator(mode="after")
    def _consistent(self) -> StockParams:
        if self.max_stock < self.safety_stock:
            raise ValueError(
                f"max_stock {self.max_stock} is below safety_stock {self.safety_stock}"
            )
        return self


class Formulary:
    """The loaded formulary. Built by `load_formulary`; read-only afterwards."""

    def __init__(
        self,
        drugs: dict[str, Drug],
        params: dict[tuple[str, str], StockParams],
        local_codes: dict[tuple[str, str], str],
    ) -> None:
        self._drugs = drugs
        self._params = params
        self._local_codes = local_codes
        self._stockists: dict[str, list[str]] = {}
        for member_id, drug_code in sorted(params):
            self._stockists.setdefault(drug_code, []).append(member_id)

    @property
    def drugs(self) -> list[Drug]:
        return list(self._drugs.values())

    def get(self, drug_code: str) -> Drug | None:
        return self._drugs.get(drug_code)

    def resolve_local(self, member_id: str, local_code: str) -> Drug | None:
        code = self._local_codes.get((member_id, local_code))
        return self._drugs.get(code) if code is not None else None

    def stock_params(self, member_id: str, drug_code: str) -> StockParams | None:
        return self._params.get((member_id, drug_code))

    def stockists(self, drug_code: str) -> list[str]:
        """Members that stock the drug, sorted by id."""
        return list(self._stockists.get(drug_code, ()))


class _Level(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    order_cycle_days: int = 7
    lead_time_days: float
    supply_mode: SupplyMode


class _Override(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    member: str
    drug: str
    safety_stock: float | None = None
    max_stock: float | None = None
    min_purchase: float | None = None


def _read_catalogue(
    text: str, name: str
) -> tuple[dict[str, Drug], dict[str, dict[Level, dict[str, float]]]]:
    drugs: dict[str, Drug] = {}
    pars: dict[str, dict[Level, dict[str, float]]] = {}
    with io.StringIO(text, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                drug = Drug(
                    code=row["code"].strip(), name=row["name"].strip(),
                    specification=row["specification"].strip(),
                    dosage_form=row["dosage_form"].strip(), unit=row["unit"].strip(),
                    essential=row["essential"].strip().lower() == "true",
                )
            except ValueError as exc:
                raise ValueError(f"{name} line {line}: {exc}") from exc
            if drug.code in drugs:
                raise ValueError(f"{name} line {line}: drug {drug.code} listed twice")
            drugs[drug.code] = drug
            pars[drug.code] = {}
            for level, prefix in LEVEL_COLUMNS.items():
                cells = {q: row[f"{_QUANTITY_COLUMNS[q]}_{prefix}"].strip() for q in QUANTITIES}
                if all(cells.values()):
                    pars[drug.code][level] = {q: float(v) for q, v in cells.items()}
                elif any(cells.values()):
                    raise ValueError(
                        f"{name} line {line}: {prefix} quantities are partly empty"
                    )
    return drugs, pars


def _member_params(
    data: dict[str, Any], registry: Registry, drugs: dict[str, Drug],
    pars: dict[str, dict[Level, dict[str, float]]],
) -> dict[tuple[str, str], StockParams]:
    levels = {Level[name]: _Level(**fields) for name, fields in data.get("levels", {}).items()}
    members = [m for m in registry.members if registry.consortium_of(m) == registry.consortium.id]
    member_ids = {m.id for m in members}
    member_wide: dict[str, dict[str, Any]] = data.get("members", {})
    overrides = [_Override(**o) for o in data.get("overrides", [])]
    for member_id in member_wide:
        if member_id not in member_ids:
            raise ValueError(f"member exceptions name {member_id!r}, not a consortium member")
    by_pair: dict[tuple[str, str], dict[str, float]] = {}
    for o in overrides:
        if o.member not in member_ids or o.drug not in drugs:
            raise ValueError(f"override names unknown member or drug: {o.member}, {o.drug}")
        by_pair[(o.member, o.drug)] = o.model_dump(exclude={"member", "drug"}, exclude_none=True)
    params: dict[tuple[str, str], StockParams] = {}
    for member in members:
        if member.level not in levels:
            raise ValueError(f"no stock defaults for level {member.level.name}")
        defaults = {**levels[member.level].model_dump(), **member_wide.get(member.id, {})}
        for code in drugs:
            pair = (member.id, code)
            level_par = pars[code].get(member.level)
            if level_par is None and pair not in by_pair:
                continue
            quantities = {**(level_par or {}), **by_pair.get(pair, {})}
            try:
                params[pair] = StockParams(**defaults, **quantities)
            except ValueError as exc:
                raise ValueError(f"stock parameters of {member.id} for {code}: {exc}") from exc
    return params


def _local_codes(
    data: dict[str, Any], registry: Registry, drugs: dict[str, Drug]
) -> dict[tuple[str, str], str]:
    mapped: dict[tuple[str, str], str] = {}
    for member_id, codes in data.get("local_codes", {}).items():
        if registry.get(member_id) is None:
            raise ValueError(f"local codes of unknown member {member_id!r}")
        for local_code, drug_code in codes.items():
            if drug_code not in drugs:
                raise ValueError(f"{member_id} local code {local_code} maps to unknown {drug_code}")
            mapped[(member_id, local_code)] = drug_code
    return mapped


def catalogue_path(formulary_file: Path | None = None) -> Path:
    """The drug catalogue (CSV) a `formulary.toml` names, in the folder beside it."""
    path = formulary_file or DATA_DIR / "formulary.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return path.parent / str(data.get("catalogue", "formulary.csv"))


def load_formulary(
    path: Source | None = None, registry: Registry | None = None, catalogue: bytes | None = None
) -> Formulary:
    """Load `formulary.toml` (default: the one beside this module) and its catalogue; given
    as bytes, the catalogue's bytes come with it (`catalogue`)."""
    registry = registry or load_registry()
    data = tomllib.loads(source_text(path, DATA_DIR / "formulary.toml"))
    if isinstance(path, bytes):
        if catalogue is None:
            raise ValueError("a formulary given as bytes needs its catalogue's bytes")
        drugs, pars = _read_catalogue(catalogue.decode("utf-8"), "formulary.csv")
    else:
        csv_path = catalogue_path(path)
        drugs, pars = _read_catalogue(csv_path.read_text(encoding="utf-8"), csv_path.name)
    params = _member_params(data, registry, drugs, pars)
    return Formulary(drugs, params, _local_codes(data, registry, drugs))
