"""Nothing lost, nothing doubled: the same few thousand mixed events (results, orders,
diagnoses with notifiable ones, stock movements, referrals taken through their steps with
slot bookings: tests/faults/referral_inputs.py, a few bad inputs) go through a worker
that is never disturbed (on a broker of its own), through one killed with SIGKILL at
seeded random points and restarted, and through one joined and then left by a second
worker. Output ids derive from inputs, so every output topic holds exactly the reference
run's distinct ids (repeats of an id are allowed: at least once); the idempotent
consumers (CDC card folder, pharmacy board, member feedback reader) show each once; every
referral status is on both parties' out topics, each repeat of it the same message; and
the state (table changelogs replayed, recognition counts, the slots each referral holds)
is the reference run's.

Each patient is seen by one member and each drug moved by one member (after an opening
count everywhere), so the order in which the hub sees related events is the same in every
run and the reference is exact."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from schemas.codec import AvroCodec
from schemas.models.referral import ReferralStatus
from schemas.topics import (
    CDC_REPORTS,
    DEAD_LETTER,
    DIAGNOSES,
    ORDERS,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    REFERRALS,
    RESULTS,
    STOCK,
    feedback_topic,
)
from tests.conftest import WorkerProcess, start_broker
from tests.faults.mixed_workload import (
    CHUNKS,
    CRASH_STORES,
    ENV,
    OUTPUT_TOPICS,
    ROCKSDB_ENV,
    SEED,
    STORES,
    Inputs,
    assert_same,
    backlog,
    run,
)
from tests.faults.referral_inputs import EXPECTED_SLOTS, EXPECTED_STATES, slot_holders

pytestmark = pytest.mark.integration
CODEC = AvroCodec()


def test_reference_run_exercises_every_flow(mixed_reference: dict[str, Any]) -> None:
    """The comparison below means something: the stream produced every kind of output."""
    ids = mixed_reference["ids"]
    sizes = {topic: len(ids[topic]) for topic in OUTPUT_TOPICS}
    for spec in (CDC_REPORTS, PHARMACY_SHORTAGES, PHARMACY_ORDERS, DEAD_LETTER, RESULTS,
                 ORDERS, DIAGNOSES, STOCK, REFERRALS):
        assert sizes[spec.name] > 0, sizes
    cards = mixed_reference["cards"]
    assert len(cards) == len({c.rsplit("_", 1)[-1] for c in cards})
    assert all(mixed_reference["tables"].values()) and all(mixed_reference["stats"].values())


def test_reference_run_takes_the_referrals_through_their_steps(
    mixed_reference: dict[str, Any],
) -> None:
    """Each referral ends where its steps lead (the racing acceptance and the third
    member's cancel refused), each slot with its one holder, and each status on both
    parties' out topics."""
    tasks = mixed_reference["tables"]["referral-tasks"]
    assert {json.loads(k): v["task"]["business_status"] for k, v in tasks.items()} == \
        EXPECTED_STATES
    pools = mixed_reference["tables"]["referral-pools"]
    assert {slot: holder for (_, slot), holder in slot_holders(pools).items()} == \
        EXPECTED_SLOTS
    statuses = mixed_reference["referral_statuses"]
    for by_status in statuses.values():
        for copies in by_status.values():
            status = CODEC.decode(next(iter(copies)))
            assert isinstance(status, ReferralStatus)
            for party in (status.referrer_id, status.receiver_id):
                assert status.status_id in statuses[feedback_topic(party)]
    assert len(statuses[feedback_topic("lead")]) >= 2 * len(EXPECTED_STATES)


@pytest.mark.parametrize("store", CRASH_STORES)
def test_sigkill_at_random_points_loses_and_doubles_nothing(
    mixed_inputs: Inputs, mixed_reference: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory, store: str,
) -> None:
    """With RocksDB the restarted worker keeps its store: the writes a kill left without
    their changelog records are undone (hub/runtime/patches/store_rollback.py). Each store
    on a broker of its own (the outputs are compared topic by topic)."""
    broker = start_broker(tmp_path_factory.mktemp(f"sigkill-broker-{store}"))
    worker = WorkerProcess(broker.bootstrap, tmp_path_factory.mktemp(f"sigkill-{store}"),
                           STORES[store])
    rng = random.Random(SEED)
    kill_after = set(rng.sample(range(CHUNKS), 4))
    work_at_kill: list[int] = []

    def maybe_kill(chunk: int) -> None:
        if chunk in kill_after:
            time.sleep(rng.uniform(0.05, 0.5))
            work_at_kill.append(sum(backlog(broker.bootstrap, ENV["HUB_APP_ID"]).values()))
            worker.kill()
            worker.start()

    try:
        worker.start()
        got = run(broker.bootstrap, mixed_inputs, worker, maybe_kill)
    finally:
        worker.kill()
        broker.stop()
    assert len(work_at_kill) == 4 and sum(n > 0 for n in work_at_kill) >= 3, work_at_kill
    assert_same(mixed_reference, got)
    # the kills did make the worker repeat outputs (at least once), and the above held
    assert any(n > 1 for counts in got["counts"].values() for n in counts.values())


def test_a_second_worker_joining_and_leaving_changes_nothing(
    mixed_inputs: Inputs, mixed_reference: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
) -> None:
    embedded = start_broker(tmp_path_factory.mktemp("rebalance-broker"))
    # on the production store: a partition handed back is reopened with its local state
    first = WorkerProcess(embedded.bootstrap, tmp_path_factory.mktemp("first"), ROCKSDB_ENV)
    second = WorkerProcess(embedded.bootstrap, tmp_path_factory.mktemp("second"), ROCKSDB_ENV)

    def join_then_leave(chunk: int) -> None:
        if chunk == 1:
            second.start()
        elif chunk == CHUNKS - 3:
            second.stop()

    try:
        first.start()
        got = run(embedded.bootstrap, mixed_inputs, first, join_then_leave)
    finally:
        first.kill()
        second.kill()
        embedded.stop()
    assert_same(mixed_reference, got)
