"""How long advice stops when a worker dies with a large result index (issue 18).

Two cases, each on a fresh broker with `results` indexed results (the changelog written
directly, as in `benchmarks.index_scale`) and orders that all earn advice arriving at a
steady rate throughout:

- **takeover**: two workers share the partitions, each a standby replica of the other's
  tables; one is SIGKILLed and the other must answer for all of them.
- **restart**: one worker is SIGKILLed and started again on its own data folder (its
  RocksDB intact), as a supervisor restarts it.

`outage_s` is what the doctor feels: from the kill (the restart follows at once) until
every order sent since has had its advice, measured as the arrival of the last advice that
took longer than `SLOW_S`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import KafkaConsumer

from benchmarks.harness import (
    PRODUCTION_COMMIT_INTERVAL,
    Latencies,
    Stage,
    cpu_seconds,
    output_reader,
    paced,
    producer,
    read_outputs,
    send_as_member,
)
from benchmarks.index_scale import seed_index
from benchmarks.workload import ITEMS_PER_PATIENT, Workload, utcnow
from hub.process.worker_process import WorkerProcess
from schemas.models import Event, RecognitionAdvice
from schemas.models.outputs import Verdict
from schemas.reference.registry import load_registry
from schemas.topics import feedback_topic

SLOW_S = 1.0  # advice slower than this is "not served" for the outage measure
# The workers' settings the failover figures were measured with: deploy/ runs the same
# (tests/deploy/test_deploy_files.py compares them).
MEASURED_ENV = {"HUB_STORE": "rocksdb://", "HUB_TABLE_STANDBY_REPLICAS": "1"}
SESSION_TIMEOUT_S = 6.0


@dataclass
class FailoverFigures:
    case: str
    indexed_results: int
    session_timeout_s: float
    offered_rate: float
    orders: int
    unanswered: int  # orders that never had advice (must be 0)
    outage_s: float  # from the kill (the restart begins at once) until advice is timely again
    slow_orders: int  # orders whose advice took longer than SLOW_S
    p99_ms_before: float | None
    # orders whose advice named a result: the index was found (every order is for a
    # patient and item the index holds)
    recognised: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OrderStream:
    """Orders published at `rate` from a thread; their advice collected from another."""

    bootstrap: str
    rate: float
    patients: int
    sent: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    recognised: set[str] = field(default_factory=set)
    _stop_sending: threading.Event = field(default_factory=threading.Event)
    _stop_reading: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _consumer: KafkaConsumer | None = None

    def start(self) -> OrderStream:
        consumer = output_reader(self.bootstrap,
                                 [feedback_topic(m) for m in load_registry().ids])
        self._threads = [
            threading.Thread(target=read_outputs, args=(consumer, self._stop_reading,
                                                        self._take), daemon=True),
            threading.Thread(target=self._publish, daemon=True)]
        for thread in self._threads:
            thread.start()
        self._consumer = consumer
        return self

    def stop(self, after_s: float, drain_s: float = 5.0) -> None:
        """Orders go on for `after_s`, then `drain_s` more for the last advice."""
        time.sleep(after_s)
        self._stop_sending.set()
        time.sleep(drain_s)
        self._stop_reading.set()
        for thread in self._threads:
            thread.join(10)
        if self._consumer is not None:
            self._consumer.close()

    def _publish(self) -> None:
        workload = Workload(seed=17, patients=self.patients)
        sink = producer(self.bootstrap, linger_ms=0)
        for _ in paced(self.rate, lambda: not self._stop_sending.is_set()):
            order = workload.recognised_order(utcnow())
            self.sent[order.envelope.event_id] = time.perf_counter()
            send_as_member(sink, order)
        sink.flush()
        sink.close()

    def _take(self, event: Event, arrived: float) -> None:
        correlation = event.envelope.correlation_id or ""
        if isinstance(event, RecognitionAdvice) and correlation in self.sent:
            self.answered.setdefault(correlation, arrived)
            if event.verdict is not Verdict.NONE_VALID:
                self.recognised.add(correlation)

    def figures(self, case: str, results: int, session_s: float,
                killed_at: float) -> FailoverFigures:
        sent = dict(self.sent)
        before = Latencies([(self.answered[i] - t) * 1000 for i, t in sent.items()
                            if t < killed_at and i in self.answered])
        slow = [self.answered[i] for i, t in sent.items()
                if i in self.answered and self.answered[i] - t > SLOW_S]
        p99 = before.p99
        return FailoverFigures(
            case=case, indexed_results=results, session_timeout_s=session_s,
            offered_rate=self.rate, orders=len(sent),
            unanswered=sum(1 for i in sent if i not in self.answered),
            outage_s=round(max(slow, default=killed_at) - killed_at, 2),
            slow_orders=len(slow), p99_ms_before=None if p99 is None else round(p99, 1),
            recognised=len(self.recognised & sent.keys()),
        )


def wait_settled(worker: WorkerProcess, busy_below: float = 0.3, timeout: float = 900) -> None:
    """Until the worker's standby recovery is over: under `busy_below` of a core for 3 s."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(worker.pid)
    while time.monotonic() < deadline:
        time.sleep(3)
        now = cpu_seconds(worker.pid)
        if (now - last) / 3 < busy_below:
            return
        last = now


def run(case: str, results: int, rate: float,
        session_s: float = SESSION_TIMEOUT_S) -> FailoverFigures:
    with Stage() as stage:
        app_id = "bench-failover"
        seeded = seed_index(stage.bootstrap, app_id, results)
        env = {**MEASURED_ENV, "HUB_SESSION_TIMEOUT": str(session_s),
               "HUB_APP_ID": app_id, "HUB_COMMIT_INTERVAL": str(PRODUCTION_COMMIT_INTERVAL)}
        patients = max(1, results // ITEMS_PER_PATIENT)
        first = stage.worker("failover-a", **env).start(timeout=1800)
        second = stage.worker("failover-b", **env).start(timeout=1800) \
            if case == "takeover" else None
        for worker in (first, second):
            if worker is not None:
                wait_settled(worker)
        stream = OrderStream(stage.bootstrap, rate, patients).start()
        time.sleep(10)
        killed_at = time.perf_counter()
        first.kill()
        if case == "restart":
            first.start(timeout=1800)
        stream.stop(after_s=30)
        figures = stream.figures(case, seeded, session_s, killed_at)
        for worker in (first, second):
            if worker is not None:
                worker.kill()
    return figures
