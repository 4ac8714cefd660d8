"""Nothing lost, nothing doubled: the same few thousand mixed events (results, orders,
diagnoses with notifiable ones, stock movements, referrals taken through their steps with
slot bookings: tests/faults/referral_inputs.py, a few bad inputs) go through a worker
that is never disturbed (on a broker of its own), through one killed with SIGKILL at
seeded random points and restarted, and through one joined and then left by a second
worker. Output ids derive from inputs, so every output topic holds exactly the reference
run's distinct ids (repeats of an id are allowed: at least once); the idempotent
consumers (CDC card folder, pharmacy board, member feedback reader) show each once; every
referral status, read status and critical-value status is on both members' out topics,
each repeat of it the same message, and each final read report on hub.results once or
repeated identically (tests/faults/remote_read_inputs.py); and
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
from schemas.models.remote_read import CriticalValueStatus, ReadStatus
from schemas.topics import (
    CDC_REPORTS,
    DEAD_LETTER,
    DIAGNOSES,
    ORDERS,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    REFERRALS,
    REMOTE_READS,
    RESULTS,
    STOCK,
    feedback_topic,
)
from tests.conftest import WorkerProcess, start_broker
from tests.faults import remote_read_inputs as reads
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
                 ORDERS, DIAGNOSES, STOCK, REFERRALS, REMOTE_READS):
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


def test_reference_run_takes_the_read_requests_through_their_steps(
    mixed_reference: dict[str, Any],
) -> None:
    """Each read request and the critical value end where their steps lead (the racing
    claim and the reading side's acknowledgement refused), every status on both members'
    out topics, and the three final reports on hub.results for recognition."""
    tables = mixed_reference["tables"]
    assert {json.loads(k): v["task"]["business_status"]
            for k, v in tables["remote-read-tasks"].items()} == reads.EXPECTED_STATES
    assert {json.loads(k): v["task"]["business_status"]
            for k, v in tables["critical-values"].items()} == reads.EXPECTED_CRITICAL
    claimants = {json.loads(k): (v["read"]["claimant"] or {}).get("reader_id")
                 for k, v in tables["remote-read-tasks"].items()}
    assert claimants["chc-west:CT2"] == reads.LI.reader_id
    statuses = mixed_reference["read_statuses"]
    kinds = set()
    for by_status in statuses.values():
        for copies in by_status.values():
            status = CODEC.decode(next(iter(copies)))
            assert isinstance(status, ReadStatus | CriticalValueStatus)
            kinds.add(type(status))
            for member in (status.examining_member, status.reading_member):
                assert status.status_id in statuses[feedback_topic(member)]
    assert kinds == {ReadStatus, CriticalValueStatus}
    results = mixed_reference["read_results"]
    orders = {json.loads(copy)["order_ref"] for _, unsealed in results.values()
              for copy in unsealed}
    assert orders == reads.RECOGNISED and len(results) == len(reads.RECOGNISED) + 1


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
