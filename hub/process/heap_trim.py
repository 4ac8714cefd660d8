"""Hand freed heap back to the system after a large recovery.

Recovering a table passes its whole changelog through the worker. The embedded broker
ignores fetch size limits, so one fetch can bring a whole changelog partition; the consumer
thread decodes it in its own glibc arena, and once freed those pages stay mapped. A worker
that had recovered a 1M-result index held 360 MB resident: under 50 MB of live Python
objects (tracemalloc), and one glibc arena of 160 MB with 0.1 MB in use (malloc_stats).
`malloc_trim` returns such pages, but only once they are free: trimming right after a
rebalance did nothing, since recovery and its fetch buffers end later.

So a thread reads the resident size every `HUB_HEAP_TRIM_INTERVAL_S` and trims when it
has grown by `HUB_HEAP_TRIM_GROWTH_MB` since the last trim (or since it was lowest), or
fallen that much from its highest (big buffers were unmapped: the smaller ones freed with
them are not), and goes on while a trim gives back a quarter of that. (Waiting for the
growth to stop first missed the end of recovery: serving a freshly recovered index grows
too, as RocksDB's caches fill. Without the fall, a 10M-result recovery ended at 1.8 GB.)
Asking glibc how much heap is free (`mallinfo2`) would be the direct signal, but it walks
every free chunk under the arena's lock: 65 ms with 300k of them, while the event loop
waits for its next allocation. A steady worker reads one /proc file and never trims.
glibc only; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable

from hub import metrics

log = logging.getLogger(__name__)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def glibc_malloc_trim() -> Callable[[], object] | None:
    """`malloc_trim(0)` when the C library has it (glibc), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        malloc_trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    malloc_trim.argtypes = [ctypes.c_size_t]
    return lambda: malloc_trim(0)


class HeapTrimmer:
    """Trims when the resident size has moved `growth_bytes` from what the last trim left
    (up from the lowest reading since, or down from the highest), and while trims pay."""

    def __init__(self, trim: Callable[[], object], growth_bytes: int,
                 resident: Callable[[], int] = resident_bytes) -> None:
        self._trim = trim
        self._resident = resident
        self.growth_bytes = growth_bytes
        self.low = self.high = resident()
        self.last_released = 0

    def check(self) -> int:
        """Trim if due; the resident bytes given back (0 when not due)."""
        now = self._resident()
        moved = max(now - self.low, self.high - now) >= self.growth_bytes
        if not moved and self.last_released < self.growth_bytes // 4:
            self.low, self.high = min(self.low, now), max(self.high, now)
            return 0
        started = time.perf_counter()
        self._trim()
        took = time.perf_counter() - started
        after = self._resident()
        self.low = self.high = after
        self.last_released = released = max(0, now - after)
        metrics.HEAP_TRIMS.inc()
        metrics.HEAP_TRIM_SECONDS.observe(took)
        metrics.HEAP_TRIMMED_BYTES.inc(released)
        log.info("heap trimmed: resident %d MB -> %d MB in %.0f ms", now >> 20, after >> 20,
                 took * 1000)
        return released


def start(interval_s: float, growth_mb: int) -> threading.Thread | None:
    """Check every `interval_s` in a daemon thread (None: disabled or not glibc)."""
    trim = glibc_malloc_trim()
    if interval_s <= 0 or trim is None:
        return None
    trimmer = HeapTrimmer(trim, growth_mb << 20)

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
