"""The periodic sweep (hub.agents.state_expiry) through its own path, with the table writes
recorded as a changelog would hold them: patients left with nothing are deleted on their
partition, the others pruned or left as they are, the decision counts never touched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.agents import recognition, reporting, state_expiry
from hub.rules.recognition.index import IndexedResult
from hub.rules.recognition.stats import OrderRecord
from hub.runtime import table_sweep, table_writes
from hub.runtime.services import runtime
from tests.rules.test_reporting_rules import Hub, dx

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PARTITION = 5


class Changelog:
    def __init__(self) -> None:
        self.records: list[tuple[str, int, str, Any]] = []

    async def put(self, table: Any, partition: int | None, key: str, value: Any) -> None:
        assert partition is not None
        table.data[key] = value
        self.records.append((table.name, partition, key, value))

    async def delete(self, table: Any, partition: int, key: str) -> None:
        table.data.pop(key, None)
        self.records.append((table.name, partition, key, None))


@pytest.fixture
def changelog(monkeypatch: pytest.MonkeyPatch) -> Iterator[Changelog]:
    log = Changelog()
    tables = (recognition.result_index, recognition.order_ledger, reporting.cases)

    def owned_keys(table: Any) -> Iterator[tuple[int, str]]:
        return iter([(PARTITION, key) for key in list(table.data)])

    monkeypatch.setattr(table_writes, "put", log.put)
    monkeypatch.setattr(table_writes, "delete", log.delete)
    monkeypatch.setattr(table_sweep, "owned_keys", owned_keys)
    monkeypatch.setattr(table_sweep, "ready", lambda: True)
    monkeypatch.setattr(runtime, "now", lambda: NOW)
    for table in tables:
        table.data.clear()
    yield log
    for table in tables:
        table.data.clear()


def _result(code: str, days_ago: int) -> dict[str, Any]:
    return IndexedResult(f"e-{code}-{days_ago}", "lead", code, NOW - timedelta(days=days_ago),
                         True, value_numeric=4.0).to_json()


def _order(days_ago: int) -> list[Any]:
    return OrderRecord("chc-east", "K", NOW - timedelta(days=days_ago), True).to_json()


def test_the_sweep_deletes_the_expired_and_prunes_the_rest(changelog: Changelog) -> None:
    index, ledger = recognition.result_index.data, recognition.order_ledger.data
    index["gone"] = {"K": [_result("K", 38)]}  # potassium: 7 days + 30 of grace
    index["pruned"] = {"K": [_result("K", 38)], "HBSAG": [_result("HBSAG", 38)]}
    fresh = {"K": [_result("K", 2)]}
    index["fresh"] = fresh
    ledger["old-orders"] = {"chc-east|1": _order(91)}
    counts = {"orders": 12, "_applied": ["x"]}
    ledger["counts|chc-east|K|5"] = counts

    asyncio.run(state_expiry.sweep_state())

    written = {(table, key): value for table, _, key, value in changelog.records}
    assert {partition for _, partition, _, _ in changelog.records} == {PARTITION}
    assert written == {
        ("recognition-result-index", "gone"): None,
        ("recognition-result-index", "pruned"): {"HBSAG": [_result("HBSAG", 38)]},
        ("recognition-order-ledger", "old-orders"): None,
    }
    assert index["fresh"] is fresh and "gone" not in index
    assert ledger["counts|chc-east|K|5"] is counts


def test_cases_not_seen_for_the_retention_leave_the_table(changelog: Changelog) -> None:
    retention = timedelta(days=runtime.settings.reporting_case_retention_days)
    old, recent = Hub(), Hub()
    old.send(dx("lead", "A00.000", at=NOW - retention - timedelta(days=1)))
    recent.send(dx("lead", "A00.000", at=NOW - retention + timedelta(days=1)))
    [(old_key, old_state)] = old.states.items()
    [recent_state] = recent.states.values()
    reporting.cases.data[old_key] = old_state.dump()
    reporting.cases.data["recent"] = recent_state.dump()

    asyncio.run(state_expiry.sweep_state())

    assert changelog.records == [("reporting-cases", PARTITION, old_key, None)]
    assert "recent" in reporting.cases.data
