"""The ceiling of the Faust design: bare agents of the hub's own Faust app (its settings,
fetch timings and send path, none of its agents) doing exactly the plain loop's work.
Beside the plain aiokafka loop, it says how much of the raw limit any one Faust hop can
reach here, in throughput and in latency; the hub's flows take one such hop (two for an
event forwarded through an internal topic).

Two agents: one drains the baseline's input topic with the baseline's `transform` (for
throughput), one answers members' ingress events with the latency floor's `answer`.
`python -m benchmarks.faust_floor` runs that worker (HUB_* settings from the
environment); `run()` starts it on a fresh broker and measures it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from benchmarks.baseline import answer, preload_lab_results, transform
from benchmarks.harness import CODEC, WORKER_ENV, Latencies, Stage, offered_load
from benchmarks.workload import Workload, utcnow
from hub.ops.topic_admin import backlog
from hub.process.worker_process import WorkerProcess
from schemas.models import LabResult
from schemas.reference.registry import load_registry
from schemas.topics import BASELINE_IN, BASELINE_OUT, ingress_topic

APP_ID = "bench-faust-floor"


@dataclass(frozen=True)
class FloorFigures:
    throughput: float
    latency: Latencies


def _run_worker() -> None:
    from faust.types import StreamT, TopicT

    from hub.cli import run_faust_worker, use_event_loop
    from hub.runtime.emit import kafka_producer

    use_event_loop()
    from hub.runtime.app import app  # the hub's App, without load_agents(): no hub agent runs
    from hub.web import pages  # noqa: F401  # /health, which WorkerProcess waits for

    writer = CODEC.store.current[LabResult.avro_name()]

    def hop(work: Callable[[bytes], bytes]) -> Callable[[StreamT[bytes]], Awaitable[None]]:
        async def relay(stream: StreamT[bytes]) -> None:
            async for event in stream.events():
                producer = kafka_producer()
                assert producer is not None and isinstance(event.value, bytes)
                key = event.key if isinstance(event.key, bytes) else None
                await producer.send(BASELINE_OUT.name, work(event.value), key=key)
        return relay

    def raw_topic(*names: str) -> TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")

    ingress = [ingress_topic(m) for m in load_registry().ids]
    app.agent(raw_topic(BASELINE_IN.name), name="floor-throughput")(
        hop(lambda message: transform(writer, message)))
    app.agent(raw_topic(*ingress), name="floor-latency")(hop(answer))
    run_faust_worker(app)


def run(count: int, rate: float, seconds: float, timeout: float = 600.0) -> FloorFigures:
    """On a fresh broker: messages per second the floor agent commits draining `count`
    lab results, timed from its first commit to its last (so the worker's start and group
    join are left out), then one hop's publish-to-output latency at `rate`."""
    with Stage() as stage:
        preload_lab_results(stage.bootstrap, count)
        worker = WorkerProcess(stage.bootstrap, stage.root / "faust-floor",
                               {**WORKER_ENV, "HUB_APP_ID": APP_ID},
                               module="benchmarks.faust_floor")
        worker.start(timeout=120)
        try:
            throughput = _drain_rate(stage.bootstrap, count, worker, time.monotonic() + timeout)
            latency = offered_load(stage.bootstrap, Workload(seed=5).mix, rate, seconds,
                                   [BASELINE_OUT.name], lambda event: True, utcnow)
        finally:
            worker.stop()
    return FloorFigures(throughput, latency)


def _drain_rate(bootstrap: str, loaded: int, worker: WorkerProcess, deadline: float) -> float:
    first: tuple[float, int] | None = None
    while time.monotonic() < deadline:
        if not worker.running():
            raise RuntimeError(f"the floor worker exited:\n{worker.log_tail()}")
        left = sum(backlog(bootstrap, APP_ID, [BASELINE_IN.name]).values())
        now = time.monotonic()
        if first is None and left < loaded:
            first = (now, left)
        elif first is not None and left == 0:
            return first[1] / (now - first[0])
        time.sleep(0.1)
    raise TimeoutError("the floor worker did not drain in time")


if __name__ == "__main__":
    _run_worker()
