"""Each pydantic model and its Avro schema agree field by field; the committed schemas are
what the generator makes; and every change stays backward compatible with the last release."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas import avro_gen
from schemas.models import ALL_EVENTS, INGRESS_EVENTS, Event
from schemas.models.base import Envelope, Record, UtcMillis

AVRO_DIR = Path(avro_gen.__file__).parent / "avro"
RELEASED = sorted((AVRO_DIR.parent / "released").iterdir())


def _unwrap_optional(annotation: Any) -> tuple[bool, Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return True, args[0]
    return False, annotation


def assert_agrees(model: type[Record], schema: dict[str, Any], named: dict[str, Any]) -> None:
    """Walk the Avro record and the model side by side."""
    assert schema["type"] == "record" and schema["name"] == model.__name__
    hints = typing.get_type_hints(model)
    avro_fields = {f["name"]: f for f in schema["fields"]}
    assert list(avro_fields) == list(model.model_fields), f"{model.__name__}: field names/order"
    for name, info in model.model_fields.items():
        field = avro_fields[name]
        optional, inner = _unwrap_optional(hints[name])
        avro_type = field["type"]
        if optional:
            assert isinstance(avro_type, list) and avro_type[0] == "null", f"{name} nullable"
            if not info.is_required():
                assert field.get("default", "missing") is None, f"{name} defaults to null"
            avro_type = avro_type[1]
        assert_type(inner, avro_type, named, f"{model.__name__}.{name}")
        if not info.is_required() and not optional:
            default = info.get_default(call_default_factory=True)
            expected = default.value if isinstance(default, StrEnum) else default
            assert field["default"] == expected, f"{name} default"
        if info.is_required():
            assert "default" not in field, f"{name} is required in both"


def assert_type(py: Any, avro_type: Any, named: dict[str, Any], where: str) -> None:
    if isinstance(avro_type, str) and avro_type in named:
        avro_type = named[avro_type]
    origin = typing.get_origin(py)
    if origin is list:
        assert avro_type["type"] == "array", where
        assert_type(typing.get_args(py)[0], avro_type["items"], named, where + "[]")
    elif origin is dict:
        assert avro_type["type"] == "map", where
        assert_type(typing.get_args(py)[1], avro_type["values"], named, where + "{}")
    elif py is datetime:
        assert avro_type == {"type": "long", "logicalType": "timestamp-millis"}, where
    elif py is date:
        assert avro_type == {"type": "int", "logicalType": "date"}, where
    elif isinstance(py, type) and issubclass(py, StrEnum):
        named[f"{avro_type['namespace']}.{avro_type['name']}"] = avro_type
        assert avro_type["type"] == "enum" and avro_type["name"] == py.__name__, where
        assert avro_type["symbols"] == [m.value for m in py], where
    elif isinstance(py, type) and issubclass(py, Record):
        named[f"{avro_type['namespace']}.{avro_type['name']}"] = avro_type
        assert_agrees(py, avro_type, named)
    else:
        primitives = {str: "string", int: "long", float: "double", bool: "boolean",
                      bytes: "bytes"}
        assert avro_type == primitives[py], f"{where}: {py} vs {avro_type}"


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.avro_name())
def test_model_and_committed_schema_agree_field_by_field(model: type[Event]) -> None:
    schema = json.loads((AVRO_DIR / f"{model.avro_name()}.avsc").read_text())
    assert schema["namespace"] == model.NAMESPACE
    assert schema["version"] == model.VERSION
    assert_agrees(model, schema, {})


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.avro_name())
def test_committed_schema_is_what_the_generator_makes(model: type[Event]) -> None:
    committed = (AVRO_DIR / f"{model.avro_name()}.avsc").read_text()
    assert committed == avro_gen.render(model), "run `python -m schemas.avro_gen`"


def test_no_stray_schema_files() -> None:
    assert {p.stem for p in AVRO_DIR.glob("*.avsc")} == {m.avro_name() for m in ALL_EVENTS}


def _compatible(reader: str, writer: str) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(reader), avro.schema.parse(writer)
    )
    return result.compatibility is SchemaCompatibilityType.compatible


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: p.name)
def test_current_schemas_read_everything_the_release_wrote(released: Path) -> None:
    for old in sorted(released.glob("*.avsc")):
        current = AVRO_DIR / old.name
        assert current.exists(), f"{old.name} was released and must not disappear"
        assert _compatible(current.read_text(), old.read_text()), (
            f"{old.name} is not backward compatible with {released.name}"
        )


def test_the_compatibility_check_catches_a_breaking_change() -> None:
    """Guard against a check that passes by doing nothing: a new required field breaks."""
    old = (RELEASED[-1] / "consortium.clinical.LabResult.avsc").read_text()
    schema = json.loads(old)
    schema["fields"].append({"name": "new_required", "type": "string"})
    assert not _compatible(json.dumps(schema), old)
    schema["fields"][-1] = {"name": "new_optional", "type": ["null", "string"], "default": None}
    assert _compatible(json.dumps(schema), old)


def _records(model: type[Record]) -> typing.Iterator[type[Record]]:
    yield model
    for info in model.model_fields.values():
        _, inner = _unwrap_optional(info.annotation)
        if isinstance(inner, type) and issubclass(inner, Record):
            yield from _records(inner)


def test_every_timestamp_field_holds_utc_milliseconds() -> None:
    """Avro keeps UTC milliseconds, so every datetime field must hold exactly that, or a
    value would change on its way through a topic (and a deterministic id with it)."""
    to_utc_millis = typing.get_args(UtcMillis)[1]
    models = {r for event in ALL_EVENTS for r in _records(event)}
    timestamp_fields = [(m, name, info) for m in models for name, info in m.model_fields.items()
                        if _unwrap_optional(info.annotation)[1] is datetime]
    assert len(timestamp_fields) >= 10
    for model, name, info in timestamp_fields:
        assert to_utc_millis in info.metadata, f"{model.__name__}.{name} is not UtcMillis"
    shanghai = timezone(timedelta(hours=8))
    for occurred_at in (datetime(2026, 11, 25, 8, 30, 1, 123_456),  # naive: taken as UTC
                        datetime(2026, 11, 25, 16, 30, 1, 123_456, tzinfo=shanghai)):
        envelope = Envelope(event_id="e", member_id="m", occurred_at=occurred_at,
                            schema_name="s", schema_version=1)
        assert envelope.occurred_at == datetime(2026, 11, 25, 8, 30, 1, 123_000, tzinfo=UTC)


def _unbounded_texts(model: type[Record], prefix: str = "") -> typing.Iterator[str]:
    hints = typing.get_type_hints(model, include_extras=True)
    for name in model.model_fields:
        annotation = hints[name]
        _, inner = _unwrap_optional(annotation)
        if typing.get_origin(inner) is list:
            inner = typing.get_args(inner)[0]
        bare = typing.get_args(inner)[0] if typing.get_origin(inner) is typing.Annotated \
            else inner
        if isinstance(bare, type) and issubclass(bare, Record):
            yield from _unbounded_texts(bare, f"{prefix}{name}.")
        elif bare in (str, bytes):
            info = model.model_fields[name]
            constraints = [*typing.get_args(inner)[1:], *info.metadata]
            if not any(getattr(c, "max_length", None) for c in constraints):
                yield prefix + name


@pytest.mark.parametrize("model", INGRESS_EVENTS, ids=lambda m: m.avro_name())
def test_every_text_a_member_writes_has_a_length_bound(model: type[Event]) -> None:
    """Avro strings have no length: without a bound a member's 950 KB name passes decoding
    and the hub's outputs outgrow the broker's message limit (schemas.models.base)."""
    assert list(_unbounded_texts(model)) == []
