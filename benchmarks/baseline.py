"""The raw limit: a plain aiokafka loop that consumes, decodes, transforms, encodes,
produces and commits per batch, on the same broker as the hub. Its throughput is the
baseline; its publish-to-output latency at the flows' offered load is the floor one hop
can reach on this broker, measured by the same harness."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import fastavro
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.harness import CODEC, Latencies, offered_load, producer
from benchmarks.workload import Workload, utcnow
from hub.ops.topic_admin import create_topics
from schemas.codec import HEADER_SIZE, MARKER, WriterSchema
from schemas.models import LabResult
from schemas.reference.registry import load_registry
from schemas.topics import BASELINE_IN, BASELINE_OUT, ingress_topic


def transform(writer: WriterSchema, message: bytes) -> bytes:
    """The baseline's work on one message: decode, drop the ID number, encode (the Faust
    floor in benchmarks/faust_floor.py does exactly this too)."""

    def drop_id_number(value: Any) -> None:
        value["patient"]["id_number"] = None

    return _rewrite(writer, message, drop_id_number)


def answer(message: bytes) -> bytes:
    """The latency floor's work on a member's event: the same event back, with its own id
    as correlation id (as the hub's outputs carry their input's)."""

    def correlate(value: Any) -> None:
        value["envelope"]["correlation_id"] = value["envelope"]["event_id"]

    return _rewrite(CODEC.peek_schema(message), message, correlate)


def _rewrite(writer: WriterSchema, message: bytes, change: Callable[[Any], None]) -> bytes:
    body = io.BytesIO(message)
    body.seek(HEADER_SIZE)
    value: Any = fastavro.schemaless_reader(body, writer.parsed, None)
    change(value)
    out = io.BytesIO()
    out.write(MARKER + writer.fingerprint)
    fastavro.schemaless_writer(out, writer.parsed, value)
    return out.getvalue()


def preload_lab_results(bootstrap: str, count: int) -> None:
    create_topics(bootstrap, [BASELINE_IN, BASELINE_OUT])
    workload, sink = Workload(seed=3), producer(bootstrap)
    for _ in range(count):
        event = workload.lab_result(utcnow())
        sink.send(BASELINE_IN.name, key=event.envelope.event_id.encode(),
                  value=CODEC.encode(event))
    sink.flush()
    sink.close()


async def _passthrough(bootstrap: str, count: int) -> float:
    writer = CODEC.store.current[LabResult.avro_name()]
    consumer = AIOKafkaConsumer(BASELINE_IN.name, bootstrap_servers=bootstrap,
                                group_id="bench-baseline", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=2000)
    sink = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                            max_batch_size=512 * 1024)
    await consumer.start()
    await sink.start()
    done, started = 0, time.perf_counter()
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    await sink.send(BASELINE_OUT.name, transform(writer, record.value),
                                    key=record.key)
                    done += 1
            await sink.flush()
            await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await sink.stop()


def passthrough_rate(bootstrap: str, count: int) -> float:
    """Messages per second through the plain loop."""
    preload_lab_results(bootstrap, count)
    elapsed = asyncio.run(_passthrough(bootstrap, count))
    return count / elapsed


async def _relay(bootstrap: str, linger_ms: int, ready: ProcessEvent) -> None:
    """Members' ingress topics to the baseline output, each event answered with its id as
    correlation id (as the hub's outputs are), until the process is stopped."""
    consumer = AIOKafkaConsumer(*(ingress_topic(m) for m in load_registry().ids),
                                bootstrap_servers=bootstrap, group_id="bench-floor",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    sink = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms)
    await consumer.start()
    await sink.start()
    while True:
        batches = await consumer.getmany(timeout_ms=100, max_records=2000)
        if consumer.assignment():
            ready.set()
        for records in batches.values():
            for record in records:
                assert record.value is not None
                await sink.send(BASELINE_OUT.name, answer(record.value), key=record.key)
        if batches:
            await sink.flush()
            await consumer.commit()


def _run_relay(bootstrap: str, linger_ms: int, ready: ProcessEvent) -> None:
    asyncio.run(_relay(bootstrap, linger_ms, ready))


def passthrough_latency(bootstrap: str, rate: float, seconds: float,
                        linger_ms: int) -> Latencies:
    """Publish-to-output latency of the plain loop (in its own process, as a worker is)."""
    create_topics(bootstrap, [BASELINE_OUT])
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    relay = context.Process(target=_run_relay, args=(bootstrap, linger_ms, ready), daemon=True)
    relay.start()
    try:
        if not ready.wait(60):
            raise TimeoutError("the baseline relay did not join its group")
        return offered_load(bootstrap, Workload(seed=5).mix, rate, seconds,
                            [BASELINE_OUT.name], lambda event: True, utcnow)
    finally:
        relay.terminate()
        relay.join(10)
