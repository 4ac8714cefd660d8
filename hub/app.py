"""The Faust application: the composition root. Agents live in the modules listed in
AGENT_MODULES, imported by `load_agents()` when a worker starts."""

from __future__ import annotations

import importlib

import faust

from hub import codec
from hub.runtime import runtime

AGENT_MODULES: tuple[str, ...] = (
    "hub.agents.intake",
)
WEB_MODULES: tuple[str, ...] = (
    "hub.web.pages",
)

codec.register()
settings = runtime.settings

app = faust.App(
    settings.app_id,
    broker=settings.faust_broker_url(),
    store=settings.store,
    autodiscover=False,
    datadir=str(settings.data_dir / "faust" / settings.app_id),
    processing_guarantee="at_least_once",
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=max(20.0, settings.session_timeout * 3),
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_linger_ms=settings.producer_linger_ms,
    producer_compression_type=settings.producer_compression,
    topic_replication_factor=settings.replication_factor,
    table_cleanup_interval=60.0,
    web_enabled=True,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    web_host=settings.web_host,
)


def load_agents() -> None:
    """Import every agent and web module, in a fixed order."""
    for module in AGENT_MODULES + WEB_MODULES:
        importlib.import_module(module)
