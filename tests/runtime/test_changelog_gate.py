"""The changelog gate: a state write reaches the broker only after the outputs sent before
it, in the order written, without holding back the agent; a commit's flush waits for it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from hub.runtime.changelog_gate import ChangelogGate, ChangelogWriteFailed, Delivery


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes | None]] = []

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   partition: int | None = None) -> Delivery:
        assert partition is not None
        self.sent.append((topic, partition, key))
        done: Delivery = asyncio.get_running_loop().create_future()
        done.set_result(len(self.sent))
        return done


def acknowledgements(n: int) -> list[Delivery]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(n)]


def submit(gate: ChangelogGate, producer: RecordingProducer, key: bytes,
           after: list[Delivery], on_sent: Any = lambda done: None) -> None:
    gate.submit(producer, "hub-table-changelog", 0, key, b"v", after, on_sent)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_write_waits_for_the_outputs_before_it_and_keeps_its_place() -> None:
    async def scenario() -> None:
        gate, producer = ChangelogGate(), RecordingProducer()
        first_outputs, second_outputs = acknowledgements(1), acknowledgements(1)
        submit(gate, producer, b"count", first_outputs)
        submit(gate, producer, b"ledger", [])
        submit(gate, producer, b"next-count", second_outputs)
        second_outputs[0].set_result(None)  # the later output is acknowledged first
        await settle()
        assert producer.sent == []
        assert gate.pending == 3
        first_outputs[0].set_result(None)
        await gate.drained()
        assert [key for _, _, key in producer.sent] == [b"count", b"ledger", b"next-count"]
        assert gate.pending == 0

    asyncio.run(scenario())


def test_drained_waits_for_what_was_queued_before_it_only() -> None:
    async def scenario() -> None:
        gate, producer = ChangelogGate(), RecordingProducer()
        outputs = acknowledgements(1)
        submit(gate, producer, b"before", outputs)
        flush = asyncio.ensure_future(gate.drained())
        await settle()
        assert not flush.done()
        outputs[0].set_result(None)
        await settle()
        late = acknowledgements(1)
        submit(gate, producer, b"after", late)  # never acknowledged
        await asyncio.wait_for(flush, 1)
        assert [key for _, _, key in producer.sent] == [b"before"]
        late[0].cancel()

    asyncio.run(scenario())


def test_the_sent_callback_gets_the_delivery() -> None:
    async def scenario() -> None:
        gate, producer = ChangelogGate(), RecordingProducer()
        persisted: list[int] = []
        submit(gate, producer, b"k", [], lambda done: persisted.append(done.result()))
        await gate.drained()
        await settle()
        assert persisted == [1]

    asyncio.run(scenario())


def test_an_output_that_is_not_delivered_stops_every_later_write() -> None:
    async def scenario() -> None:
        gate, producer = ChangelogGate(), RecordingProducer()
        stopped: list[BaseException] = []

        async def stop(exc: BaseException) -> None:
            stopped.append(exc)

        gate.on_failure = stop
        outputs = acknowledgements(1)
        submit(gate, producer, b"marks-the-input-done", outputs)
        submit(gate, producer, b"later", [])
        outputs[0].set_exception(TimeoutError("leader gone past the delivery timeout"))
        with pytest.raises(ChangelogWriteFailed):
            await gate.drained()
        assert producer.sent == []
        assert [type(exc) for exc in stopped] == [TimeoutError]
        with pytest.raises(ChangelogWriteFailed):
            submit(gate, producer, b"refused", [])

    asyncio.run(scenario())


def test_faust_flushes_its_producer_only_after_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust flushes before it commits input offsets: a record still held by the gate must
    be handed to the producer first, or a committed input could lack its state."""
    from faust.transport.drivers.aiokafka import Producer

    from hub.runtime import changelog_gate

    unwrapped = getattr(Producer.flush, "__wrapped__", Producer.flush)
    monkeypatch.setattr(Producer, "flush", unwrapped)  # restored afterwards
    gate = ChangelogGate()
    changelog_gate.install(gate)
    flushed: list[str] = []

    async def buffer_flush() -> None:
        flushed.append("faust")

    faust_producer = SimpleNamespace(buffer=SimpleNamespace(flush=buffer_flush),
                                     _producer=None, _transaction_producers={})

    async def scenario() -> None:
        producer = RecordingProducer()
        outputs = acknowledgements(1)
        submit(gate, producer, b"state", outputs)
        flush = asyncio.ensure_future(Producer.flush(faust_producer))
        await settle()
        assert not flush.done() and flushed == []
        outputs[0].set_result(None)
        await asyncio.wait_for(flush, 1)
        assert [key for _, _, key in producer.sent] == [b"state"] and flushed == ["faust"]

    asyncio.run(scenario())
