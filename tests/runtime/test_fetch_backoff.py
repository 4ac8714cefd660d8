"""The fetcher's timings the hub sets (hub/runtime/patches/fetch_backoff.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.consumer.fetcher import Fetcher

from hub.runtime.patches import fetch_backoff


def test_fetchers_get_the_prefetch_backoff_and_the_empty_fetch_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Fetcher, "__init__", Fetcher.__init__)  # restored afterwards
    monkeypatch.setattr(Fetcher, "_proc_fetch_request", Fetcher._proc_fetch_request)
    given: dict[str, Any] = {}
    monkeypatch.setattr(fetch_backoff, "_ORIGINAL_INIT",
                        lambda self, *args, **kwargs: given.update(kwargs))
    fetch_backoff.install(5.0, 10.0)
    Fetcher.__init__(object.__new__(Fetcher), None, None, fetch_max_wait_ms=500)
    assert given == {"prefetch_backoff": 0.01, "fetch_max_wait_ms": 500}
    assert Fetcher._proc_fetch_request.__wrapped__ is fetch_backoff._ORIGINAL_FETCH

    given.clear()
    fetch_backoff.install(0, 10.0, 20)  # Faust asks for 1,500 ms: Kafka holds it 20
    Fetcher.__init__(object.__new__(Fetcher), None, None, fetch_max_wait_ms=1500)
    assert given == {"prefetch_backoff": 0.01, "fetch_max_wait_ms": 20}

    given.clear()
    fetch_backoff.install(0, None)  # aiokafka's own behaviour back
    Fetcher.__init__(object.__new__(Fetcher), None, None)
    assert given == {}
    assert Fetcher._proc_fetch_request is fetch_backoff._ORIGINAL_FETCH
