"""Garbage collections are measured, by generation."""

from __future__ import annotations

import gc

from hub import metrics
from hub.process import gc_pauses


def _count(generation: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "hub_gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


def test_every_full_collection_is_measured() -> None:
    gc_pauses.install()
    gc_pauses.install()  # idempotent: one measurement per collection
    before = _count("2")
    gc.collect()
    gc.collect()
    assert _count("2") == before + 2
    total = metrics.REGISTRY.get_sample_value("hub_gc_pause_seconds_sum", {"generation": "2"})
    assert total is not None and total > 0
