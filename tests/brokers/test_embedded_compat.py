"""The compatibility subset on the embedded broker (noida-db), whatever broker the rest of
the suite runs on: a machine with Python only runs the hub on it (`make run`, `make test`),
so the flows end to end, HL7 over MLLP and a worker riding out a broker outage are proven
there too. The tests are the Kafka suite's own, collected again here with this module's
`broker` fixture (the embedded one, one per test) in place of the suite's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.brokers import BaseBroker
from tests.conftest import start_broker
from tests.connectors.test_mllp_integration import test_acks_and_events_on_the_ingress_topic
from tests.faults.test_broker_outage import (
    outage,
    test_a_worker_rides_out_a_broker_outage_in_a_few_log_lines,
)
from tests.flows.test_intake_integration import test_intake_accepts_forwards_and_rejects
from tests.flows.test_pharmacy_integration import (
    test_shortage_transfer_order_close_and_duplicate_pack,
)
from tests.flows.test_recognition_integration import test_order_advice_decisions_and_counts
from tests.flows.test_reporting_integration import (
    test_cards_revisions_duplicates_and_late_reports_across_a_restart,
)

pytestmark = pytest.mark.integration
__all__ = [
    "outage",
    "test_a_worker_rides_out_a_broker_outage_in_a_few_log_lines",
    "test_acks_and_events_on_the_ingress_topic",
    "test_cards_revisions_duplicates_and_late_reports_across_a_restart",
    "test_intake_accepts_forwards_and_rejects",
    "test_order_advice_decisions_and_counts",
    "test_shortage_transfer_order_close_and_duplicate_pack",
]


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBroker]:
    """A fresh embedded broker for each test: the tests come from modules that each
    expect a broker of their own."""
    started = start_broker(tmp_path_factory.mktemp("embedded"), "embedded")
    assert started.kind == "embedded"
    yield started
    started.stop()
