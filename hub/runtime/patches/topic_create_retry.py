"""Faust creates its own topics (changelogs, the assignor's) when a worker starts, by
asking the first broker it knows for the controller and sending the request there. With a
broker of the cluster just killed, that broker stays in the metadata until the controller
fences it (seconds), so the request goes to a dead node, `NodeNotReadyError` escapes, and
the worker exits at start: seen on the three-node cluster (tests/faults/test_cluster_faults.py,
a worker restarted right after the leading broker was SIGKILLed). On a single broker or
the embedded one this cannot happen.

Here a failed attempt is retried with fresh metadata, once a second, for up to
`RETRY_FOR_S`; what still fails then is raised as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from faust.transport.drivers.aiokafka import Transport

log = logging.getLogger(__name__)
RETRY_FOR_S = 60.0
RETRIED = (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError, RuntimeError)

_ORIGINAL: Callable[..., Awaitable[None]] = Transport._really_create_topic


def install() -> None:
    """Retry Faust's topic creation on an unreachable node (idempotent)."""

    @functools.wraps(_ORIGINAL)
    async def create_retrying(self: Any, owner: Any, client: Any, topic: str,
                              *args: Any, **kwargs: Any) -> None:
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                return await _ORIGINAL(self, owner, client, topic, *args, **kwargs)
            except RETRIED as exc:  # RuntimeError: Faust's "Invalid controller"
                if time.monotonic() > deadline or owner.should_stop:
                    raise
                log.warning("creating topic %s failed (%r); again with fresh metadata",
                            topic, exc)
                await asyncio.sleep(1.0)
                await client.force_metadata_update()

    Transport._really_create_topic = create_retrying  # type: ignore[method-assign]
