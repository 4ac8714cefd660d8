"""`hub_events_in_total` counts every input, malformed bytes included, and labels it with
the member that sent it (the owner of the ingress topic), never the member an event
claims to be."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub import metrics
from schemas.codec import AvroCodec
from tests.factories import lab_result


def count(topic: str, member: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "hub_events_in_total", {"topic": topic, "member": member})
    return value or 0.0


def test_inputs_are_counted_for_the_topics_owner_readable_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.agents import base

    refused: list[str] = []

    async def no_send(meta: base.Meta, code: str, *args: Any) -> None:
        refused.append(code)

    async def accept(event: Any, meta: base.Meta) -> None:
        return None

    monkeypatch.setattr(base, "reject", no_send)
    forged = AvroCodec().encode(lab_result("lead"))  # claims lead, sent by vp-hexi
    before = {m: count("in.vp-hexi", m) for m in ("vp-hexi", "lead")}
    for raw in (forged, b"not an event at all", b"\xc3\x01garbage"):
        asyncio.run(base.handle("intake", accept, base.Meta("in.vp-hexi", 0, 1, None, raw)))
    assert count("in.vp-hexi", "vp-hexi") == before["vp-hexi"] + 3
    assert count("in.vp-hexi", "lead") == before["lead"]
    assert len(refused) == 2  # the two unreadable ones

    internal = count("hub.results", "chc-east")
    asyncio.run(base.handle("recognition-results", accept, base.Meta(
        "hub.results", 0, 1, None, AvroCodec().encode(lab_result("chc-east")))))
    assert count("hub.results", "chc-east") == internal + 1
