"""Remote diagnosis: read requests, steps and critical values in (hub.remote-reads, keyed
by the read request id "<examining member>:<accession>", so a study's claims, reports and
critical values are judged on one partition); a ReadStatus / CriticalValueStatus per step
to both members' out. topics, the request itself to the reading centre, final reports of
a QC-passed centre to hub.results for recognition, operators' alerts on hub.alerts. The
rules are in hub.rules.remote_read on the coordination machine; this module moves data.

Tables (no identity in clear: the sealed patient block only):

- `remote-read-tasks`: request id -> ReadRecord.to_json(): {"task": coordination Task
  JSON, "read": {modality, priority, setting, limit, item_code, study_ref, pseudonym,
  sealed_patient, request (pseudonymous), first_reader, backup, images_at,
  report_due_at, claimant, writer, report, report_refs, final_at, closed_at, ...}}
- `critical-values`: "<request id>|<critical id>" -> CriticalRecord.to_json():
  {"task": ..., "critical": {finding, raised_by, entries [the register's steps],
  read_back, closed_at, ...}}

Outputs go out before the state that remembers them is written: a crash in between
repeats them byte for byte (ids and times derive from the input).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hub import metrics
from hub.agents.base import Meta, hub_agent
from hub.rules.coordination import shipped_flow
from hub.rules.referral.figures import CONSORTIUM_ZONE
from hub.rules.rejections import Reason, Rejection
from hub.rules.remote_read.critical import (
    CriticalContext,
    CriticalOutcome,
    CriticalRecord,
    critical_key,
    on_critical,
    register_rows,
)
from hub.rules.remote_read.engine import Context, Outcome, on_request, on_update
from hub.rules.remote_read.limits import LimitRule, WorkingTime, load_limits
from hub.rules.remote_read.record import ReadRecord
from hub.runtime import channels, table_writes
from hub.runtime.app import app
from hub.runtime.emit import publish
from hub.runtime.services import runtime
from schemas import topics
from schemas.models import Event
from schemas.models.remote_read import (
    CriticalValueUpdate,
    ReadRequest,
    ReadUpdate,
    read_request_id,
)
from schemas.partitioning import partition_of_key, patient_ordering_key, read_ordering_key
from schemas.reference.items import ItemCatalogue, load_item_catalogue
from schemas.reference.reading_centres import shipped_reading_centres

AGENT = "remote_read"

tasks = app.Table("remote-read-tasks", default=None, partitions=topics.INTERNAL_PARTITIONS,
                  options=runtime.settings.rocksdb_options())
criticals = app.Table("critical-values", default=None, partitions=topics.INTERNAL_PARTITIONS,
                      options=runtime.settings.rocksdb_options())
writing = asyncio.Lock()


@cache
def _limits() -> tuple[LimitRule, ...]:
    return load_limits(runtime.settings.read_limits_file)


def _zone() -> ZoneInfo:
    zone = runtime.locale.zone
    return zone if isinstance(zone, ZoneInfo) else CONSORTIUM_ZONE


@cache
def _catalogue() -> ItemCatalogue:
    return load_item_catalogue(runtime.settings.items_file)


def context() -> Context:
    work = WorkingTime(runtime.calendar, runtime.working_hours, _zone())
    return Context(shipped_flow("remote_read"), runtime.registry, shipped_reading_centres(),
                   _limits(), work, runtime.sealer.open_patient, runtime.locale,
                   _catalogue())


def critical_context() -> CriticalContext:
    return CriticalContext(shipped_flow("critical_value"),
                           timedelta(minutes=runtime.settings.critical_ack_minutes),
                           runtime.sealer.open_patient, runtime.locale)


def home_partition(request_id: str) -> int:
    return partition_of_key(read_ordering_key(request_id))


def load_record(request_id: str) -> ReadRecord | None:
    value = tasks.get(request_id)
    return ReadRecord.from_json(value) if value is not None else None


def load_critical(key: str) -> CriticalRecord | None:
    value = criticals.get(key)
    return CriticalRecord.from_json(value) if value is not None else None


def result_partition(record: ReadRecord) -> int | None:
    """The patient's home partition on hub.results, where its recognition index lives."""
    patient = runtime.sealer.open_patient(record.sealed())
    key = patient_ordering_key(patient, issuer=record.examining)
    return None if key is None else partition_of_key(key)


async def send(out: Outcome) -> None:
    if out.record is not None:  # before the statuses: the report counts once it is told
        for result in out.results:
            await publish(channels.results, result.patient.key, result,
                          partition=result_partition(out.record))
    for status in out.statuses:
        await publish(channels.out(status.envelope.member_id), status.request_id, status)
    for centre, request in out.requests:
        await publish(channels.out(centre),
                      read_request_id(request.envelope.member_id, request.accession), request)
    for alert in out.alerts:
        await publish(channels.alerts, alert.kind, alert)


async def send_critical(out: CriticalOutcome) -> None:
    for status in out.statuses or ():
        await publish(channels.out(status.envelope.member_id), status.request_id, status)
    for alert in out.alerts or ():
        await publish(channels.alerts, alert.kind, alert)


def count(out: Outcome) -> None:
    record = out.record
    if record is None:
        return
    modality, priority = record.modality.value, record.priority.value
    for step in out.steps:
        metrics.REMOTE_READ_STEPS.labels(modality, step).inc()
    if out.report_seconds is not None:
        metrics.REMOTE_READ_REPORT_SECONDS.labels(record.reading, modality, priority).observe(
            out.report_seconds)
    if out.in_time is not None:
        metrics.REMOTE_READ_REPORTS.labels(modality, priority,
                                           "in_time" if out.in_time else "late").inc()
    if out.escalation_level:
        metrics.REMOTE_READ_ESCALATIONS.labels(str(out.escalation_level)).inc()


def count_critical(out: CriticalOutcome) -> None:
    for step in out.steps:
        metrics.CRITICAL_VALUE_STEPS.labels(step).inc()
    if out.acknowledged_in_time is not None:
        metrics.CRITICAL_VALUE_ACKS.labels(
            "in_time" if out.acknowledged_in_time else "late").inc()


async def _on_read(event: ReadRequest | ReadUpdate, meta: Meta) -> None:
    if isinstance(event, ReadRequest):
        rid = read_request_id(event.envelope.member_id, event.accession)
        out = on_request(load_record(rid), event, context())
    else:
        try:
            out = on_update(load_record(event.request_id), event, context())
        except Rejection as refused:
            if refused.code == Reason.READ_CLAIMED_BY_OTHER:
                metrics.REMOTE_READ_CLAIM_CONFLICTS.labels(event.envelope.member_id).inc()
            raise
    if out.repeated:
        metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
        return
    await send(out)  # the state write marking it applied waits for these
    if out.record is not None:
        await table_writes.put(tasks, meta.partition, out.record.request_id,
                               out.record.to_json())
    count(out)


async def _on_critical(event: CriticalValueUpdate, meta: Meta) -> None:
    key = critical_key(event.request_id, event.critical_id)
    out = on_critical(load_critical(key), load_record(event.request_id), event,
                      critical_context())
    if out.repeated:
        metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
        return
    await send_critical(out)
    if out.record is not None:
        await table_writes.put(criticals, meta.partition, key, out.record.to_json())
    count_critical(out)


@hub_agent(channels.remote_reads, name=AGENT)
async def remote_read(event: Event, meta: Meta) -> None:
    async with writing:
        if isinstance(event, ReadRequest | ReadUpdate):
            await _on_read(event, meta)
        elif isinstance(event, CriticalValueUpdate):
            await _on_critical(event, meta)
        else:
            raise Rejection(Reason.INVALID_EVENT, "remote_read.not_remote_read_event",
                            schema=event.avro_name())


def owned_partitions() -> set[int]:
    assigned = app.assignor.assigned_actives()
    return {tp.partition for tp in assigned if tp.topic == topics.REMOTE_READS.name}


def owned_records() -> list[ReadRecord]:
    owned = owned_partitions()
    found = (ReadRecord.from_json(value) for value in list(tasks.values()))
    return [r for r in found if home_partition(r.request_id) in owned]


def critical_register() -> list[dict[str, str]]:
    """The critical value register rows over what this worker owns (Beijing time)."""
    owned = owned_partitions()
    found = (CriticalRecord.from_json(value) for value in list(criticals.values()))
    return register_rows([c for c in found if home_partition(c.request_id) in owned],
                         _zone())
