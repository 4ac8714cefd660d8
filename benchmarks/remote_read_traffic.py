"""Remote-diagnosis traffic for the mix (issue 27), deterministic per seed: the centres and
the township send studies (images already there) to the lead hospital's reading centre,
which claims each, writes a preliminary report and has a second reader sign the final;
now and then the examining member cancels, and a few final reports carry a critical value
the lead raises and double-checks and the examining member acknowledges with its
read-back and resolves.

A request's events come from two members (the examining member's topic and the lead's),
which the hub reads side by side: as for the referrals (benchmarks/referral_traffic.py) a
step is only drawn for a request sent at least `LAG` read events earlier, and each
request's steps are spread as far apart again. A request is drawn a fifth of the time
after that: four steps for each, a few more than a path has on average (3.1), so the open
requests stay about `LAG` and every path ends."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schemas.models import Event
from schemas.models.common import Patient
from schemas.models.remote_read import (
    CriticalAction,
    CriticalValueUpdate,
    ReadAction,
    Reader,
    ReadModality,
    ReadReport,
    ReadRequest,
    ReadUpdate,
    read_request_id,
)

LEAD = "lead"
EXAMINING = ("chc-east", "chc-west", "thc-river", "mch")
LAG = 30
# (modality, catalogue item, name): what primary care sends the lead to read
STUDIES = ((ReadModality.CT, "CT-HEAD", "头颅CT平扫"), (ReadModality.CT, "CT-CHEST", "胸部CT平扫"),
           (ReadModality.DR, "CXR", "胸部正位片"), (ReadModality.ECG, "ECG", "常规十二导联心电图"))
WRITER = Reader(reader_id="R017", name="李影像", title="主治医师")
REVIEWER = Reader(reader_id="R003", name="赵主任", title="主任医师")
A, C = ReadAction, CriticalAction
Step = ReadAction | CriticalAction
READ_PATH: tuple[Step, ...] = (A.CLAIMED, A.PRELIMINARY_REPORT, A.FINAL_REPORT)
CANCELLED_PATH: tuple[Step, ...] = (A.CANCELLED,)  # the examining member's, on its topic
CRITICAL_PATH: tuple[Step, ...] = (*READ_PATH, C.RAISED, C.DOUBLE_CHECKED, C.ACKNOWLEDGED,
                                   C.RESOLVED)
BY_EXAMINING = frozenset({A.CANCELLED, C.ACKNOWLEDGED, C.RESOLVED})


@dataclass
class _Open:
    """A request the traffic has sent and the steps it has still to send."""

    request_id: str
    examining: str
    steps: deque[Step]


class ReadTraffic:
    def __init__(self, rng: random.Random, patient: Callable[[random.Random], Patient],
                 ) -> None:
        self.rng = rng
        self.patient = patient
        self.waiting: deque[_Open] = deque()
        self._sequence = 0

    def next(self, now: datetime) -> Event:
        if len(self.waiting) < LAG or self.rng.random() < 0.2:
            return self.request(now)
        read = self.waiting.popleft()
        action = read.steps.popleft()
        if read.steps:
            self.waiting.append(read)
        sender = read.examining if action in BY_EXAMINING else LEAD
        if isinstance(action, CriticalAction):
            return CriticalValueUpdate(
                envelope=CriticalValueUpdate.new_envelope(sender, occurred_at=now),
                request_id=read.request_id, critical_id="CV-1", action=action,
                by=REVIEWER if action is C.DOUBLE_CHECKED else
                WRITER if action is C.RAISED else None,
                finding="左侧基底节区急性脑梗死，发病时间窗内" if action is C.RAISED else None,
                read_back="左侧基底节区急性脑梗死，已告知主管医生"
                if action is C.ACKNOWLEDGED else None,
                note="已启动溶栓转诊" if action is C.RESOLVED else None)
        report = None
        if action in (A.PRELIMINARY_REPORT, A.FINAL_REPORT):
            report = ReadReport(
                report_ref=f"RPT-{read.request_id}", findings="双肺纹理增多，未见明显实变影。",
                impression="双肺未见明显异常。",
                reviewer=REVIEWER if action is A.FINAL_REPORT else None)
        return ReadUpdate(
            envelope=ReadUpdate.new_envelope(sender, occurred_at=now),
            request_id=read.request_id, action=action, report=report,
            reader=REVIEWER if action is A.FINAL_REPORT else
            None if action is A.CANCELLED else WRITER,
            note="患者已转上级医院" if action is A.CANCELLED else None)

    def request(self, now: datetime) -> Event:
        self._sequence += 1
        member = self.rng.choice(EXAMINING)
        modality, item, name = self.rng.choice(STUDIES)
        accession = f"RB{self._sequence}"
        draw = self.rng.random()
        path = CANCELLED_PATH if draw < 0.05 else CRITICAL_PATH if draw < 0.10 else READ_PATH
        self.waiting.append(_Open(read_request_id(member, accession), member, deque(path)))
        return ReadRequest(
            envelope=ReadRequest.new_envelope(member, occurred_at=now),
            patient=self.patient(self.rng), accession=accession, modality=modality,
            item_code=item, local_code=f"{member}-{item}", item_name=name,
            clinical_question="头晕2天，排除脑梗死", ordered_at=now, images_available_at=now,
            study_uid=f"1.2.840.113619.2.55.3.{self._sequence}",
            wado_url=f"https://pacs.{member}.example/dicom-web/studies/"
                     f"1.2.840.113619.2.55.3.{self._sequence}",
            ordering_doctor="王医生", ordering_department="内科")
