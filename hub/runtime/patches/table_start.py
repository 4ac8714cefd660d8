"""Start the table manager without Faust's fixed one-second pause.

Faust's `TableManager.on_start` sleeps a second before it finalizes the tables (their
changelog channels, recovery), so that tables an app defines while it is starting are
registered first; one added after that raises "Too late to add tables". The hub defines
every table when its agent modules are imported (`load_agents()`), before the worker
starts, so the pause only delayed each start: 1 s of the ~5 s until a worker is ready,
paid by every restart after a crash or deploy (and by the ~80 worker starts of the tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faust.tables.manager import TableManager

_ORIGINAL: Callable[..., Awaitable[None]] = TableManager.on_start


def install() -> None:
    """Finalize the tables and start their recovery at once (idempotent)."""

    async def on_start_at_once(self: Any) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    on_start_at_once.__doc__ = _ORIGINAL.__doc__
    TableManager.on_start = on_start_at_once  # type: ignore[method-assign]
