"""Generates the Avro schemas in `schemas/avro/` from the pydantic models.

`python -m schemas.avro_gen` rewrites the files; a test checks that the committed files
equal what this produces, and another walks both field by field.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from schemas.models import ALL_EVENTS
from schemas.models.base import Record

AVRO_DIR = Path(__file__).parent / "avro"
ENUM_NAMESPACES = {
    "schemas.models.common": "consortium.common",
    "schemas.models.clinical": "consortium.clinical",
    "schemas.models.pharmacy": "consortium.pharmacy",
    "schemas.models.outputs": "consortium.outputs",
    "schemas.models.referral": "consortium.referral",
    "schemas.models.remote_read": "consortium.remote_read",
    "schemas.models.coordination": "consortium.coordination",
}
PRIMITIVES: dict[Any, Any] = {
    str: "string",
    int: "long",
    float: "double",
    bool: "boolean",
    bytes: "bytes",
    datetime: {"type": "long", "logicalType": "timestamp-millis"},
    date: {"type": "int", "logicalType": "date"},
}


def enum_name(enum: type[StrEnum]) -> str:
    return f"{ENUM_NAMESPACES[enum.__module__]}.{enum.__name__}"


def _avro_type(annotation: Any, defined: set[str]) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"only Optional unions are supported: {annotation}")
        return ["null", _avro_type(args[0], defined)]
    if origin is list:
        (item,) = typing.get_args(annotation)
        return {"type": "array", "items": _avro_type(item, defined)}
    if origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise TypeError("Avro maps have string keys")
        return {"type": "map", "values": _avro_type(value, defined)}
    if annotation in PRIMITIVES:
        return PRIMITIVES[annotation]
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        full = enum_name(annotation)
        if full in defined:
            return full
        defined.add(full)
        ns, _, name = full.rpartition(".")
        symbols = [m.value for m in annotation]
        return {"type": "enum", "name": name, "namespace": ns, "symbols": symbols}
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return record_schema(annotation, defined)
    raise TypeError(f"no Avro mapping for {annotation!r}")


def _default(info: FieldInfo) -> tuple[bool, Any]:
    if info.is_required():
        return False, None
    value = info.get_default(call_default_factory=True)
    if isinstance(value, StrEnum):
        value = value.value
    return True, value


def record_schema(model: type[Record], defined: set[str] | None = None) -> Any:
    defined = set() if defined is None else defined
    full = model.avro_name()
    if full in defined:
        return full
    defined.add(full)
    hints = typing.get_type_hints(model)
    fields = []
    for name, info in model.model_fields.items():
        field: dict[str, Any] = {"name": name, "type": _avro_type(hints[name], defined)}
        if info.description:
            field["doc"] = info.description
        has_default, value = _default(info)
        if has_default:
            field["default"] = value
        fields.append(field)
    schema: dict[str, Any] = {
        "type": "record",
        "name": model.__name__,
        "namespace": model.NAMESPACE,
    }
    doc = (model.__doc__ or "").strip().split("\n\n")[0]
    if doc:
        schema["doc"] = " ".join(doc.split())
    schema["fields"] = fields
    version = getattr(model, "VERSION", None)
    if version is not None:
        schema["version"] = version
    return schema


def schema_file(model: type[Record]) -> Path:
    return AVRO_DIR / f"{model.avro_name()}.avsc"


def render(model: type[Record]) -> str:
    return json.dumps(record_schema(model), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    AVRO_DIR.mkdir(exist_ok=True)
    for old in AVRO_DIR.glob("*.avsc"):
        old.unlink()
    for model in ALL_EVENTS:
        schema_file(model).write_text(render(model), encoding="utf-8")


if __name__ == "__main__":
    main()
