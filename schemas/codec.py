"""Avro single-object encoding: 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO
fingerprint (little-endian), then the Avro binary body.

Every message says which schema wrote it. The store knows the current schemas and every
released version, so a message written with an older version is read into the current
model by Avro schema resolution.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import ValidationError

from schemas.models import ALL_EVENTS, Event

MARKER = b"\xc3\x01"
HEADER_SIZE = 10
AVRO_DIR = Path(__file__).parent / "avro"
RELEASED_DIR = Path(__file__).parent / "released"


class CodecError(ValueError):
    """Base of everything the codec refuses; `code` is a stable reason code."""

    code = "UNDECODABLE"


class MalformedMessageError(CodecError):
    code = "MALFORMED"


class UnknownSchemaError(CodecError):
    code = "UNKNOWN_SCHEMA"


class FieldTooLongError(CodecError):
    """A text (or list) longer than its field's bound (schemas.models.base): Avro has no
    lengths, so the bound is checked here, and the answer names the field."""

    code = "FIELD_TOO_LONG"

    def __init__(self, schema: str, field: str, length: int, limit: int,
                 event_id: str | None = None) -> None:
        self.schema, self.field, self.length, self.limit = schema, field, length, limit
        self.event_id = event_id  # the envelope's, when it is within its own bound
        super().__init__(f"{schema}.{field} has length {length}, over its limit of {limit}")


_TOO_LONG = frozenset({"string_too_long", "bytes_too_long", "too_long"})


def _validation_failure(name: str, record: dict[str, Any], exc: ValidationError) -> CodecError:
    """What a model refused, naming fields and never echoing values (a value may be a
    patient's name, and a refusal travels to the operators' dead-letter topic)."""
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] in _TOO_LONG:
            loc = tuple(error["loc"])
            field = ".".join(str(part) for part in loc)
            event_id = record.get("envelope", {}).get("event_id")
            return FieldTooLongError(name, field, _length_at(record, loc),
                                     int(error.get("ctx", {}).get("max_length", 0)),
                                     event_id if field != "envelope.event_id" else None)
    where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return MalformedMessageError(f"{name} fails validation: {where}")


def _length_at(record: Any, loc: tuple[Any, ...]) -> int:
    for part in loc:
        try:
            record = record[part]
        except (KeyError, IndexError, TypeError):
            return -1
    return len(record) if isinstance(record, str | bytes | list) else -1


@dataclass(frozen=True, slots=True)
class WriterSchema:
    name: str
    version: int
    fingerprint: bytes
    parsed: Any


def schema_fingerprint(parsed: Any) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def _load(path: Path) -> tuple[dict[str, Any], Any]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    # Parsed once, with fastavro's hint, so readers and writers never re-parse it.
    return raw, fastavro.parse_schema(raw)


class SchemaStore:
    """Current schemas by name, and every known writer schema by fingerprint."""

    def __init__(self, current_dir: Path = AVRO_DIR, released_dirs: Iterable[Path] = ()) -> None:
        self.current: dict[str, WriterSchema] = {}
        self.by_fingerprint: dict[bytes, WriterSchema] = {}
        for path in sorted(current_dir.glob("*.avsc")):
            raw, parsed = _load(path)
            name = f"{raw['namespace']}.{raw['name']}"
            ws = WriterSchema(name, int(raw.get("version", 1)), schema_fingerprint(parsed), parsed)
            self.current[name] = ws
            self.by_fingerprint[ws.fingerprint] = ws
        for folder in released_dirs:
            for path in sorted(folder.glob("*.avsc")):
                raw, parsed = _load(path)
                name = f"{raw['namespace']}.{raw['name']}"
                version = int(raw.get("version", 1))
                ws = WriterSchema(name, version, schema_fingerprint(parsed), parsed)
                self.by_fingerprint.setdefault(ws.fingerprint, ws)

    @classmethod
    def default(cls) -> SchemaStore:
        released = sorted(p for p in RELEASED_DIR.iterdir() if p.is_dir())
        return cls(AVRO_DIR, released)


class AvroCodec:
    """Encodes events to single-object Avro and decodes them back to models."""

    def __init__(self, store: SchemaStore | None = None) -> None:
        self.store = store or SchemaStore.default()
        self.models: dict[str, type[Event]] = {m.avro_name(): m for m in ALL_EVENTS}
        missing = set(self.models) - set(self.store.current)
        if missing:
            raise RuntimeError(f"models without a generated schema: {sorted(missing)}")

    def encode(self, event: Event) -> bytes:
        return self.encode_record(event.avro_name(), event.to_avro())

    def encode_record(self, schema_name: str, record: dict[str, Any]) -> bytes:
        ws = self.store.current[schema_name]
        buf = io.BytesIO()
        buf.write(MARKER)
        buf.write(ws.fingerprint)
        fastavro.schemaless_writer(buf, ws.parsed, record)
        return buf.getvalue()

    def peek_schema(self, data: bytes) -> WriterSchema:
        """The writer schema named by a message's header, without decoding its body."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < HEADER_SIZE:
            raise MalformedMessageError("message is shorter than the single-object header")
        if data[:2] != MARKER:
            raise MalformedMessageError("message does not start with the Avro single-object marker")
        fp = bytes(data[2:HEADER_SIZE])
        ws = self.store.by_fingerprint.get(fp)
        if ws is None:
            raise UnknownSchemaError(f"no known schema has fingerprint {fp.hex()}")
        return ws

    def decode_record(self, data: bytes) -> tuple[str, dict[str, Any]]:
        ws = self.peek_schema(data)
        reader = self.store.current.get(ws.name)
        if reader is None:
            raise UnknownSchemaError(f"schema {ws.name} is no longer current")
        buf = io.BytesIO(data)
        buf.seek(HEADER_SIZE)
        # Resolution only when an older version wrote it: it costs several times a plain read.
        resolve_to = None if reader is ws else reader.parsed
        try:
            record = fastavro.schemaless_reader(buf, ws.parsed, resolve_to)
        except Exception as exc:  # fastavro raises many kinds on garbage
            raise MalformedMessageError(f"body does not decode as {ws.name}: {exc!r}") from exc
        if buf.tell() != len(data):
            raise MalformedMessageError(
                f"{len(data) - buf.tell()} trailing bytes after the {ws.name} body"
            )
        if not isinstance(record, dict):
            raise MalformedMessageError(f"body of {ws.name} is not a record")
        return ws.name, record

    def decode(self, data: bytes) -> Event:
        name, record = self.decode_record(data)
        try:
            return self.models[name].model_validate(record)
        except ValidationError as exc:
            raise _validation_failure(name, record, exc) from exc
        except ValueError as exc:
            raise MalformedMessageError(f"{name} fails validation: {exc}") from exc
