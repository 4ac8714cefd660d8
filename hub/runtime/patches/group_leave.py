"""Leave the consumer group on a graceful stop, static membership or not.

Workers use static membership (KIP-345: `HUB_GROUP_INSTANCE_ID`), so a worker restarted
after a crash takes its own place back at once: on the embedded broker a dead dynamic
member is never expired and a restarted worker would wait for it forever. But a static
member does not send LeaveGroup when it stops, so its partitions stay with it until the
session times out (on the embedded broker: never). A worker that stops on purpose (scale
in, deploy, Ctrl-C) therefore leaves explicitly, and the others take over at once.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.group_coordinator import GroupCoordinator

_ORIGINAL: Callable[..., Awaitable[None]] = GroupCoordinator._maybe_leave_group


def install() -> None:
    """Make the coordinator's leave-on-close ignore static membership (idempotent)."""

    @functools.wraps(_ORIGINAL)
    async def leave_even_if_static(self: Any) -> None:
        self._group_instance_id = None
        await _ORIGINAL(self)

    GroupCoordinator._maybe_leave_group = leave_even_if_static
