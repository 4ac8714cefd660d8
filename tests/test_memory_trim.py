"""Giving memory back after recovery: freed heap pages leave the process's resident set."""

from __future__ import annotations

from pathlib import Path

from hub.memory_trim import trim


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_trim_gives_freed_heap_pages_back() -> None:
    blocks = [bytearray(65_536) for _ in range(2_000)]  # ~130 MB of glibc heap
    del blocks[::2]  # half freed, in holes between live blocks: glibc keeps them mapped
    before = resident_mb()
    assert trim() is True
    assert before - resident_mb() > 30, (before, resident_mb())  # of ~65 MB freed
    del blocks
