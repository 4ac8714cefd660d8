"""The heap trimmer: when it trims (scripted resident sizes), and that a trim really gives
freed heap back on this machine's C library."""

from __future__ import annotations

import pytest

from hub.metrics import REGISTRY
from hub.process.heap_trim import HeapTrimmer, glibc_malloc_trim, resident_bytes

MB = 1 << 20


def test_trims_when_grown_and_then_while_trims_pay() -> None:
    readings = iter(mb * MB for mb in (
        100,  # at start
        140,  # grown 40: not enough
        400, 380,  # grown 300 (recovering): trimmed, and what is left after
        520, 500,  # grown 140 since: trimmed
        505, 200,  # not grown, but the last trim paid 20: trimmed (the last buffers freed)
        210, 205,  # it paid 305: trimmed again, for 5
        215, 260,  # not worth it any more; grown 55: not enough
        275, 210,  # grown 70: trimmed
        212, 212,  # it paid 65: once more, for nothing
        213,  # nothing more to do
    ))
    trims: list[None] = []
    trimmer = HeapTrimmer(lambda: trims.append(None), 64 * MB, resident=lambda: next(readings))
    released = [trimmer.check() // MB for _ in range(10)]
    assert released == [0, 20, 20, 305, 5, 0, 0, 65, 0, 0]
    assert len(trims) == 6


def test_trims_when_the_resident_size_falls_after_a_peak() -> None:
    """Recovery unmaps its big buffers; the smaller ones freed with them stay mapped."""
    readings = iter(mb * MB for mb in (
        200,  # at start
        230, 250,  # grown 50: not enough
        220,  # fallen 30 from the highest: not enough
        150, 100,  # fallen 100 from the highest: trimmed
        101,  # paid 50 (more than a quarter of 64): once more ...
        101,  # ... for nothing
        110,
    ))
    trimmer = HeapTrimmer(lambda: None, 64 * MB, resident=lambda: next(readings))
    assert [trimmer.check() // MB for _ in range(6)] == [0, 0, 0, 50, 0, 0]


def test_a_trim_gives_freed_heap_back() -> None:
    trim = glibc_malloc_trim()
    if trim is None:
        pytest.skip("not glibc")
    blocks = [bytes(1000) + n.to_bytes(4, "big") for n in range(150_000)]
    kept = blocks[::50]  # live blocks spread through the heap keep it from shrinking
    trimmer = HeapTrimmer(trim, 16 * MB)
    trimmer.low = 0
    del blocks
    before = resident_bytes()
    timed_before = _trim_seconds_count()
    assert trimmer.check() > 50 * MB
    assert resident_bytes() < before - 50 * MB
    assert len(kept) == 3_000
    assert _trim_seconds_count() == timed_before + 1  # each trim's duration is recorded


def _trim_seconds_count() -> float:
    value = REGISTRY.get_sample_value("hub_heap_trim_seconds_count")
    return value or 0.0
