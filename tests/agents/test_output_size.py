"""No output outgrows the broker's message limit: an output too large is refused as the
input's OUTPUT_TOO_LARGE (instead of MessageSizeTooLargeError from the producer, which
stopped intake once), and a dead letter leaves out an original whose sealed copy would not
fit. Without a broker: the agent base and the sender over a recording producer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.agents import base
from hub.runtime import emit
from schemas.codec import AvroCodec
from schemas.models import DeadLetter, Event
from tests.factories import lab_result

CODEC = AvroCodec()


class RecordingProducer:
    """Takes what aiokafka's producer would, and keeps it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> RecordingProducer:
    recording = RecordingProducer()
    monkeypatch.setattr(emit, "kafka_producer", lambda: recording)
    return recording


def test_an_output_over_the_limit_is_refused_and_the_input_dead_lettered(
    producer: RecordingProducer,
) -> None:
    event = lab_result("lead")
    oversized = event.model_copy(update={"value_text": "阳" * (emit.output_limit() // 3)})

    async def forwards_it(received: Event, meta: base.Meta) -> None:
        await emit.publish(emit.channels.results, "k", oversized)

    meta = base.Meta("in.lead", 1, 42, None, CODEC.encode(event))
    asyncio.run(base.handle("intake", forwards_it, meta))
    decoded = [CODEC.decode(value) for _, value in producer.sent]
    assert [type(e).__name__ for e in decoded] == ["DeadLetter", "Feedback"]
    letter = decoded[0]
    assert isinstance(letter, DeadLetter) and letter.reason_code == "OUTPUT_TOO_LARGE"
    assert "consortium.clinical.LabResult" in letter.reason
    assert all(len(value) <= emit.output_limit() for _, value in producer.sent)


def test_a_dead_letter_fits_whatever_the_size_of_its_original(
    producer: RecordingProducer,
) -> None:
    raw = b"\xc3\x01" + b"x" * (emit.output_limit() - 100)  # all the broker took in
    small = CODEC.encode(lab_result("lead"))

    async def letters() -> list[DeadLetter]:
        return [await emit.dead_letter(
            raw=original, topic="in.lead", partition=0, offset=n, reason_code="MALFORMED",
            reason="原因" * 5_000, agent="intake", topic_member="lead", event=None)
            for n, original in enumerate((raw, small))]

    large_letter, small_letter = asyncio.run(letters())
    assert large_letter.original_sealed == b"" and large_letter.original_size == len(raw)
    assert small_letter.original_sealed != b"" and small_letter.original_size == len(small)
    assert len(large_letter.reason) == emit.REASON_MAX_CHARS
    assert all(len(value) <= emit.output_limit() for _, value in producer.sent)
