"""The heap trimmer: when it trims (a fake allocator), and that a trim really gives freed
heap back on this machine's C library."""

from __future__ import annotations

import pytest

from hub.heap_trim import Allocator, HeapTrimmer, resident_bytes

MB = 1 << 20


class FakeAllocator:
    def __init__(self) -> None:
        self.free = 10 * MB
        self.trims = 0

    def allocator(self) -> Allocator:
        return Allocator(free_bytes=lambda: self.free, trim=self._trim)

    def _trim(self) -> None:
        self.trims += 1


def test_trims_once_the_free_heap_has_grown_and_not_again_for_the_same_free_heap() -> None:
    fake = FakeAllocator()
    resident = iter([500 * MB, 300 * MB, 300 * MB, 280 * MB])
    trimmer = HeapTrimmer(fake.allocator(), 64 * MB, resident=lambda: next(resident))
    fake.free = 60 * MB
    assert trimmer.check() == 0 and fake.trims == 0
    fake.free = 200 * MB
    assert trimmer.check() == 200 * MB and fake.trims == 1
    assert trimmer.check() == 0 and fake.trims == 1  # freed pages stay counted as free
    fake.free = 100 * MB  # reused ...
    assert trimmer.check() == 0
    fake.free = 180 * MB  # ... and freed again
    assert trimmer.check() == 20 * MB and fake.trims == 2


def test_a_trim_gives_freed_heap_back() -> None:
    allocator = Allocator.glibc()
    if allocator is None:
        pytest.skip("not glibc")
    blocks = [bytes(1000) + n.to_bytes(4, "big") for n in range(150_000)]
    kept = blocks[::50]  # live blocks spread through the heap keep it from shrinking
    del blocks
    trimmer = HeapTrimmer(allocator, 16 * MB)
    trimmer.free_at_last_trim = 0
    assert allocator.free_bytes() > 100 * MB
    before = resident_bytes()
    assert trimmer.check() > 50 * MB
    assert resident_bytes() < before - 50 * MB
    assert len(kept) == 3_000
