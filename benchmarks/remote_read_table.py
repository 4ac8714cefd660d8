"""The `remote-read-tasks` table of a busy reading centre, made by the remote-read rules
themselves: `open_reads` open read requests in a realistic mix of modalities, priorities,
settings and states, each taken there by the steps the members would send
(hub.rules.remote_read.engine), with its images dated so that a share of them is past its
report deadline at `NOW` (Monday 7 December 2026, 10:00 in Beijing, a working day).

The mix (what a county consortium's centre holds at one moment; the lead hospital reads
for the centres, the township and the village clinics' ECGs): most studies are X-rays, CT
and ECGs, a few ultrasound, MR and pathology; most routine. A read waits for its images,
on the worklist, claimed, with a preliminary report, or for the examining member's
information; `overdue_share` of those with a running clock are past their deadline by 5
minutes to 2 hours (those past one hour are past the office's escalation too)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from benchmarks.referral_table import NOW, sealer_and_patient
from hub.rules.coordination import due_at, shipped_flow
from hub.rules.privacy import Sealer
from hub.rules.referral.figures import CONSORTIUM_ZONE
from hub.rules.remote_read.engine import Context, on_request, on_update
from hub.rules.remote_read.limits import (
    Limit,
    Unit,
    WorkingTime,
    deadline,
    load_limits,
    report_limit,
)
from hub.rules.remote_read.record import ReadRecord
from hub.rules.worktime import DEFAULT_WORKING_HOURS, WorkingHours
from schemas.models.clinical import OrderPriority
from schemas.models.remote_read import (
    PatientSetting,
    Reader,
    ReadModality,
    ReadReport,
    ReadRequest,
    ReadUpdate,
)
from schemas.reference.calendar import load_working_calendar
from schemas.reference.reading_centres import shipped_reading_centres
from schemas.reference.registry import load_registry

M = ReadModality
MODALITIES = ((M.DR, 0.35), (M.CT, 0.30), (M.ECG, 0.20), (M.US, 0.08), (M.MR, 0.04),
              (M.PATHOLOGY, 0.03))
ITEMS = {M.DR: "CXR", M.CT: "CT-HEAD", M.ECG: "ECG", M.US: "US-ABD", M.MR: "MRI-HEAD",
         M.PATHOLOGY: None}  # no catalogue item: pathology is not recognised
PRIORITIES = ((OrderPriority.ROUTINE, 0.80), (OrderPriority.URGENT, 0.15),
              (OrderPriority.EMERGENCY, 0.05))
SETTINGS = ((PatientSetting.OUTPATIENT, 0.55), (PatientSetting.INPATIENT, 0.25),
            (PatientSetting.PHYSICAL_EXAM, 0.15), (PatientSetting.EMERGENCY, 0.05))
EXAMINING = ("chc-east", "chc-west", "thc-river", "mch")
VILLAGES = ("vp-hexi", "vp-shanxia", "vp-dongjie")  # ECGs only
# The state an open read waits in: the reading centre's steps after the images.
PROFILES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("waiting-for-images", (), 0.10),  # no clock yet: never due
    ("images-available", (), 0.40),  # on the worklist
    ("claimed", ("CLAIMED",), 0.20),
    ("preliminary", ("CLAIMED", "PRELIMINARY_REPORT"), 0.22),
    ("waiting-for-information", ("CLAIMED", "INFO_REQUESTED"), 0.08),
)
WRITER = Reader(reader_id="R017", name="李影像", title="主治医师")
REPORT = ReadReport(report_ref="RPT-P", findings="双肺纹理增多，未见明显实变影。",
                    impression="双肺未见明显异常。")
STEP_GAP = timedelta(minutes=10)


@dataclass
class ReadTable:
    """The table as the agent stores it (Faust's JSON keys and values)."""

    sealer: Sealer  # the key the patients' blocks open with
    ctx: Context
    rows: list[tuple[bytes, bytes]] = field(default_factory=list)
    overdue_keys: set[str] = field(default_factory=set)  # past their deadline at NOW
    profile_counts: dict[str, int] = field(default_factory=dict)
    modality_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def context(sealer: Sealer) -> Context:
    """As hub.agents.remote_read.context with the shipped files and default hours."""
    work = WorkingTime(load_working_calendar(), WorkingHours.parse(DEFAULT_WORKING_HOURS),
                       CONSORTIUM_ZONE)
    return Context(shipped_flow("remote_read"), load_registry(), shipped_reading_centres(),
                   load_limits(), work, sealer.open_patient)


def _span(limit: Limit) -> timedelta:
    """The limit as clock time if every hour counted."""
    hours = {Unit.MINUTES: 1 / 60, Unit.HOURS: 1, Unit.WORKING_HOURS: 1,
             Unit.WORKING_DAYS: 24}[limit.unit]
    return timedelta(hours=limit.amount * hours)


def _images_for_due(limit: Limit, due: datetime, work: WorkingTime) -> datetime:
    """The latest moment images may come to fall due by `due` (the deadline only grows
    with the start: a bisection to the minute)."""
    low, high = due - timedelta(days=30), due
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        if deadline(limit, middle, work) <= due:
            low = middle
        else:
            high = middle
    return low


def _weighted(rng: random.Random, choices: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


class Seeder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sealer, self.sealed = sealer_and_patient()
        self.ctx = context(self.sealer)
        self.searched: dict[tuple[Limit, datetime], datetime] = {}

    def _request(self, n: int, member: str, modality: M, images_at: datetime | None,
                 opened: datetime, **fields: Any) -> ReadRequest:
        item = ITEMS[modality]
        local = f"{member}-{item or 'BL01'}"
        return ReadRequest(
            envelope=ReadRequest.new_envelope(member, occurred_at=opened),
            patient=self.sealed.model_copy(update={"key": f"{n:032x}"}),
            accession=f"RB{n}", modality=modality, item_code=item,
            local_code=local, clinical_question="头晕2天，排除脑梗死",
            ordered_at=opened, images_available_at=images_at,
            study_uid=f"1.2.840.113619.2.55.3.{n}",
            wado_url=f"https://pacs.{member}.example/dicom-web/studies/"
                     f"1.2.840.113619.2.55.3.{n}",
            ordering_doctor="王医生", ordering_department="内科", **fields)

    def _images_at(self, limit: Limit, steps: tuple[str, ...], priority: OrderPriority,
                   late: bool) -> datetime:
        if "INFO_REQUESTED" in steps:  # the machine's deadline from the question
            waits = self.ctx.config.deadlines["waiting-for-information", priority.value]
            asked = NOW - waits - self._lateness() if late \
                else NOW - waits * self.rng.uniform(0.05, 0.9)
            return asked - 2 * STEP_GAP
        if late:
            due = NOW - self._lateness()
            if (limit, due) not in self.searched:
                self.searched[limit, due] = _images_for_due(limit, due, self.ctx.work)
            return self.searched[limit, due]
        return NOW - _span(limit) * self.rng.uniform(0.05, 0.9)

    def _lateness(self) -> timedelta:
        return timedelta(minutes=5 * self.rng.randint(1, 24))  # cached searches: 5 min steps

    def read(self, n: int, steps: tuple[str, ...], no_images: bool,
             late: bool) -> ReadRecord:
        modality: M = _weighted(self.rng, MODALITIES)
        village = modality is M.ECG and self.rng.random() < 0.3
        member = self.rng.choice(VILLAGES if village else EXAMINING)
        priority: OrderPriority = _weighted(self.rng, PRIORITIES)
        setting: PatientSetting = _weighted(self.rng, SETTINGS)
        fields = {"priority": priority, "setting": setting,
                  "complex_study": modality in (M.CT, M.MR) and self.rng.random() < 0.1}
        limit = report_limit(self.ctx.limits, modality, priority, setting,
                             bool(fields["complex_study"]))
        images = None if no_images else self._images_at(limit, steps, priority, late)
        opened = (images or NOW - timedelta(hours=1)) - timedelta(minutes=15)
        out = on_request(None, self._request(n, member, modality, images, opened, **fields),
                         self.ctx)
        assert out.record is not None
        record = out.record
        gap = STEP_GAP if images is None else min(STEP_GAP, (NOW - images) / (len(steps) + 1))
        at = images or opened
        for action in steps:
            at += gap
            update = ReadUpdate(
                envelope=ReadUpdate.new_envelope(record.reading, occurred_at=at),
                request_id=record.request_id, action=action, reader=WRITER,
                report=REPORT if action == "PRELIMINARY_REPORT" else None,
                note="请补充既往病史" if action == "INFO_REQUESTED" else None)
            moved = on_update(record, update, self.ctx).record
            assert moved is not None, f"{action}: a seeding step changed nothing"
            record = moved
        return record


def build(open_reads: int, overdue_share: float = 0.08, seed: int = 27) -> ReadTable:
    """The table, each row as the agent's Faust table writes it to its store."""
    started = time.monotonic()
    seeder = Seeder(seed)
    rng = random.Random(seed + 1)
    table = ReadTable(seeder.sealer, seeder.ctx)
    for n in range(open_reads):
        name, steps = _weighted(rng, tuple(((name, steps), w) for name, steps, w in PROFILES))
        no_images = name == "waiting-for-images"
        record = seeder.read(n, steps, no_images, rng.random() < overdue_share)
        due = due_at(seeder.ctx.config, record.task)
        if due is not None and due < NOW:
            table.overdue_keys.add(record.request_id)
        table.profile_counts[name] = table.profile_counts.get(name, 0) + 1
        modality = record.modality.value
        table.modality_counts[modality] = table.modality_counts.get(modality, 0) + 1
        table.rows.append((json.dumps(record.request_id).encode(),
                           json.dumps(record.to_json()).encode()))
    table.seconds = round(time.monotonic() - started, 1)
    return table
