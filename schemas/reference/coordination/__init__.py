"""The configuration files of the coordination flows (`<flow>.toml` beside this module):
each flow's steps, who may take them, a deadline per state and priority, escalation and
the hub's own timed steps. Loaded here as parsed TOML; hub/rules/coordination/config.py
checks it and builds the machine's configuration."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from schemas.reference import Source, source_text

COORDINATION_DIR = Path(__file__).parent


def flow_file(flow: str) -> Path:
    return COORDINATION_DIR / f"{flow}.toml"


def shipped_flows() -> list[str]:
    return sorted(path.stem for path in COORDINATION_DIR.glob("*.toml"))


def load_flow_table(flow: str, source: Source | None = None) -> dict[str, Any]:
    """The parsed configuration file of `flow` (shipped, or given as a path or bytes)."""
    if source is None and not flow_file(flow).is_file():
        raise ValueError(f"no coordination flow {flow!r} (shipped: {shipped_flows()})")
    return tomllib.loads(source_text(source, flow_file(flow)))
