"""The single-object codec: header, round trips, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.codec import (
    HEADER_SIZE,
    MARKER,
    AvroCodec,
    FieldTooLongError,
    MalformedMessageError,
    SchemaStore,
    UnknownSchemaError,
    schema_fingerprint,
)
from schemas.models import ALL_EVENTS, LabResult
from tests.factories import diagnosis, lab_result, patient, stock_event

CODEC = AvroCodec()


def test_header_is_marker_and_little_endian_crc64_of_the_writer_schema() -> None:
    event = lab_result("lead")
    data = CODEC.encode(event)
    assert data[:2] == MARKER == b"\xc3\x01"
    expected = CODEC.store.current[LabResult.avro_name()].fingerprint
    assert data[2:HEADER_SIZE] == expected and len(expected) == 8


def test_fingerprint_matches_the_avro_specification_value() -> None:
    # The Rabin CRC-64-AVRO of the specification, computed here independently of fastavro.
    import fastavro

    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    canonical = b'{"name":"X","type":"record","fields":[{"name":"a","type":"long"}]}'
    fp = empty
    for byte in canonical:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "X", "fields": [{"name": "a", "type": "long"}]}
    )
    assert schema_fingerprint(parsed) == fp.to_bytes(8, "little")


@pytest.mark.parametrize(
    "event",
    [lab_result("lead"), diagnosis("chc-east", "A00.000", "霍乱"),
     stock_event("mch", "DISPENSE", "X" * 23, 2, trace_codes=["8" * 20])],
    ids=["lab", "diagnosis", "stock"],
)
def test_round_trip_keeps_every_field(event: object) -> None:
    assert CODEC.decode(CODEC.encode(event)) == event  # type: ignore[arg-type]


def test_every_event_has_a_distinct_fingerprint() -> None:
    fps = [CODEC.store.current[e.avro_name()].fingerprint for e in ALL_EVENTS]
    assert len(set(fps)) == len(ALL_EVENTS)


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        (b"", MalformedMessageError, "shorter"),
        (b"\x00\x01" + b"\x00" * 12, MalformedMessageError, "marker"),
        (MARKER + b"\xff" * 8 + b"\x00", UnknownSchemaError, "fingerprint"),
    ],
    ids=["empty", "no-marker", "unknown-fingerprint"],
)
def test_bad_headers_are_clear_errors(data: bytes, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        CODEC.decode(data)


def test_truncated_and_padded_bodies_are_malformed() -> None:
    data = CODEC.encode(lab_result("lead"))
    with pytest.raises(MalformedMessageError):
        CODEC.decode(data[:-5])
    with pytest.raises(MalformedMessageError, match="trailing"):
        CODEC.decode(data + b"\x00\x00")


def test_error_codes_are_stable_reason_codes() -> None:
    assert MalformedMessageError.code == "MALFORMED"
    assert UnknownSchemaError.code == "UNKNOWN_SCHEMA"


def test_message_from_an_older_schema_version_is_read_by_resolution(tmp_path: Path) -> None:
    """A v1 writer without a newer optional field is still readable by the current reader."""
    current = tmp_path / "current"
    released = tmp_path / "released"
    current.mkdir()
    released.mkdir()
    old = {"type": "record", "name": "Thing", "namespace": "t", "version": 1,
           "fields": [{"name": "a", "type": "long"}]}
    new = {**old, "version": 2,
           "fields": [*old["fields"], {"name": "b", "type": ["null", "string"], "default": None}]}
    (released / "t.Thing.avsc").write_text(json.dumps(old))
    (current / "t.Thing.avsc").write_text(json.dumps(new))
    store = SchemaStore(current, [released])
    old_writer = SchemaStore(released)
    codec = object.__new__(AvroCodec)
    codec.store = old_writer
    data = AvroCodec.encode_record(codec, "t.Thing", {"a": 7})
    codec.store = store
    assert AvroCodec.decode_record(codec, data) == ("t.Thing", {"a": 7, "b": None})


def test_a_text_over_its_bound_is_refused_naming_the_field_not_echoing_it() -> None:
    """What a tester sent: a 950 KB patient name (it crashed intake once sealed and
    forwarded past the broker's message limit). Avro has no lengths: the model's bound is
    checked on decoding, and the refusal names the field without the (personal) value."""
    name = "王" * (950 * 1024 // 3)
    event = lab_result("lead")
    raw = CODEC.encode(event.model_copy(update={"patient": patient(name="张三").model_copy(
        update={"name": name})}))
    with pytest.raises(FieldTooLongError) as info:
        CODEC.decode(raw)
    refused = info.value
    assert (refused.code, refused.field, refused.length, refused.limit) == (
        "FIELD_TOO_LONG", "patient.name", len(name), 100)
    assert "王王" not in str(refused) and refused.event_id == event.envelope.event_id


def test_a_validation_failure_names_the_field_without_its_value() -> None:
    event = stock_event("chc-east", "DISPENSE", "XJ01CAA040E001010101445", 2)
    raw = CODEC.encode(event.model_copy(update={"trace_codes": ["8" * 20] * 10_001}))
    with pytest.raises(FieldTooLongError, match="trace_codes"):
        CODEC.decode(raw)
    record = event.to_avro()
    record["envelope"]["member_id"] = "x" * 129
    with pytest.raises(FieldTooLongError, match=r"envelope\.member_id"):
        CODEC.decode(CODEC.encode_record(event.avro_name(), record))
