"""Two-way referral end to end on the broker, one worker for the module (RocksDB store, the
watchdog every second).

The module's worker first runs with a fault: it is SIGKILLed right after its first write to
`referral-tasks` (an upward referral from the Hexi village clinic to the lead hospital),
its outputs not yet acknowledged; the restarted worker is handed the input again and sends
them again: every copy on the out topics is, byte for byte, what the rules make of that
input (ids and times derive from it). Then, on the restarted worker: the lead publishes its
reserved specialist slots and accepts the referral into one (both parties' out topics get
every status, the patient in clear only there); a third member's step is refused to it and
to the dead-letter topic; two acceptances race for one slot (one wins, the lead is told
which slot was taken); a pool reserving 10% warns the office; urgent referrals made 2 and
4 hours ago (the controlled clock: their times, not a sleep) escalate to both parties, and
past the office's 2 hours to the office; the lead refers one onward to the city TCM
hospital, which receives it as a new referral from the village clinic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from hub.rules.admission import admit
from hub.rules.coordination import shipped_flow
from hub.rules.privacy import Sealer
from hub.rules.referral.engine import Context, on_request
from hub.settings import HubSettings
from schemas.models import DeadLetter, Event, Feedback, OperatorAlert
from schemas.models.outputs import FeedbackStatus
from schemas.models.referral import Booking, ReferralRequest, ReferralStatus
from schemas.reference.registry import load_registry
from schemas.topics import ALERTS, DEAD_LETTER, REFERRALS, feedback_topic, ingress_topic
from tests.conftest import CODEC, Decoded, WorkerProcess, read_all
from tests.factories import capacity_pool, patient, referral_request, referral_update
from tests.runtime.test_store_rollback import start_past_what_is_there

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SLOT_AT = (NOW + timedelta(days=1)).replace(minute=0, second=0)
ZHANG = patient("110101199003074518", name="张伟")
SLOTS = [("CARD-0900", SLOT_AT), ("CARD-0930", SLOT_AT + timedelta(minutes=30))]
FIRST = referral_request("vp-hexi", "lead", "R1", patient=ZHANG, at=NOW)


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[WorkerProcess]:
    """The module's worker, after its faulty first life (see the module's docstring)."""
    data = tmp_path_factory.mktemp("referral-worker")
    app_id = f"hub-referral-{data.name}"
    env = {**broker.worker_env(), "HUB_APP_ID": app_id, "HUB_SESSION_TIMEOUT": "6",
           "HUB_STORE": "rocksdb://", "HUB_REFERRAL_SWEEP_SECONDS": "1"}
    faulty = WorkerProcess(broker.bootstrap, data,
                           {**env, "HUB_FAULT_KILL_AFTER_STORE_WRITE": "referral-tasks"})
    restarted = WorkerProcess(broker.bootstrap, data, env, web_port=faulty.web_port)
    inputs = [ingress_topic(m) for m in load_registry().ids] + [REFERRALS.name]
    start_past_what_is_there(broker.bootstrap, app_id, inputs)
    faulty.start()
    with MemberPublisher(broker.bootstrap, "vp-hexi") as hexi:
        hexi.publish(FIRST)
    assert faulty.process is not None
    faulty.process.wait(60)
    assert "fault injection: killed after a local write" in faulty.log_tail()
    restarted.start()
    yield restarted
    restarted.kill()


def statuses(read_topic: Callable[..., list[Decoded]], member: str, referral: str,
             count: int) -> list[ReferralStatus]:
    """The statuses of one referral on a member's out topic, once each, in order."""
    def found(events: list[Decoded]) -> list[ReferralStatus]:
        unique = {e.envelope.event_id: e for _, e in events
                  if isinstance(e, ReferralStatus) and e.referral_id == referral}
        return sorted(unique.values(), key=lambda s: (s.at, s.escalation_level))

    return found(read_topic(feedback_topic(member), timeout=60,
                            until=lambda ev: len(found(ev)) >= count))


def rejected(read_topic: Callable[..., list[Decoded]], member: str, event: Event,
             ) -> Feedback:
    def answer(events: list[Decoded]) -> list[Feedback]:
        return [e for _, e in events if isinstance(e, Feedback) and e.status is
                FeedbackStatus.REJECTED and e.in_reply_to == event.envelope.event_id]

    [found] = answer(read_topic(feedback_topic(member), timeout=60, until=answer))[:1]
    return found


def test_a_killed_worker_loses_no_output_and_repeats_it_byte_for_byte(
    worker: WorkerProcess, read_topic: Callable[..., list[Decoded]],
) -> None:
    """Whatever copies of the first referral's outputs the two lives of the worker sent
    are all, byte for byte, what the rules make of that input (with the worker's keys)."""
    [opened] = statuses(read_topic, "vp-hexi", "vp-hexi:R1", 1)
    assert opened.business_status == "requested" and opened.patient.name == "张伟"
    settings = HubSettings()
    sealer = Sealer(settings.sealing_key.get_secret_value().encode())
    registry = load_registry()
    admitted = admit(FIRST, "vp-hexi", registry,
                     settings.pseudonym_secret.get_secret_value().encode(), sealer,
                     now=datetime.now(UTC), clock_skew=timedelta(minutes=5))
    assert isinstance(admitted.event, ReferralRequest)
    made = on_request(None, admitted.event, Context(
        shipped_flow("referral"), registry, sealer.open_patient, settings.locale()), {}.get)
    expected = {CODEC.encode(event) for event in [*made.statuses, *made.requests]}
    sent: set[bytes] = set()
    for member in ("vp-hexi", "lead"):
        for _, raw in read_all(worker.env["HUB_BROKER"], feedback_topic(member)):
            event = CODEC.decode(raw)
            if (isinstance(event, ReferralStatus) and event.referral_id == "vp-hexi:R1") or \
                    (isinstance(event, ReferralRequest) and event.referral_ref == "R1"):
                sent.add(raw)
    assert len(expected) == 3 and sent == expected


def test_an_upward_referral_is_accepted_into_a_reserved_slot(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    lead = publisher("lead")
    lead.publish(capacity_pool("lead", "card-w50", total=10, reserved=2, slots=SLOTS, at=NOW))
    lead.publish(capacity_pool("lead", "ct", total=100, reserved=10, at=NOW,
                               resource="EXAMINATION", resource_name="CT检查"))
    [alert] = [e for _, e in read_topic(ALERTS.name, timeout=60, until=lambda ev: any(
        isinstance(e, OperatorAlert) and e.kind == "referral-reserve-below-20pct"
        for _, e in ev)) if isinstance(e, OperatorAlert)
        and e.kind == "referral-reserve-below-20pct"]
    assert alert.summary == "安县人民医院的CT检查预留给转诊患者 10/100（10%），低于 20%"
    lead.publish(referral_update("lead", "vp-hexi:R1", "lead", "ACCEPTED", at=NOW,
                                 booking=Booking(pool_id="card-w50", slot_id="CARD-0900")))
    for member in ("vp-hexi", "lead"):
        seen = statuses(read_topic, member, "vp-hexi:R1", 3)
        assert [(s.action, s.business_status) for s in seen] == [
            (None, "requested"), ("ACCEPTED", "accepted"), ("BOOKED", "booked")]
        assert {s.patient.name for s in seen} == {"张伟"}
        assert seen[-1].booking == Booking(pool_id="card-w50", slot_id="CARD-0900",
                                           starts_at=SLOT_AT)
        assert seen[-1].due_at == SLOT_AT + timedelta(days=1)
    [request] = [e for _, e in read_topic(feedback_topic("lead")) if
                 isinstance(e, ReferralRequest) and e.referral_ref == "R1"][:1]
    assert request.patient.id_number == ZHANG.id_number  # the lead's HIS admits the patient
    changelog = f"{worker.env['HUB_APP_ID']}-referral-tasks-changelog"
    stored = b"".join(v or b"" for _, v in read_all(worker.env["HUB_BROKER"], changelog))
    assert b"vp-hexi:R1" in stored
    assert "张伟".encode() not in stored and b"110101199003074518" not in stored
    assert worker.metric("hub_referral_steps_total", direction="UP", step="BOOKED") == 1


def test_a_third_member_and_a_taken_slot_are_refused_with_the_reason(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    meddling = referral_update("chc-east", "vp-hexi:R1", "lead", "ACCEPTED", at=NOW)
    publisher("chc-east").publish(meddling)
    answer = rejected(read_topic, "chc-east", meddling)
    assert answer.reason_code == "NOT_A_PARTY" and "chc-east" in (answer.reason or "")
    publisher("vp-shanxia").publish(referral_request("vp-shanxia", "lead", "R2", at=NOW))
    publisher("thc-river").publish(referral_request("thc-river", "lead", "R3", at=NOW))
    statuses(read_topic, "lead", "vp-shanxia:R2", 1)
    statuses(read_topic, "lead", "thc-river:R3", 1)
    slot = Booking(pool_id="card-w50", slot_id="CARD-0930")
    first = referral_update("lead", "vp-shanxia:R2", "lead", "ACCEPTED", at=NOW, booking=slot)
    second = referral_update("lead", "thc-river:R3", "lead", "ACCEPTED", at=NOW, booking=slot)
    publisher("lead").publish(first)
    publisher("lead").publish(second)
    lost = rejected(read_topic, "lead", second)
    assert lost.reason_code == "SLOT_TAKEN" and "CARD-0930" in (lost.reason or "")
    assert [s.business_status for s in statuses(read_topic, "vp-shanxia", "vp-shanxia:R2", 3)
            ][-1] == "booked"
    letters = {e.original_event_id: e for _, e in read_topic(DEAD_LETTER.name, timeout=30,
               until=lambda ev: len(ev) >= 2) if isinstance(e, DeadLetter)}
    assert (letters[meddling.envelope.event_id].reason_code,
            letters[meddling.envelope.event_id].agent) == ("NOT_A_PARTY", "referral")
    assert letters[second.envelope.event_id].reason_code == "SLOT_TAKEN"
    assert [s.business_status for s in statuses(read_topic, "thc-river", "thc-river:R3", 1)
            ] == ["requested"]  # the loser stays where it was
    assert worker.metric("hub_referral_slot_conflicts_total", member="lead") == 1


def test_stalled_urgent_referrals_escalate_then_one_is_referred_onward(
    worker: WorkerProcess, publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    two_hours_ago = NOW - timedelta(hours=2, minutes=1)
    four_hours_ago = NOW - timedelta(hours=4, minutes=1)
    publisher("vp-dongjie").publish(referral_request(
        "vp-dongjie", "lead", "R4", priority="URGENT", at=two_hours_ago))
    publisher("chc-west").publish(referral_request(
        "chc-west", "lead", "R5", priority="URGENT", at=four_hours_ago))
    [_, parties] = statuses(read_topic, "vp-dongjie", "vp-dongjie:R4", 2)
    assert (parties.escalation_level, parties.action) == (1, None)
    assert parties.due_at == two_hours_ago + timedelta(hours=2)
    office = statuses(read_topic, "lead", "chc-west:R5", 3)
    assert [s.escalation_level for s in office] == [0, 1, 2]

    def overdue(events: list[Decoded]) -> list[OperatorAlert]:
        return [e for _, e in events if isinstance(e, OperatorAlert)
                and e.kind == "referral-overdue"]

    [alert] = overdue(read_topic(ALERTS.name, timeout=30, until=overdue))
    assert alert.details["referral_id"] == "chc-west:R5" and alert.details["level"] == "2"
    assert "张三" not in alert.model_dump_json()  # pseudonymous: no identity at all
    onward = referral_update("lead", "vp-dongjie:R4", "lead", "REFERRED_ONWARD", at=NOW,
                             onward_to="city-tcm")
    publisher("lead").publish(onward)
    new_id = "vp-dongjie:R4/onward-1"
    assert statuses(read_topic, "vp-dongjie", "vp-dongjie:R4", 3)[-1].onward_referral_id == \
        new_id
    [opened] = statuses(read_topic, "city-tcm", new_id, 1)
    assert (opened.referrer_id, opened.receiver_id, opened.patient.name) == (
        "vp-dongjie", "city-tcm", "张三")
    [received] = [e for _, e in read_topic(feedback_topic("city-tcm"))
                  if isinstance(e, ReferralRequest)]
    assert received.onward_of == "vp-dongjie:R4" and received.patient.name == "张三"
    assert worker.metric("hub_referral_escalations_total", level="2") == 1
