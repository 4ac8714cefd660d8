"""The fault runs (crashes, a cluster losing brokers, a broker outage): each test here is
marked `faults`, so `pytest -m "not faults"` skips these slow runs and `pytest -m faults`
runs only them. Their mixed workload and its undisturbed run are shared by the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WorkerProcess, start_broker
from tests.faults.mixed_workload import ENV, Inputs, make_inputs, run

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this folder (before `-m` selects)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def mixed_inputs() -> Inputs:
    """The mixed workload of the crash and cluster-fault tests (mixed_workload.py)."""
    return make_inputs()


@pytest.fixture(scope="session")
def mixed_reference(mixed_inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """What the mixed workload gives through a worker nobody disturbs, on a broker of its
    own: what every disturbed run is compared with."""
    started = start_broker(tmp_path_factory.mktemp("reference-broker"))
    worker = WorkerProcess(started.bootstrap, tmp_path_factory.mktemp("reference"), ENV)
    try:
        worker.start()
        return run(started.bootstrap, mixed_inputs, worker, lambda i: None)
    finally:
        worker.kill()
        started.stop()
