"""A RocksDB table store keeps no write whose changelog record the broker never had
(hub/runtime/patches/store_rollback.py): the undo records on their own, and a worker
SIGKILLed right after a local write, before the outputs and the changelog record before it
were flushed, sends those outputs once on restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from rocksdict import Options, Rdict

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from hub.ops.topic_admin import backlog
from hub.runtime.patches import store_rollback
from schemas.models import DiseaseReportCard
from schemas.models.clinical import CaseClassification
from schemas.reference.registry import load_registry
from schemas.topics import CDC_REPORTS, DIAGNOSES, ingress_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.factories import diagnosis, patient


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Rdict]:
    options = Options(raw_mode=True)  # as Faust opens a partition's database
    options.create_if_missing(True)
    opened = Rdict(str(tmp_path / "table-0.db"), options=options)
    yield opened
    opened.close()


def killed_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What this process wrote so far counts as an earlier incarnation's."""
    monkeypatch.setattr(store_rollback, "INCARNATION", (2**63).to_bytes(8, "big"))


def test_unacknowledged_writes_of_a_killed_process_are_undone(
    db: Rdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    db.put(b'"kept"', b"1")
    db.put(b'"changed"', b"old")
    acknowledged = store_rollback.write(db, b'"acked"', b"a")
    store_rollback.confirm(db, acknowledged, 41)
    store_rollback.write(db, b'"changed"', b"new")
    store_rollback.write(db, b'"changed"', b"newer")
    store_rollback.write(db, b'"created"', b"x")
    store_rollback.write(db, b'"kept"', None)
    killed_process(monkeypatch)
    assert store_rollback.roll_back(db) == 4
    assert dict(db.items()) == {b'"kept"': b"1", b'"changed"': b"old", b'"acked"': b"a",
                                b"__faust\0offset__": b"41"}
    assert store_rollback.roll_back(db) == 0


def test_this_process_own_writes_are_left_to_their_acknowledgements(db: Rdict) -> None:
    store_rollback.write(db, b'"k"', b"v")  # in flight when a revoked partition is reopened
    assert store_rollback.roll_back(db) == 0
    assert db.get(b'"k"') == b"v"


def test_faust_iteration_skips_the_undo_records(db: Rdict) -> None:
    from faust.stores.rocksdb import Store

    store_rollback.install()
    store_rollback.write(db, b'"k"', b"v")
    store = object.__new__(Store)
    store.use_rocksdict = True
    assert list(store._visible_keys(db)) == [b'"k"']
    assert list(store._visible_items(db)) == [(b'"k"', b"v")]


def start_past_what_is_there(bootstrap: str, group: str, topics: list[str]) -> None:
    """The group begins at the inputs' ends: the earlier test's diagnosis is not its own."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        consumer.close()


CHOLERA_PATIENTS = {True: patient("510726197505052345", name="李娜"),
                    False: patient("510726196808081111", name="赵强")}


@pytest.mark.integration
@pytest.mark.parametrize("rollback", [True, False], ids=["store_rollback", "without_it"])
def test_a_worker_killed_after_a_local_write_sends_its_card_once_on_restart(
    broker: BaseBroker, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]], tmp_path: Path, rollback: bool,
) -> None:
    """The reporting flow sends the cholera card, then writes the case that says it was
    sent; the worker is killed right after that local write. Without the rollback the
    restarted worker finds the case already reported, and the card is lost."""
    app_id = f"hub-rollback-{tmp_path.name}"
    env = {**broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6",
           "HUB_STORE": "rocksdb://",
           "HUB_DISABLED_PATCHES": "[]" if rollback else '["store_rollback"]'}
    faulty = WorkerProcess(broker.bootstrap, tmp_path,
                           {**env, "HUB_FAULT_KILL_AFTER_STORE_WRITE": "reporting-cases"})
    restarted = WorkerProcess(broker.bootstrap, tmp_path, env, web_port=faulty.web_port)
    who = CHOLERA_PATIENTS[rollback]
    inputs = [ingress_topic(m) for m in load_registry().ids] + [DIAGNOSES.name]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    try:
        faulty.start()
        publisher("lead").publish(diagnosis("lead", "A00.000", "霍乱", patient=who,
                                            case_classification=CaseClassification.CONFIRMED))
        assert faulty.process is not None
        faulty.process.wait(60)
        assert "fault injection: killed after a local write" in faulty.log_tail()
        restarted.start()
        assert wait_for(lambda: not backlog(broker.bootstrap, app_id, inputs), timeout=60)
    finally:
        faulty.kill()
        restarted.kill()
    cards = [e for _, e in read_topic(CDC_REPORTS.name)
             if isinstance(e, DiseaseReportCard) and e.id_number == who.id_number]
    undone = "are undone" in restarted.log_tail(200)
    if rollback:
        assert len(cards) == 1 and undone, (cards, restarted.hub_warnings())
    else:  # the kill did land between the local write and the flush
        assert cards == [] and not undone
