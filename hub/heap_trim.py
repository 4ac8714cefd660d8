"""Hand freed heap back to the system.

Recovering a table passes its whole changelog through the worker. The embedded broker
ignores fetch size limits, so one fetch can bring a whole changelog partition; the consumer
thread decodes it in its own glibc arena, and once freed those pages stay mapped. A worker
that had recovered a 1M-result index held 360 MB resident: under 50 MB of live Python
objects (tracemalloc), and one glibc arena of 160 MB with 0.1 MB in use (malloc_stats).

`malloc_trim` returns such pages, but only once they are free: trimming right after a
rebalance did nothing, because recovery and its fetch buffers end later, and the resident
size cannot tell freed memory from used. glibc's own count of free heap (`mallinfo2`) can:
a thread looks every `HUB_HEAP_TRIM_INTERVAL_S` and trims when the free heap has grown by
`HUB_HEAP_TRIM_FREE_MB` since the last trim. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub import metrics

log = logging.getLogger(__name__)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


@dataclass(frozen=True)
class Allocator:
    """The C library's free-heap count and trim (glibc 2.33+)."""

    free_bytes: Callable[[], int]
    trim: Callable[[], object]

    @classmethod
    def glibc(cls) -> Allocator | None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            libc = ctypes.CDLL(name)
            mallinfo2, malloc_trim = libc.mallinfo2, libc.malloc_trim
        except (OSError, AttributeError):
            return None
        mallinfo2.restype = _MallInfo2
        malloc_trim.argtypes = [ctypes.c_size_t]
        return cls(free_bytes=lambda: int(mallinfo2().fordblks), trim=lambda: malloc_trim(0))


class HeapTrimmer:
    """Trims when the free heap has grown by `free_growth_bytes` since the last trim (or
    since it was lowest: heap freed, reused and freed again counts again)."""

    def __init__(self, allocator: Allocator, free_growth_bytes: int,
                 resident: Callable[[], int] = resident_bytes) -> None:
        self.allocator = allocator
        self.free_growth_bytes = free_growth_bytes
        self._resident = resident
        self.free_at_last_trim = allocator.free_bytes()

    def check(self) -> int:
        """Trim if due; the resident bytes given back (0 when not due)."""
        free = self.allocator.free_bytes()
        metrics.HEAP_FREE_BYTES.set(free)
        if free - self.free_at_last_trim < self.free_growth_bytes:
            self.free_at_last_trim = min(self.free_at_last_trim, free)
            return 0
        before = self._resident()
        self.allocator.trim()
        after = self._resident()
        self.free_at_last_trim = free
        released = max(0, before - after)
        metrics.HEAP_TRIMS.inc()
        metrics.HEAP_TRIMMED_BYTES.inc(released)
        log.info("heap trimmed: %d MB free in the heap, resident %d MB -> %d MB",
                 free >> 20, before >> 20, after >> 20)
        return released


def start(interval_s: float, free_growth_mb: int) -> threading.Thread | None:
    """Check every `interval_s` in a daemon thread (None: disabled or not glibc)."""
    allocator = Allocator.glibc()
    if interval_s <= 0 or allocator is None:
        return None
    trimmer = HeapTrimmer(allocator, free_growth_mb << 20)

    def run() -> None:
        while True:
            time.sleep(interval_s)
            try:
                trimmer.check()
            except Exception:  # the trimmer must never take the worker down
                log.exception("heap trim failed")

    thread = threading.Thread(target=run, name="heap-trim", daemon=True)
    thread.start()
    return thread
