"""The Avro single-object codec, registered with Faust as `avro-so`.

Agents consume raw bytes and decode them themselves (so a bad message is dead-lettered,
not dropped by Faust's deserializer); every send goes through this codec.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from hub.runtime.services import runtime
from schemas.models import Event

CODEC_NAME = "avro-so"


class AvroSingleObjectCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, Event):
            return runtime.codec.encode(obj)
        if isinstance(obj, bytes | bytearray):
            return bytes(obj)
        raise TypeError(f"{CODEC_NAME} encodes events, not {type(obj).__name__}")

    def _loads(self, s: bytes) -> Any:
        return runtime.codec.decode(s)


def register() -> None:
    codecs.register(CODEC_NAME, AvroSingleObjectCodec())
