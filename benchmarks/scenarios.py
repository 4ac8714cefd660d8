"""The scenarios of the benchmark table: one flow each, plus the realistic mix."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.harness import (
    PRODUCTION_COMMIT_INTERVAL,
    Latencies,
    Stage,
    messages_written,
    offered_load,
    preload,
    wait_drained,
)
from benchmarks.workload import Workload, utcnow
from hub.process.worker_process import WorkerProcess
from schemas.models import DiseaseReportCard, Event, Feedback, RecognitionAdvice, Shortage
from schemas.models.outputs import FeedbackStatus
from schemas.reference.registry import load_registry
from schemas.topics import CDC_REPORTS, PHARMACY_SHORTAGES, feedback_topic

FLOWS = ("intake", "recognition", "reporting", "pharmacy", "mix", "mix-two-hops")
# The mix on the layout before one hop less (2 partitions per member topic): every event
# is forwarded through an internal topic, as all were until 2026-12-06.
TWO_HOPS = "mix-two-hops"
TWO_HOP_MEMBER_PARTITIONS = 2


def _layout(flow: str) -> tuple[str, Stage]:
    """The workload a row runs and the stage it runs on: the two-hop row runs the mix on
    member topics of 2 partitions."""
    if flow == TWO_HOPS:
        return "mix", Stage(member_partitions=TWO_HOP_MEMBER_PARTITIONS)
    return flow, Stage()


@dataclass
class FlowFigures:
    flow: str
    events: int
    throughput: float
    ratio_to_baseline: float | None
    offered_rate: float
    latency_samples: int
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float
    # Kafka messages written per input event (ingress, internal hop if forwarded, feedback,
    # outputs, changelogs), counted on the broker after the drain
    messages_per_event: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_output(flow: str, event: Event) -> bool:
    if flow == "intake":
        return isinstance(event, Feedback) and event.status is FeedbackStatus.ACCEPTED
    kinds: dict[str, tuple[type[Event], ...]] = {
        "recognition": (RecognitionAdvice,),
        "reporting": (DiseaseReportCard,),
        "pharmacy": (Shortage,),
        "mix": (RecognitionAdvice, DiseaseReportCard, Shortage),
    }
    return isinstance(event, kinds[flow])


def _output_topics() -> list[str]:
    members = [feedback_topic(m) for m in load_registry().ids]
    return [*members, CDC_REPORTS.name, PHARMACY_SHORTAGES.name]


def _workload(flow: str, for_latency: bool) -> Workload:
    # Small opening stock for latency, so dispenses cross reorder points and raise shortages.
    return Workload(seed=11, opening_quantity=60.0 if for_latency else 100_000.0)


def _seed_events(flow: str, workload: Workload, count: int) -> list[Event]:
    now = utcnow()
    events: list[Event] = []
    if flow == "pharmacy":
        events.extend(workload.opening_counts(now))
    if flow == "mix":
        events.extend(workload.opening(now))
    if flow == "recognition":  # orders need results to recognise
        events.extend(workload.lab_result(now) for _ in range(count // 2))
    make = workload.generator(flow)
    events.extend(make(now) for _ in range(count))
    return events


def run_flow(flow: str, count: int, rate: float, seconds: float, baseline: float | None,
             ) -> FlowFigures:
    events, stage = _layout(flow)
    with stage:
        workload = _workload(flow, for_latency=False)
        loaded = preload(stage.bootstrap, _seed_events(events, workload, count))
        worker = stage.worker(f"{flow}-throughput")
        worker.start(timeout=120)
        elapsed = wait_drained(stage.bootstrap, f"bench-{flow}-throughput", timeout=1800)
        peak = worker.peak_rss_bytes()
        worker.stop()
        written = messages_written(stage.bootstrap)
    throughput = loaded / elapsed
    latencies, latency_peak = flow_latency(flow, rate, seconds)
    peak = max(peak, latency_peak)
    return FlowFigures(
        flow=flow, events=loaded, throughput=round(throughput, 1),
        ratio_to_baseline=round(throughput / baseline, 3) if baseline else None,
        offered_rate=rate, latency_samples=len(latencies.samples_ms),
        p50_ms=_round(latencies.p50), p99_ms=_round(latencies.p99),
        peak_rss_mb=round(peak / 2**20, 1),
        messages_per_event=round(written / loaded, 2),
    )


def flow_latency(flow: str, rate: float, seconds: float,
                 **env: str) -> tuple[Latencies, int]:
    """Publish-to-output latency of `flow` at `rate` offered, on a fresh broker and worker
    (with `env` settings; offsets committed as often as in production, not as in the
    throughput runs, which read the drain from commits), and the worker's peak RSS."""
    env.setdefault("HUB_COMMIT_INTERVAL", str(PRODUCTION_COMMIT_INTERVAL))
    events, stage = _layout(flow)
    with stage:
        workload = _workload(flow, for_latency=True)
        warmup = list(workload.opening(utcnow())) if events == "mix" else \
            list(workload.opening_counts(utcnow())) if events == "pharmacy" else []
        preload(stage.bootstrap, warmup)
        worker = stage.worker(f"{flow}-latency", **env)
        worker.start(timeout=120)
        latencies = offered_load(
            stage.bootstrap, workload.generator(events), rate, seconds, _output_topics(),
            lambda event: _is_output(events, event), utcnow,
        )
        peak = worker.peak_rss_bytes()
        worker.stop()
    return latencies, peak


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_workers(flow: str, count: int, workers: int) -> float:
    """Events/s of `workers` workers in one group, all running before the backlog is
    written, from the first event written until everything is committed."""
    with Stage() as stage:
        group = f"{flow}-x{workers}"
        procs = [stage.worker(f"{group}-{n}", HUB_APP_ID=f"bench-{group}")
                 for n in range(workers)]
        events, elapsed = timed_drain(stage.bootstrap, f"bench-{group}", procs, flow, count)
        for proc in procs:
            proc.stop()
    return round(events / elapsed, 1)


def timed_drain(bootstrap: str, group: str, procs: list[WorkerProcess], flow: str, count: int,
                on_settled: Callable[[], None] | None = None) -> tuple[int, float]:
    """Start `procs` (one group), wait until they have joined and settled (`on_settled`
    then), write `count` events of `flow` and wait until all are committed: the events
    written and the seconds from the first written to the last committed."""
    for proc in procs:
        proc.start(timeout=180)
    wait_drained(bootstrap, group, timeout=180)
    events = _seed_events(flow, _workload(flow, for_latency=False), count)
    if on_settled is not None:
        on_settled()
    started = time.monotonic()
    preload(bootstrap, events)
    wait_drained(bootstrap, group, timeout=1800)
    return len(events), time.monotonic() - started
