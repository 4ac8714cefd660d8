"""Retention: the recognition state expires (results past their window and grace, orders
past the ledger's days, patients left with nothing), its size is bounded, and every topic
and table says how long it keeps what it holds (docs/deployment.md, "Retention")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.retention import run as simulate
from hub.rules.recognition.expiry import kept_days, longest_kept_days, prune_index, prune_ledger
from hub.rules.recognition.index import IndexedResult, PatientIndex, add_result, results_for
from hub.rules.recognition.retraction import TOMBSTONES, Retraction, retract
from hub.rules.recognition.stats import OrderRecord
from hub.settings import HubSettings
from schemas.reference.items import load_item_catalogue
from schemas.reference.registry import load_registry
from schemas.topics import DAY_MS, Audience, TopicSpec, catalogue, member_topics

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = load_item_catalogue()
GRACE = 30
DAYS_OF = kept_days(CATALOGUE, GRACE)
LONGEST = longest_kept_days(CATALOGUE, GRACE)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _result(code: str, at: datetime, n: int = 1) -> IndexedResult:
    return IndexedResult(event_id=f"e-{code}-{n}", member_id="lead", item_code=code,
                         reported_at=at, qc_passed=True, value_numeric=4.1, order_ref=f"o{n}")


def _index(*results: IndexedResult) -> PatientIndex:
    index: PatientIndex = {}
    for result in results:
        index = add_result(index, result, keep=3, reported_after=T0 - timedelta(days=365))
    return index


def test_the_longest_kept_is_the_longest_window_plus_the_grace() -> None:
    assert DAYS_OF("K") == 7 + GRACE
    assert DAYS_OF("HBSAG") == 180 + GRACE
    assert LONGEST == 180 + GRACE
    assert DAYS_OF("TB-SMEAR") is None  # never recognised, never indexed


def test_a_write_prunes_every_item_of_the_patient_not_only_the_one_written() -> None:
    index = _index(_result("K", T0), _result("HBSAG", T0))
    later = T0 + timedelta(days=7 + GRACE + 1)
    index = add_result(index, _result("ALT", later), keep=3, reported_after=T0)
    pruned = prune_index(index, later, DAYS_OF, LONGEST)
    assert results_for(pruned, "K") == []  # past 7 days + grace
    assert [r.item_code for r in results_for(pruned, "HBSAG")] == ["HBSAG"]  # 180 + grace
    assert "K" not in pruned and set(pruned) == {"HBSAG", "ALT"}


def test_a_patient_with_every_result_expired_is_left_empty() -> None:
    index = _index(_result("K", T0), _result("HBSAG", T0))
    assert set(prune_index(index, T0 + timedelta(days=LONGEST), DAYS_OF, LONGEST)) == {"HBSAG"}
    assert prune_index(index, T0 + timedelta(days=LONGEST + 1), DAYS_OF, LONGEST) == {}


def test_nothing_expired_returns_the_same_value_so_nothing_is_written() -> None:
    index = _index(_result("K", T0), _result("ALT", T0))
    assert prune_index(index, T0 + timedelta(days=1), DAYS_OF, LONGEST) is index


def test_a_code_no_longer_in_the_catalogue_is_kept_the_longest_window() -> None:
    index = _index(_result("OLD-CODE", T0))
    assert prune_index(index, T0 + timedelta(days=LONGEST), DAYS_OF, LONGEST) is index
    assert prune_index(index, T0 + timedelta(days=LONGEST + 1), DAYS_OF, LONGEST) == {}


def test_a_tombstone_expires_at_its_keep_until() -> None:
    retraction = Retraction("lead", "K", "o9", None, T0, T0 + timedelta(days=7 + GRACE))
    index, _ = retract(_index(_result("HBSAG", T0)), retraction, T0)
    assert index[TOMBSTONES]
    still = prune_index(index, T0 + timedelta(days=7 + GRACE), DAYS_OF, LONGEST)
    assert still[TOMBSTONES]
    gone = prune_index(index, T0 + timedelta(days=7 + GRACE + 1), DAYS_OF, LONGEST)
    assert TOMBSTONES not in gone and "HBSAG" in gone


def test_orders_past_the_ledger_days_leave_the_ledger() -> None:
    old = OrderRecord("chc-east", "K", T0, recognisable=True).to_json()
    new = OrderRecord("chc-east", "ALT", T0 + timedelta(days=60), recognisable=False).to_json()
    ledger = {"chc-east|1": old, "chc-east|2": new}
    kept_after = T0 + timedelta(days=1)
    assert prune_ledger(ledger, kept_after) == {"chc-east|2": new}
    assert prune_ledger(ledger, T0) is ledger
    assert prune_ledger({"chc-east|1": old}, kept_after) == {}


def test_the_index_stops_growing_after_the_longest_window() -> None:
    figures = simulate(days=2 * LONGEST, visits_per_day=20, residents=20_000, sweep_days=10)
    assert figures.results_fed == 2 * LONGEST * 20 * 6
    first, last = ([s for s in figures.samples if s.day > LONGEST][i] for i in (0, -1))
    # the second window holds as much as the first did, not twice as much
    assert last.results <= 1.1 * first.results
    assert last.patients <= 1.1 * first.patients
    assert last.results < figures.results_fed / 3


def test_every_topic_deletes_after_a_stated_time_or_is_compacted() -> None:
    for spec in catalogue(load_registry().ids):
        config = spec.config
        assert config["cleanup.policy"] in {"delete", "compact", "compact,delete"}, spec.name
        if "delete" in config["cleanup.policy"]:
            assert int(config["retention.ms"]) >= DAY_MS, spec.name


def test_a_deleting_topic_without_its_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="retention"):
        TopicSpec("hub.new", "k", (), Audience.HUB_INTERNAL, 1)
    TopicSpec("hub.new-compacted", "k", (), Audience.HUB_INTERNAL, 1, cleanup_policy="compact")


def test_intake_remembers_event_ids_as_long_as_an_ingress_topic_keeps_them() -> None:
    """A replay of the whole ingress topic (a consumer group reset) is deduplicated."""
    ingress, _ = member_topics("lead")
    assert ingress.retention_ms is not None
    assert HubSettings().dedup_retention_days * DAY_MS >= ingress.retention_ms


def _retention_section() -> str:
    text = (ROOT / "docs" / "deployment.md").read_text()
    return text.split("\n## Retention", 1)[1].split("\n## ", 1)[0]


def test_the_deployment_guide_says_how_long_each_topic_and_table_keeps() -> None:
    section = _retention_section()
    named = {spec.name for spec in catalogue([])} | {"in.<member>", "out.<member>"}
    tables = set(re.findall(r'app\.Table\(\s*"([^"]+)"',
                            "".join(p.read_text() for p in (ROOT / "hub" / "agents").glob("*.py"))))
    assert {"recognition-result-index", "reporting-cases", "pharmacy-ledgers"} <= tables
    missing = sorted(name for name in named | tables if f"`{name}`" not in section)
    assert not missing, f"not in docs/deployment.md's Retention: {missing}"
