"""The periodic expiry of per-patient state (docs/deployment.md, "Retention").

Every `state_sweep_interval_s` the worker passes over the patients it owns in the result
index, the order ledger and the reporting cases, and drops what is past its retention:
results past their item's window plus the late-order grace, orders past
`recognition_ledger_days`, cases not seen for `reporting_case_retention_days`. A patient
left with nothing is deleted from the table and its changelog (a tombstone). The agents
prune a patient whenever they write it; this finds the patients who never come back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from hub.agents import recognition, reporting
from hub.rules.recognition.expiry import prune_index, prune_ledger
from hub.rules.reporting import PatientCases
from hub.runtime import table_sweep
from hub.runtime.app import app
from hub.runtime.services import runtime

log = logging.getLogger(__name__)

_settings = runtime.settings


def expire_index(key: str, value: Any) -> Any:
    pruned = prune_index(value, runtime.now(), recognition.kept_days_of,
                         recognition.longest_days)
    return pruned or None


def expire_ledger(key: str, value: Any) -> Any:
    kept_after = runtime.now() - timedelta(days=_settings.recognition_ledger_days)
    pruned = prune_ledger(value, kept_after)
    return pruned or None


def expire_cases(key: str, value: Any) -> Any:
    cutoff = runtime.now() - timedelta(days=_settings.reporting_case_retention_days)
    seen = [datetime.fromisoformat(case["last_seen"]) for case in value.get("cases", ())]
    if seen and min(seen) >= cutoff:
        return value  # the common case, without loading the whole state
    state = PatientCases.load(value)
    before = len(state.cases)
    state.prune(cutoff)
    if not state.cases:
        return None
    return value if len(state.cases) == before else state.dump()


def _is_counts(key: str) -> bool:
    return key.startswith(recognition.COUNTS_PREFIX)


async def sweep_state() -> None:
    if not table_sweep.ready():
        return
    index = await table_sweep.sweep(recognition.result_index, expire_index)
    ledger = await table_sweep.sweep(recognition.order_ledger, expire_ledger, skip=_is_counts)
    # Without reporting's lock (held, it would stall the reporting agents for the whole
    # pass): the sweep reads, rewrites and stores a key with nothing in between; a state
    # an agent read before and writes after only brings back cases the next pass drops.
    cases = await table_sweep.sweep(reporting.cases, expire_cases)
    for name, counts in (("index", index), ("ledger", ledger), ("cases", cases)):
        if counts.rewritten or counts.deleted:
            log.info("expired %s: %d patients seen, %d pruned, %d deleted", name,
                     counts.seen, counts.rewritten, counts.deleted)


app.timer(interval=_settings.state_sweep_interval_s)(sweep_state)
