"""The read requests of the crash workload (issue 27): five studies of the centres and the
township sent to the lead hospital's reading centre, through their steps one chunk at a
time, and what a run leaves of them.

Two readers race to claim one study in one chunk (the first wins: the lead's steps stay in
order on its topic); preliminary and final reports are written and signed by different
readers; a final report is amended; the township's DR waits for its images; mch cancels
its ultrasound; a critical value is raised, double-checked, acknowledged with its read-back
and resolved by the ordering member, the reading side's own acknowledgement refused. Final
reports of the lead (QC passed for every item) enter hub.results for recognition, for
patients the mix never sees (numbers past its 400), so the index's order is every run's.

A request's steps come from two members, whose topics the hub reads side by side: each
chunk holds at most one member's steps on a request, after the chunks that made them legal.
Every request is routine and outpatient (4 working hours at the least) and the workload's
workers give a critical value a day to be acknowledged (CRITICAL_ACK_MINUTES): no deadline
falls due while the tests run, in every run alike."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from benchmarks.workload import patient_number
from schemas.codec import AvroCodec
from schemas.models import Event
from schemas.models.clinical import ImagingReport
from schemas.models.remote_read import CriticalValueStatus, Reader, ReadReport, ReadStatus
from tests.factories import critical_update, read_request, read_update
from tests.faults.referral_inputs import status_differences

CODEC = AvroCodec()
LEAD = "lead"
CRITICAL_ACK_MINUTES = "1440"
TABLES = ("remote-read-tasks", "critical-values")
LI = Reader(reader_id="R017", name="李影像", title="主治医师")
ZHAO = Reader(reader_id="R003", name="赵主任", title="主任医师")
QIAN = Reader(reader_id="R021", name="钱医生", title="住院医师")
EXAMINING = {"CT1": "chc-east", "CT2": "chc-west", "DR3": "thc-river", "US4": "mch",
             "ECG5": "chc-east"}  # accession -> the examining member
CV = "CV-1"
EXPECTED_STATES = {"chc-east:CT1": "final", "chc-west:CT2": "amended",
                   "thc-river:DR3": "final", "mch:US4": "cancelled",
                   "chc-east:ECG5": "preliminary"}
EXPECTED_CRITICAL = {f"chc-east:CT1|{CV}": "resolved"}
RECOGNISED = {"chc-east:CT1", "chc-west:CT2", "thc-river:DR3"}  # final reports indexed


def _rid(accession: str) -> str:
    return f"{EXAMINING[accession]}:{accession}"


def _report(ref: str, impression: str, **fields: Any) -> ReadReport:
    return ReadReport(report_ref=ref, findings="双肺纹理增多，未见明显实变影。",
                      impression=impression, **fields)


def read_chunks(now: datetime, chunks: int) -> list[list[tuple[str, Event]]]:
    """The read events of each chunk, (sender, event), in the order sent."""
    at = iter(now + timedelta(seconds=s) for s in range(1000))

    def step(member: str, accession: str, action: str, **fields: Any) -> tuple[str, Event]:
        return member, read_update(member, _rid(accession), action, at=next(at), **fields)

    def critical(member: str, action: str, **fields: Any) -> tuple[str, Event]:
        return member, critical_update(member, _rid("CT1"), CV, action, at=next(at), **fields)

    def request(accession: str, n: int, modality: str, item: str, images: bool = True,
                ) -> tuple[str, Event]:
        member, when = EXAMINING[accession], next(at)
        return member, read_request(member, accession, modality=modality, at=when,
                                    item_code=item, local_code=f"{member}-{item}",
                                    patient=patient_number(n),
                                    images_available_at=when if images else None)

    ct1, ct2 = _report("RPT-1", "左侧基底节区腔隙性脑梗死。"), _report("RPT-2", "双肺未见异常。")
    dr3 = _report("RPT-3", "心肺膈未见异常。")
    amended = _report("RPT-2A", "右肺下叶小结节，建议3个月复查。", reviewer=ZHAO,
                      supersedes="RPT-2", amend_reason="复阅发现右肺下叶小结节")
    plan: list[list[tuple[str, Event]]] = [
        [request("CT1", 500, "CT", "CT-HEAD"), request("CT2", 501, "CT", "CT-CHEST"),
         request("DR3", 502, "DR", "CXR", images=False), request("US4", 503, "US", "US-ABD"),
         request("ECG5", 504, "ECG", "ECG")],
        [step(LEAD, "CT1", "CLAIMED", reader=LI),
         step(LEAD, "CT1", "PRELIMINARY_REPORT", reader=LI, report=ct1),
         step(LEAD, "CT2", "CLAIMED", reader=LI),
         step(LEAD, "CT2", "CLAIMED", reader=QIAN),  # the study is LI's: refused
         step(LEAD, "US4", "CLAIMED", reader=QIAN), step(LEAD, "ECG5", "CLAIMED", reader=QIAN),
         step("thc-river", "DR3", "IMAGES_AVAILABLE")],
        [step(LEAD, "CT1", "FINAL_REPORT", reader=ZHAO,
              report=ct1.model_copy(update={"reviewer": ZHAO})),
         step(LEAD, "CT2", "PRELIMINARY_REPORT", reader=LI, report=ct2),
         step(LEAD, "DR3", "CLAIMED", reader=QIAN),
         step(LEAD, "DR3", "PRELIMINARY_REPORT", reader=QIAN, report=dr3),
         step(LEAD, "ECG5", "PRELIMINARY_REPORT", reader=QIAN,
              report=_report("RPT-5", "窦性心律。")),
         step("mch", "US4", "CANCELLED", note="患者已转上级医院")],
        [critical(LEAD, "RAISED", by=LI, finding="左侧基底节区急性脑梗死，发病时间窗内"),
         critical(LEAD, "DOUBLE_CHECKED", by=ZHAO),
         critical(LEAD, "ACKNOWLEDGED", by=ZHAO, read_back="急性脑梗死"),  # not its: refused
         step(LEAD, "CT2", "FINAL_REPORT", reader=ZHAO,
              report=ct2.model_copy(update={"reviewer": ZHAO})),
         step(LEAD, "DR3", "FINAL_REPORT", reader=ZHAO,
              report=dr3.model_copy(update={"reviewer": ZHAO}))],
        [critical("chc-east", "ACKNOWLEDGED",
                  read_back="左侧基底节区急性脑梗死，发病时间窗内，已告知主管医生"),
         critical("chc-east", "RESOLVED", note="已联系卒中中心，启动溶栓转诊"),
         step(LEAD, "CT2", "AMENDED_REPORT", reader=ZHAO, report=amended)],
    ]
    assert len(plan) <= chunks
    return plan + [[] for _ in range(chunks - len(plan))]


def read_statuses(
    on_topics: dict[str, list[tuple[bytes | None, bytes]]],
) -> dict[str, dict[str, Counter[bytes]]]:
    """Per out topic (its messages as read): each ReadStatus's and CriticalValueStatus's
    status_id, and how often each distinct message carrying it was written."""
    found: dict[str, dict[str, Counter[bytes]]] = {}
    for topic, messages in on_topics.items():
        by_status: dict[str, Counter[bytes]] = {}
        for _, raw in messages:
            event = CODEC.decode(raw)
            if isinstance(event, ReadStatus | CriticalValueStatus):
                by_status.setdefault(event.status_id, Counter())[raw] += 1
        found[topic] = by_status
    return found


def read_results(
    messages: list[tuple[bytes | None, bytes]],
) -> dict[str, tuple[Counter[bytes], set[str]]]:
    """The read reports among hub.results' messages, by event id: how often each distinct
    message was written, and the distinct messages without their sealed patient block
    (freshly encrypted in each run)."""
    found: dict[str, tuple[Counter[bytes], set[str]]] = {}
    for _, raw in messages:
        event = CODEC.decode(raw)
        if isinstance(event, ImagingReport) and event.order_ref in REQUEST_IDS:
            copies, unsealed = found.setdefault(event.envelope.event_id, (Counter(), set()))
            copies[raw] += 1
            patient = event.patient.model_copy(update={"sealed": None})
            unsealed.add(event.model_copy(update={"patient": patient}).model_dump_json())
    return found


REQUEST_IDS = frozenset(_rid(a) for a in EXAMINING)


def normalized(table: str, state: dict[str, Any]) -> dict[str, Any]:
    """A read table's state without what differs between runs: the sealed patient block
    (freshly encrypted each time)."""
    if table == "critical-values":
        return {key: {**value, "critical": dict(value["critical"], sealed_patient="")}
                for key, value in state.items()}
    out = {}
    for key, value in state.items():
        read = dict(value["read"], sealed_patient="")
        request = dict(read["request"])
        request["patient"] = dict(request["patient"], sealed=None)
        out[key] = {**value, "read": dict(read, request=request)}
    return out


def assert_reads_same(reference: dict[str, Any], got: dict[str, Any]) -> None:
    """Every read and critical-value status the reference run sent to a member is on that
    member's out topic, every copy the same message, and no other; each final report the
    reference put on hub.results is there, every copy the same, and no other."""
    differences = status_differences(reference["read_statuses"], got["read_statuses"])
    expected, seen = reference["read_results"], got["read_results"]
    if set(expected) != set(seen) or any(len(copies) > 1 for copies, _ in seen.values()) \
            or any(seen[i][1] != expected[i][1] for i in set(expected) & set(seen)):
        differences["results"] = ({i: len(c) for i, (c, _) in expected.items()},
                                  {i: len(c) for i, (c, _) in seen.items()})
    assert differences == {}, differences
