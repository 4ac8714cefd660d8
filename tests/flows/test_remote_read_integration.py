"""Remote diagnosis end to end on the broker, one worker for the module (RocksDB store, the
watchdog every second).

A head CT done at the Hekou township health centre (河口镇卫生院) is read at the lead
hospital: claimed by one reader, written by her, signed by another; both members' out
topics get every status (the patient in clear only there) and the final report enters the
recognition index as the lead's result, so City East's order for the same study is told
it can be recognised. A second reader's claim on a study already claimed is refused at
once; an emergency X-ray whose images came 2 hours ago (the controlled clock: its times,
not a sleep) escalates to both members and then goes to the backup centre, the operators
told; a critical value is double-checked, read back and resolved by the township only,
the lead's attempt to acknowledge it refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from schemas.models import DeadLetter, Event, Feedback, OperatorAlert, RecognitionAdvice
from schemas.models.outputs import FeedbackStatus
from schemas.models.remote_read import (
    CriticalValueStatus,
    Reader,
    ReadReport,
    ReadRequest,
    ReadStatus,
)
from schemas.reference.registry import load_registry
from schemas.topics import ALERTS, DEAD_LETTER, REMOTE_READS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess, read_all
from tests.factories import critical_update, patient, read_request, read_update
from tests.factories import test_order as make_order
from tests.runtime.test_store_rollback import start_past_what_is_there

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
WANG = patient("110101199003074518", name="王秀英")
LI = Reader(reader_id="R017", name="李影像", title="主治医师")
ZHAO = Reader(reader_id="R003", name="赵主任", title="主任医师")
QIAN = Reader(reader_id="R021", name="钱医生", title="住院医师")
CT1 = "thc-river:CT20261207001"
REPORT = ReadReport(report_ref="CT-RPT-88121", findings="左侧基底节区见斑片状低密度影，边界欠清，"
                    "中线结构居中。", impression="左侧基底节区腔隙性脑梗死。")


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    data = tmp_path_factory.mktemp("remote-read-worker")
    app_id = f"hub-remote-read-{data.name}"
    env = {**broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6",
           "HUB_STORE": "rocksdb://", "HUB_REMOTE_READ_SWEEP_SECONDS": "1"}
    started = WorkerProcess(broker.bootstrap, data, env)
    inputs = [ingress_topic(m) for m in load_registry().ids] + [REMOTE_READS.name]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    started.start()
    yield started
    started.kill()


def statuses(read_topic: Callable[..., list[Decoded]], member: str, request_id: str,
             count: int) -> list[ReadStatus]:
    def found(events: list[Decoded]) -> list[ReadStatus]:
        unique = {e.envelope.event_id: e for _, e in events
                  if isinstance(e, ReadStatus) and e.request_id == request_id}
        return list(unique.values())  # one key, one partition: in the order they were made

    return found(read_topic(feedback_topic(member), timeout=60,
                            until=lambda ev: len(found(ev)) >= count))


def rejected(read_topic: Callable[..., list[Decoded]], member: str, event: Event,
             ) -> Feedback:
    def answer(events: list[Decoded]) -> list[Feedback]:
        return [e for _, e in events if isinstance(e, Feedback) and e.status is
                FeedbackStatus.REJECTED and e.in_reply_to == event.envelope.event_id]

    [found] = answer(read_topic(feedback_topic(member), timeout=60, until=answer))[:1]
    return found


def test_a_township_ct_read_at_the_lead_goes_home_and_earns_recognition(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    river, lead = publisher("thc-river"), publisher("lead")
    river.publish(read_request("thc-river", "CT20261207001", patient=WANG, at=NOW,
                               images_available_at=NOW, local_code="HKJ04"))
    statuses(read_topic, "lead", CT1, 2)
    lead.publish(read_update("lead", CT1, "CLAIMED", reader=LI, at=NOW + timedelta(seconds=1)))
    lead.publish(read_update("lead", CT1, "PRELIMINARY_REPORT", reader=LI, report=REPORT,
                             at=NOW + timedelta(seconds=2)))
    lead.publish(read_update("lead", CT1, "FINAL_REPORT", reader=ZHAO, at=NOW + timedelta(
        seconds=3), report=REPORT.model_copy(update={"reviewer": ZHAO})))
    for member in ("thc-river", "lead"):
        seen = statuses(read_topic, member, CT1, 5)
        assert [(s.action, s.business_status) for s in seen] == [
            (None, "waiting-for-images"), ("IMAGES_AVAILABLE", "images-available"),
            ("CLAIMED", "claimed"), ("PRELIMINARY_REPORT", "preliminary"),
            ("FINAL_REPORT", "final")]
        assert {s.patient.name for s in seen} == {"王秀英"}
        final = seen[-1].report
        assert final is not None and (final.writer, final.reviewer) == (LI, ZHAO)
    [request] = [e for _, e in read_topic(feedback_topic("lead"))
                 if isinstance(e, ReadRequest) and e.accession == "CT20261207001"][:1]
    assert request.patient.id_number == WANG.id_number  # on the centre's worklist
    changelog = f"{worker.env['HUB_APP_ID']}-remote-read-tasks-changelog"
    stored = b"".join(v or b"" for _, v in read_all(worker.env["HUB_BROKER"], changelog))
    assert CT1.encode() in stored
    assert "王秀英".encode() not in stored and b"110101199003074518" not in stored
    order = make_order("chc-east", item="CT-HEAD", patient=WANG, order_id="ORD-EAST-1",
                       ordered_at=NOW + timedelta(minutes=1))
    publisher("chc-east").publish(order)

    def advice(events: list[Decoded]) -> list[RecognitionAdvice]:
        return [e for _, e in events if isinstance(e, RecognitionAdvice)
                and e.order_id == "ORD-EAST-1"]

    [told] = advice(read_topic(feedback_topic("chc-east"), timeout=60, until=advice))[:1]
    assert [(r.member_id, r.item_code) for r in told.results] == [("lead", "CT-HEAD")]
    assert told.results[0].conclusion == "左侧基底节区腔隙性脑梗死。"
    assert worker.metric("hub_remote_read_reports_total", modality="CT", priority="ROUTINE",
                         timeliness="in_time") == 1


def test_a_second_readers_claim_is_refused_at_once(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    rid = "chc-west:CT20261207002"
    publisher("chc-west").publish(read_request("chc-west", "CT20261207002", at=NOW,
                                               images_available_at=NOW))
    statuses(read_topic, "lead", rid, 2)
    first = read_update("lead", rid, "CLAIMED", reader=LI, at=NOW)
    second = read_update("lead", rid, "CLAIMED", reader=QIAN, at=NOW)
    publisher("lead").publish(first)
    publisher("lead").publish(second)
    lost = rejected(read_topic, "lead", second)
    assert lost.reason_code == "READ_CLAIMED_BY_OTHER" and "李影像" in (lost.reason or "")
    assert statuses(read_topic, "chc-west", rid, 3)[-1].by_reader == LI
    assert worker.metric("hub_remote_read_claim_conflicts_total", centre="lead") == 1


def test_a_late_emergency_x_ray_escalates_then_goes_to_the_backup_centre(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    two_hours_ago = NOW - timedelta(hours=2)
    rid = "chc-east:DR20261207003"
    publisher("chc-east").publish(read_request(
        "chc-east", "DR20261207003", modality="DR", priority="EMERGENCY", setting="EMERGENCY",
        item_code="CXR", local_code="JC-CXR", at=two_hours_ago,
        images_available_at=two_hours_ago))
    seen = statuses(read_topic, "chc-east", rid, 5)
    assert [(s.action, s.escalation_level) for s in seen][2:5] == [
        (None, 1), (None, 2), ("ROUTED_TO_BACKUP", 0)]
    assert seen[2].due_at == two_hours_ago + timedelta(minutes=30)
    assert seen[4].reading_member == "city-tcm"
    [backup] = [e for _, e in read_topic(feedback_topic("city-tcm"), timeout=60, until=lambda
                ev: any(isinstance(e, ReadRequest) for _, e in ev))
                if isinstance(e, ReadRequest)][:1]
    assert backup.accession == "DR20261207003" and backup.patient.name == "张三"

    def overdue(events: list[Decoded]) -> list[OperatorAlert]:
        return [e for _, e in events if isinstance(e, OperatorAlert)
                and e.kind == "remote-read-overdue"]

    [alert] = overdue(read_topic(ALERTS.name, timeout=30, until=overdue))
    assert alert.details["request_id"] == rid and "张三" not in alert.model_dump_json()
    assert worker.metric("hub_remote_read_escalations_total", level="2") == 1


def test_a_critical_value_is_read_back_and_closed_by_the_ordering_side_only(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    statuses(read_topic, "thc-river", CT1, 5)  # the final report is in
    lead, river = publisher("lead"), publisher("thc-river")
    lead.publish(critical_update("lead", CT1, "CV-1", "RAISED", by=LI, at=NOW,
                                 finding="左侧基底节区急性脑梗死，发病时间窗内"))
    lead.publish(critical_update("lead", CT1, "CV-1", "DOUBLE_CHECKED", by=ZHAO, at=NOW))
    meddling = critical_update("lead", CT1, "CV-1", "ACKNOWLEDGED", by=ZHAO, at=NOW,
                               read_back="左侧基底节区急性脑梗死")
    lead.publish(meddling)
    assert rejected(read_topic, "lead", meddling).reason_code == "ROLE_NOT_ALLOWED"
    river.publish(critical_update("thc-river", CT1, "CV-1", "ACKNOWLEDGED", at=NOW,
                                  read_back="左侧基底节区急性脑梗死，发病时间窗内，已告知主管医生"))
    river.publish(critical_update("thc-river", CT1, "CV-1", "RESOLVED", at=NOW,
                                  note="已联系上级医院卒中中心，启动溶栓转诊"))

    def steps(events: list[Decoded]) -> list[CriticalValueStatus]:
        unique = {e.envelope.event_id: e for _, e in events
                  if isinstance(e, CriticalValueStatus) and e.critical_id == "CV-1"}
        return list(unique.values())

    seen = steps(read_topic(feedback_topic("thc-river"), timeout=60,
                            until=lambda ev: len(steps(ev)) >= 5))
    assert [s.action for s in seen] == ["RAISED", "DOUBLE_CHECKED", "DELIVERED",
                                        "ACKNOWLEDGED", "RESOLVED"]
    assert seen[-1].state == "resolved" and seen[-1].patient.name == "王秀英"
    assert seen[-1].read_back == "左侧基底节区急性脑梗死，发病时间窗内，已告知主管医生"
    letters = [e for _, e in read_topic(DEAD_LETTER.name) if isinstance(e, DeadLetter)
               and e.original_event_id == meddling.envelope.event_id]
    assert letters and letters[0].agent == "remote_read"
