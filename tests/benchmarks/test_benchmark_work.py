"""The work the benchmarks do: the raw baseline's and the Faust floor's on each message
(the same for both, so their figures compare like with like), the referral and remote-read
watchdogs' sweeps, and the mix's referral and read traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from benchmarks import referral_watchdog, remote_read_watchdog
from benchmarks.baseline import answer, transform
from benchmarks.workload import READ_SHARE, Workload
from hub.rules.coordination import shipped_flow
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.referral.capacity import Pool
from hub.rules.referral.engine import Context, on_pool, on_request, on_update
from hub.rules.referral.record import ReferralRecord
from hub.rules.remote_read import engine as reads
from hub.rules.remote_read.critical import (
    CriticalContext,
    CriticalRecord,
    critical_key,
    on_critical,
)
from hub.rules.remote_read.record import ReadRecord
from schemas.codec import AvroCodec
from schemas.models import LabResult
from schemas.models.referral import CapacityPool, ReferralAction, ReferralRequest, ReferralUpdate
from schemas.models.remote_read import CriticalValueUpdate, ReadRequest, ReadUpdate
from schemas.reference.messages import DEFAULT_LOCALE
from schemas.reference.registry import load_registry
from tests.factories import lab_result
from tests.rules.remote_read_support import CTX as READ_CTX
from tests.rules.remote_read_support import SEALER as READ_SEALER

CODEC = AvroCodec()


def test_the_throughput_work_drops_the_id_number_and_keeps_the_rest() -> None:
    event = lab_result("mch")
    assert event.patient.id_number
    writer = CODEC.store.current[LabResult.avro_name()]
    out = CODEC.decode(transform(writer, CODEC.encode(event)))
    assert isinstance(out, LabResult)
    assert out.patient.id_number is None
    assert out.model_copy(update={"patient": event.patient}) == event


def test_the_latency_work_answers_with_the_event_id_as_correlation_id() -> None:
    event = lab_result("mch")
    out = CODEC.decode(answer(CODEC.encode(event)))
    assert out.envelope.correlation_id == event.envelope.event_id
    assert out.model_copy(update={"envelope": event.envelope}) == event


def test_the_watchdog_benchmark_sweeps_a_table_of_open_referrals_as_the_agent_does() -> None:
    figures = referral_watchdog.run(open_referrals=400, overdue_share=0.2)
    assert sum(figures.profiles.values()) == 400 and len(figures.profiles) == 9
    for sweeps in (figures.memory, figures.store):
        first, second, quiet = sweeps
        assert first.records == second.records == quiet.records == 400
        # each overdue referral escalated to both parties or expired, once
        assert first.changed == figures.overdue > 0
        assert first.statuses == 2 * figures.overdue and first.alerts == 0
        # then the office told of those overdue past its delay; then nothing is due
        assert 0 < second.alerts == second.changed < first.changed
        assert quiet.changed == quiet.statuses == 0
        assert first.closed == 0 and quiet.closed == second.closed  # the no-shows expired
        # read again by key only what had something to do; a quiet sweep reads once
        assert (first.reread, second.reread, quiet.reread) == (
            first.changed, second.changed, 0)
    timings = {"seconds": 0, "read_seconds": 0, "reread_seconds": 0, "us_per_record": 0}
    assert figures.store[0].as_dict() | timings == figures.memory[0].as_dict() | timings
    # the sweep as before (the store's items listed first) judges the same, and finds
    # nothing due after the three; the pass read every value through Faust's store
    before = figures.store_listed_first_quiet
    assert before is not None
    assert before.as_dict() | timings == figures.store[2].as_dict() | timings
    assert all(sweep.read_seconds > 0 for sweep in figures.store)
    assert figures.store[0].reread_seconds > 0 and figures.store[2].reread_seconds == 0
    assert figures.tracemalloc_peak_mb > 0 and figures.rocksdb_mb


def test_the_remote_read_benchmark_sweeps_with_the_agents_pass_and_escalates_the_late() -> None:
    figures, table = remote_read_watchdog.run(open_reads=300, overdue_share=0.2)
    assert sum(figures.profiles.values()) == 300 and len(figures.profiles) == 5
    assert len(figures.modalities) == 6 and figures.overdue == len(table.overdue_keys) > 0
    for sweeps in (figures.memory, figures.store):
        first, second, *_, quiet = sweeps
        assert all(sweep.records == 300 for sweep in sweeps)
        # the overdue reads and only they: both members told, at level 1
        assert first.escalated == table.overdue_keys
        assert first.changed == first.reread == figures.overdue
        assert first.statuses == 2 * figures.overdue and first.levels == {1: figures.overdue}
        # then those past the office's hour re-routed to the backup centre (each one's
        # request on its worklist) or, waiting for information, only the operators told
        assert second.levels == {2: second.changed} and second.escalated <= first.escalated
        assert 0 < second.requests <= second.alerts == second.changed < first.changed
        # and at last nothing is due: a quiet sweep reads each read once
        assert quiet.changed == quiet.statuses == quiet.reread == 0
    timings = {"seconds": 0, "read_seconds": 0, "reread_seconds": 0, "us_per_record": 0}
    assert [s.as_dict() | timings for s in figures.store] == \
        [s.as_dict() | timings for s in figures.memory]
    assert all(sweep.read_seconds > 0 for sweep in figures.store)


def test_the_mix_takes_each_referral_through_steps_the_rules_allow() -> None:
    """The mix's referral traffic, in the order it is written, through the referral rules:
    every request opens a referral, every step is allowed, every booking finds a place."""
    sealer = Sealer(Fernet.generate_key())
    ctx = Context(shipped_flow("referral"), load_registry(), sealer.open_patient)
    workload, now = Workload(seed=11), datetime.now(UTC)
    records: dict[str, ReferralRecord] = {}
    pools: dict[str, Pool] = {}
    events = [*workload.opening(now), *(workload.mix(now) for _ in range(10_000))]
    for event in events:
        if isinstance(event, ReferralRequest):
            sealed = event.model_copy(update={"patient": pseudonymous(
                event.patient, b"secret", sealer, issuer=event.envelope.member_id)})
            out = on_request(None, sealed, ctx, records.get)
        elif isinstance(event, ReferralUpdate):
            out = on_update(records.get(event.referral_id), event, ctx, pools.get)
        elif isinstance(event, CapacityPool):
            out = on_pool(None, event, ctx)
        else:
            continue
        pools.update((pool.key, pool) for pool in out.pools)
        if out.record is not None:
            records[out.record.referral_id] = out.record
    steps = [e for e in events if isinstance(e, ReferralUpdate)]
    assert len(records) > 50 and len(steps) > len(records)
    assert {e.action for e in steps} >= {ReferralAction.ACCEPTED, ReferralAction.ARRIVED,
                                         ReferralAction.COMPLETED, ReferralAction.CANCELLED}
    booked = sum(p.booked for p in pools.values())
    assert booked == sum(1 for e in steps if e.action is ReferralAction.ACCEPTED)


def test_the_mix_takes_each_read_request_through_steps_the_rules_allow() -> None:
    """The mix's read traffic (its share of the mix), in the order it is written, through
    the remote-read rules: every request opens a read, every step and critical-value step is
    allowed, and the final reports are recognisable results."""
    critical_ctx = CriticalContext(shipped_flow("critical_value"), timedelta(minutes=15),
                                   READ_SEALER.open_patient, DEFAULT_LOCALE)
    workload, now = Workload(seed=11), datetime.now(UTC)
    events = [workload.mix(now) for _ in range(30_000)]
    records: dict[str, ReadRecord] = {}
    criticals: dict[str, CriticalRecord] = {}
    results = 0
    for event in events:
        if isinstance(event, ReadRequest):
            sealed = event.model_copy(update={"patient": pseudonymous(
                event.patient, b"secret", READ_SEALER, issuer=event.envelope.member_id)})
            out = reads.on_request(None, sealed, READ_CTX)
        elif isinstance(event, ReadUpdate):
            out = reads.on_update(records.get(event.request_id), event, READ_CTX)
        elif isinstance(event, CriticalValueUpdate):
            key = critical_key(event.request_id, event.critical_id)
            told = on_critical(criticals.get(key), records.get(event.request_id), event,
                               critical_ctx)
            assert told.record is not None
            criticals[key] = told.record
            continue
        else:
            continue
        assert out.record is not None
        records[out.record.request_id] = out.record
        results += len(out.results)
    mine = [e for e in events if isinstance(e, ReadRequest | ReadUpdate | CriticalValueUpdate)]
    assert abs(len(mine) / len(events) - READ_SHARE) < 0.005
    states = {r.task.business_status for r in records.values()}
    assert len(records) > 100 and {"final", "cancelled"} <= states
    assert results == sum(r.task.business_status == "final" for r in records.values())
    assert criticals and any(c.task.business_status == "resolved" for c in criticals.values())
