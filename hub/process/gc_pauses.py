"""The garbage collector's pauses, measured: a full collection walks every object the
worker holds (in-memory tables included) while every agent waits, so it shows in the
latency tail. `hub_gc_pause_seconds{generation}` says how often and how long."""

from __future__ import annotations

import gc
import time
from typing import Any

from hub import metrics

_started: list[float] = []


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        paused = time.perf_counter() - _started.pop()
        metrics.GC_PAUSE_SECONDS.labels(str(info.get("generation", "?"))).observe(paused)


def install() -> None:
    """Measure every collection from now on (idempotent)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)
