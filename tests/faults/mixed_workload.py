"""A mixed workload that exercises every flow, run through a worker while something is
done to it, and compared with a run nobody disturbed: the machinery of the crash and
cluster-fault tests.

Each patient is seen by one member and each drug moved by one member (after an opening
count everywhere), so the order in which the hub sees related events is the same in every
run and the reference is exact."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaError

from benchmarks.workload import LAB_ITEMS, MEMBERS, Workload
from connectors.cdc.sink import CardFolder, consume
from connectors.member.sdk import FeedbackReader, MemberPublisher
from connectors.pharmacy.view import PharmacyBoard, catch_up
from hub.ops.tokens import member_token
from hub.ops.topic_admin import backlog as admin_backlog
from schemas.codec import AvroCodec
from schemas.models import Diagnosis, Event, LabResult, StockEvent, TestOrder
from schemas.reference.registry import load_registry
from schemas.topics import (
    CDC_REPORTS,
    DIAGNOSES,
    FIXED_TOPICS,
    ORDERS,
    REFERENCE,
    REFERRALS,
    REMOTE_READS,
    RESULTS,
    STOCK,
    feedback_topic,
    ingress_topic,
)
from tests.conftest import WorkerProcess, read_topics
from tests.faults import referral_inputs, remote_read_inputs

CODEC = AvroCodec()
SECRET = "crash-recovery-api-secret"
SEED = 20261125
STREAM_EVENTS = 3000
CHUNKS = 6
ENV = {"HUB_API_SECRET": SECRET, "HUB_SESSION_TIMEOUT": "6", "HUB_APP_ID": "hub-crash",
       "HUB_COMMIT_INTERVAL": "1.0",
       "HUB_CRITICAL_ACK_MINUTES": remote_read_inputs.CRITICAL_ACK_MINUTES}
# The production store (deploy/) and the default one: a disturbed run on either must
# give the reference run's outputs and state (the reference itself runs in memory).
ROCKSDB_ENV = {**ENV, "HUB_STORE": "rocksdb://"}
STORES = {"memory": ENV, "rocksdb": ROCKSDB_ENV}
# The suite kills workers on the production store only (a run per store costs ~80 s);
# HUB_TEST_CRASH_STORES=memory,rocksdb kills them on both.
CRASH_STORES = os.environ.get("HUB_TEST_CRASH_STORES", "rocksdb").split(",")
# hub.reference holds the reference files as JSON, not events
OUTPUT_TOPICS = ([s.name for s in FIXED_TOPICS if s is not REFERENCE]
                 + [feedback_topic(m) for m in MEMBERS])
Messages = dict[str, list[tuple[bytes | None, bytes]]]  # topic -> (key, value) as read
SHOWN_KEYS = 5  # differing keys of a table shown by assert_same
TABLES = ("recognition-result-index", "recognition-order-ledger", "pharmacy-ledgers",
          "pharmacy-trace-days", "reporting-cases", *referral_inputs.TABLES,
          *remote_read_inputs.TABLES)


@dataclass(frozen=True)
class Inputs:
    opening: list[Event]
    stream: list[tuple[str, Event | bytes]]  # (member, event or raw bytes)
    starts: tuple[int, ...]  # where in the stream each chunk begins

    def chunk(self, i: int) -> list[tuple[str, Event | bytes]]:
        ends = (*self.starts[1:], len(self.stream))
        return self.stream[self.starts[i]:ends[i]]


def make_inputs(seed: int = SEED) -> Inputs:
    # the mix without its referral and read shares: those come in the order their steps
    # need (referral_inputs.py, remote_read_inputs.py)
    workload = Workload(seed=seed, patients=400, referral_share=0.0, read_share=0.0)
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=5)
    referrals = referral_inputs.referral_chunks(now, CHUNKS)
    reads = remote_read_inputs.read_chunks(now + timedelta(minutes=1), CHUNKS)
    owner = {drug: MEMBERS[i % len(MEMBERS)] for i, drug in enumerate(workload.drugs)}
    opening: list[Event] = [
        StockEvent(envelope=StockEvent.new_envelope(member, occurred_at=now), kind="COUNT",
                   drug_code=drug, quantity=90.0 if member == owner[drug] else 400.0, at=now,
                   reason="opening count")
        for member in MEMBERS for drug in workload.drugs]
    stream: list[tuple[str, Event | bytes]] = []
    starts: list[int] = []
    for n in range(STREAM_EVENTS):
        if n * CHUNKS // STREAM_EVENTS == len(starts):
            starts.append(len(stream))  # the chunks are the ones the items alternate by
            stream.extend(referrals[len(starts) - 1])
            stream.extend(reads[len(starts) - 1])
        event = workload.mix(now + timedelta(milliseconds=n))
        # results and orders of one item never share a chunk: an order's advice then
        # depends only on results of earlier chunks, whatever the two agents' interleaving
        if isinstance(event, LabResult | TestOrder):
            half = (n * CHUNKS // STREAM_EVENTS + isinstance(event, TestOrder)) % 2
            item = rng.choice(LAB_ITEMS[half::2])
            event = event.model_copy(update={"item_code": item, "local_code": item})
        if isinstance(event, StockEvent):
            member = owner[event.drug_code]
        else:  # the patient's own member, from the number in the ID
            assert isinstance(event, LabResult | TestOrder | Diagnosis)
            patient_number = int(str(event.patient.id_number)[-4:])
            member = MEMBERS[patient_number % len(MEMBERS)]
        if rng.random() < 0.01 and isinstance(event, LabResult):
            event = event.model_copy(update={"item_code": None, "local_code": "NOT-MAPPED"})
        stream.append((member, event.model_copy(update={"envelope": event.envelope.model_copy(
            update={"member_id": member})})))
        if rng.random() < 0.005:
            stream.append((member, rng.randbytes(rng.randrange(1, 64))))
    return Inputs(opening, stream, tuple(starts))


# This member's connector keys every event by one constant, not by the SDK's ordering key:
# its events reach the flows through the internal topics (forwarded by intake), the other
# members' are handled where they land. A patient's and a drug's events all come from one
# member (and, for this one, one partition), so each keeps its order on either path.
FOREIGN_KEYED = "mch"
FOREIGN_KEY = b"foreign-producer"


class Members:
    """One SDK publisher per member, for one broker."""

    def __init__(self, bootstrap: str) -> None:
        self.publishers = {m: MemberPublisher(bootstrap, m) for m in MEMBERS}

    def send(self, items: list[tuple[str, Event | bytes]]) -> None:
        by_member: dict[str, list[Event]] = defaultdict(list)
        for member, item in items:
            if isinstance(item, bytes):
                self.publishers[member].producer.send(ingress_topic(member), key=b"raw",
                                                     value=item)
            else:
                by_member[member].append(item)
        for member, events in by_member.items():
            publisher = self.publishers[member]
            if member == FOREIGN_KEYED:
                for event in events:
                    publisher.producer.send(ingress_topic(member), key=FOREIGN_KEY,
                                            value=publisher.encode(event))
            else:
                publisher.publish_many(events)
        for publisher in self.publishers.values():
            publisher.producer.flush(30)

    def close(self) -> None:
        for publisher in self.publishers.values():
            publisher.close()


def backlog(bootstrap: str, group: str) -> dict[str, int]:
    """Per input partition of the worker, the messages its consumer group has not yet
    committed (partitions with none left out)."""
    inputs = [ingress_topic(m) for m in load_registry().ids] + [
        s.name for s in (RESULTS, ORDERS, DIAGNOSES, STOCK, REFERRALS, REMOTE_READS)]
    try:
        return admin_backlog(bootstrap, group, inputs)
    except KafkaError as exc:  # a broker of a cluster away: its coordinator moves
        return {"unknown while the cluster fails over": 1, str(exc)[:80]: 1}


def wait_processed(bootstrap: str, worker: WorkerProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:  # twice in a row, 0.3 s apart: nothing left, and nothing new behind it
        behind = backlog(bootstrap, ENV["HUB_APP_ID"])
        assert time.monotonic() < deadline, f"{behind}\n{worker.log_tail(40)}"
        assert worker.running(), worker.log_tail()
        quiet = 0 if behind else quiet + 1
        if quiet < 2:  # while work is left, look again soon: it ends at any moment
            time.sleep(0.3 if quiet else 0.1)


def distinct_ids(read: Messages) -> tuple[dict[str, set[str]], dict[str, Counter[str]]]:
    """Per output topic: the distinct event ids, and how often each was written."""
    counts: dict[str, Counter[str]] = {}
    for topic in OUTPUT_TOPICS:
        counts[topic] = Counter(CODEC.decode(v).envelope.event_id for _, v in read[topic])
    return {t: set(c) for t, c in counts.items()}, counts


def _json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def changelog(table: str) -> str:
    return f"{ENV['HUB_APP_ID']}-{table}-changelog"


def table_state(read: Messages, table: str) -> dict[str, Any]:
    """A table's final values, replayed from its changelog (a tombstone deletes)."""
    state: dict[str, Any] = {}
    for key, value in read[changelog(table)]:
        name = json.dumps(_json(key), sort_keys=True)
        if value is None:
            state.pop(name, None)
        else:
            state[name] = _json(value)
    if table == "recognition-order-ledger":  # where a count was applied differs after
        return {k: {n: c for n, c in v.items() if not n.startswith("_")}  # re-forwards
                if k.startswith('"counts|') else v for k, v in state.items()}
    if table == "reporting-cases":  # sealed blocks are freshly encrypted, times are "now"
        return {k: [(c["case_id"], c["disease_code"], [r["event_id"] for r in c["reports"]],
                     c["missing"], [(s["card_id"], s["kind"]) for s in c["cards"]])
                    for c in v["cases"]] for k, v in state.items()}
    if table in remote_read_inputs.TABLES:
        return remote_read_inputs.normalized(table, state)
    return referral_inputs.normalized(table, state)


def member_view(bootstrap: str, member: str, expected: int) -> list[str]:
    """Event ids as the member SDK's feedback reader hands them over (it drops repeats)."""
    reader = FeedbackReader(bootstrap, member, group_id=f"view-{uuid.uuid4()}")
    handed: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            batch = [e.envelope.event_id for e in reader.poll(0.5)]
            handed += batch
            if len(handed) >= expected and not batch:
                break
        return handed
    finally:
        reader.close()


def observed(bootstrap: str, worker: WorkerProcess) -> dict[str, Any]:
    """What the run leaves behind: outputs, consumers' views, tables and counts."""
    read = read_topics(bootstrap, [*OUTPUT_TOPICS, *map(changelog, TABLES)])
    ids, counts = distinct_ids(read)
    filed = consume(bootstrap, CardFolder(worker.data_dir / "cdc-cards"),
                    f"cdc-{uuid.uuid4()}", follow=False)  # the CDC sink, as it runs
    board = PharmacyBoard()
    catch_up(bootstrap, board, CODEC)  # the central pharmacy's view, as it runs
    feedback = {feedback_topic(m): read[feedback_topic(m)] for m in MEMBERS}
    stats = {}
    for member in MEMBERS:
        status, body = worker.get("/recognition/stats", {
            "Authorization": f"Bearer {member_token(SECRET, member)}"})
        assert status == 200, body
        stats[member] = json.loads(body)["items"]
    return {
        "ids": ids, "counts": counts, "stats": stats,
        "cards": sorted(p.name for p in (worker.data_dir / "cdc-cards").glob("*.json")),
        "filed": filed,
        "board": ([s.envelope.event_id for s in board.open_shortages()],
                  [o.envelope.event_id for o in board.pending_orders()]),
        "tables": {t: table_state(read, t) for t in TABLES},
        "lead_view": member_view(bootstrap, "lead", len(ids[feedback_topic("lead")])),
        "referral_statuses": referral_inputs.referral_statuses(feedback),
        "read_statuses": remote_read_inputs.read_statuses(feedback),
        "read_results": remote_read_inputs.read_results(read[RESULTS.name]),
    }


def run(bootstrap: str, inputs: Inputs, worker: WorkerProcess,
        between_chunks: Callable[[int], None]) -> dict[str, Any]:
    """Opening counts first (every member's ledgers exist before any dispatch), then the
    stream in chunks, calling `between_chunks(i)` after chunk i is published and waiting
    until it is processed."""
    members = Members(bootstrap)
    try:
        members.send([(e.envelope.member_id, e) for e in inputs.opening])
        wait_processed(bootstrap, worker)
        for i in range(CHUNKS):
            members.send(inputs.chunk(i))
            between_chunks(i)
            wait_processed(bootstrap, worker)
        return observed(bootstrap, worker)
    finally:
        members.close()


def assert_same(reference: dict[str, Any], got: dict[str, Any]) -> None:
    """Everything observed equals the reference; the message lists every difference."""
    differences: dict[str, Any] = {
        topic: (f"{len(reference['ids'][topic] - got['ids'][topic])} missing",
                f"{len(got['ids'][topic] - reference['ids'][topic])} extra")
        for topic in OUTPUT_TOPICS if got["ids"][topic] != reference["ids"][topic]}
    for table, state in reference["tables"].items():
        changed = sorted(k for k in state.keys() | got["tables"][table].keys()
                         if state.get(k) != got["tables"][table].get(k))
        if changed:  # the first few, to see why
            differences[f"table {table}"] = (f"{len(changed)} keys", {
                key: f"{state.get(key)!s:.600} <> {got['tables'][table].get(key)!s:.600}"
                for key in changed[:SHOWN_KEYS]})
    # the consumers that drop ids they have seen show each output once, and the same
    for seen in ("cards", "filed", "board"):
        if got[seen] != reference[seen]:
            differences[seen] = (f"{reference[seen]!s:.300}", f"{got[seen]!s:.300}")
    if got["stats"] != reference["stats"]:  # the members' items that differ
        items = {(m, i) for side in (reference, got) for m, by_item in side["stats"].items()
                 for i in by_item}
        differences["stats"] = {
            f"{m} {i}": f"{reference['stats'].get(m, {}).get(i)} <> "
                        f"{got['stats'].get(m, {}).get(i)}"
            for m, i in sorted(items)
            if reference["stats"].get(m, {}).get(i) != got["stats"].get(m, {}).get(i)}
    view = got["lead_view"]
    if len(view) != len(set(view)) or set(view) != got["ids"][feedback_topic("lead")]:
        differences["lead's feedback reader"] = (len(view), len(set(view)))
    assert differences == {}, differences
    referral_inputs.assert_referrals_same(reference, got)
    remote_read_inputs.assert_reads_same(reference, got)
    assert got["filed"].events == len(got["ids"][CDC_REPORTS.name])  # each card filed once


