"""One event from a member's connector through the hub and back, plus every kind of bad
input intake must refuse, with a real worker. The SDK keys an event onto its home partition,
where intake hands it to the flows; one keyed otherwise is forwarded to the internal topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from schemas.codec import MARKER, AvroCodec
from schemas.models import DeadLetter, Event, Feedback, LabResult
from schemas.models.outputs import FeedbackStatus, StockLevel
from schemas.topics import DEAD_LETTER, PHARMACY_STOCK_LEVELS, RESULTS, STOCK, feedback_topic
from tests.conftest import Decoded, WorkerProcess, read_all
from tests.factories import NOW, lab_result, misplaced_key, stock_event

pytestmark = pytest.mark.integration
CODEC = AvroCodec()
DRUG = "XJ01CAA040E001010101445"  # amoxicillin capsules, in the formulary


def feedback_for(events: list[Decoded]) -> dict[str | None, list[Feedback]]:
    by_reply: dict[str | None, list[Feedback]] = {}
    for _, event in events:
        if isinstance(event, Feedback):
            by_reply.setdefault(event.in_reply_to, []).append(event)
    return by_reply


def with_event_id(event: Event, event_id: str) -> Event:
    return event.model_copy(update={"envelope": event.envelope.model_copy(
        update={"event_id": event_id})})


def test_intake_accepts_forwards_and_rejects(
    broker: BaseBroker,
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker()
    lead, east = publisher("lead"), publisher("chc-east")

    good = lab_result("lead")  # keyed off its home partition: forwarded
    stock = stock_event("chc-east", "RECEIPT", DRUG, 100)  # by the SDK: handled in place
    lead.send_bytes(CODEC.encode(good), key=misplaced_key(good))
    east.publish(stock)
    lead.send_bytes(CODEC.encode(good), key=misplaced_key(good))  # the same event id again
    east.send_bytes(b"\x00garbage that is not avro")
    east.send_bytes(MARKER + b"\x01\x02\x03\x04\x05\x06\x07\x08" + b"\x02")
    impostor = lab_result("lead")  # claims to be lead, arrives on chc-east's topic
    east.send_bytes(CODEC.encode(impostor))
    after = lab_result("chc-east", item="NA")  # the worker is still going after all that
    east.publish(after)

    results = read_topic(RESULTS.name, until=lambda ev: len(ev) >= 1, kinds=(LabResult,))
    forwarded = {e.envelope.event_id: (k, e) for k, e in results}
    assert set(forwarded) == {good.envelope.event_id}  # not `after`: it came home
    key, fwd = forwarded[good.envelope.event_id]
    assert isinstance(fwd, LabResult)
    assert fwd.patient.key is not None and key == fwd.patient.key.encode()
    assert fwd.patient.id_number is None and fwd.patient.name is None
    assert fwd.patient.address is None and fwd.patient.phone is None
    assert fwd.patient.sealed is not None and b"110101" not in fwd.patient.sealed

    levels = read_topic(PHARMACY_STOCK_LEVELS.name, until=lambda ev: len(ev) >= 1,
                        kinds=(StockLevel,))
    assert [(e.stock_event_id, e.member_id, e.drug_code) for _, e in levels
            if isinstance(e, StockLevel)] == [
        (stock.envelope.event_id, "chc-east", DRUG)
    ]
    assert read_all(broker.bootstrap, STOCK.name) == []

    letters = read_topic(DEAD_LETTER.name, until=lambda ev: len(ev) >= 4, kinds=(DeadLetter,))
    reasons = sorted(e.reason_code for _, e in letters if isinstance(e, DeadLetter))
    assert reasons == ["DUPLICATE_EVENT", "MALFORMED", "MEMBER_MISMATCH", "UNKNOWN_SCHEMA"]
    for _, letter in letters:
        assert isinstance(letter, DeadLetter) and letter.agent == "intake"
        assert letter.original_size > 0 and b"110101" not in letter.original_sealed

    lead_fb = feedback_for(read_topic(feedback_topic("lead"), until=lambda ev: len(ev) >= 2))
    assert [f.status for f in lead_fb[good.envelope.event_id]] == [
        FeedbackStatus.ACCEPTED, FeedbackStatus.REJECTED
    ]
    assert lead_fb[good.envelope.event_id][1].reason_code == "DUPLICATE_EVENT"
    assert impostor.envelope.event_id not in lead_fb  # lead never hears of the impostor

    east_events = read_topic(feedback_topic("chc-east"), until=lambda ev: len(ev) >= 5)
    east_fb = [e for _, e in east_events if isinstance(e, Feedback)]
    rejected = sorted(f.reason_code or "" for f in east_fb if f.status == FeedbackStatus.REJECTED)
    assert rejected == ["MALFORMED", "MEMBER_MISMATCH", "UNKNOWN_SCHEMA"]
    accepted = {f.in_reply_to for f in east_fb if f.status == FeedbackStatus.ACCEPTED}
    assert accepted == {stock.envelope.event_id, after.envelope.event_id}
    assert worker.running()


def test_impossible_and_hostile_input_is_refused_precisely(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """What a tester sent straight to members' ingress topics, as a broken or hostile
    member system would: each is answered with its own reason, no member can block
    another's events, and intake keeps going."""
    worker = start_worker()
    lead, east = publisher("lead"), publisher("chc-east")

    real = lab_result("lead")
    lead.publish(real)
    east.send_bytes(CODEC.encode(real))  # chc-east publishes as the lead: forged, not a dup
    taken_id = str(uuid.uuid4())  # the id the lead's next LIS message will get
    east.publish(with_event_id(lab_result("chc-east", item="NA"), taken_id))
    lead_next = with_event_id(lab_result("lead", item="NA"), taken_id)
    lead.publish(lead_next)
    in_2096 = lab_result("lead").model_copy(update={"reported_at": NOW.replace(year=2096)})
    lead.publish(in_2096)
    no_ids = [with_event_id(lab_result("lead", item=item), "") for item in ("CL", "CA")]
    for event in no_ids:
        lead.send_bytes(CODEC.encode(event))
    huge_name = "王" * (950 * 1024 // 3)
    huge = lab_result("chc-east")
    huge = huge.model_copy(update={"patient": huge.patient.model_copy(update={"name": huge_name})})
    east.send_bytes(CODEC.encode(huge))
    after = lab_result("chc-east", item="GLU")
    east.publish(after)

    def answers(member: str, count: int) -> list[Feedback]:
        got = read_topic(feedback_topic(member), kinds=(Feedback,), timeout=60,
                         until=lambda ev: len(ev) >= count)
        return [e for _, e in got if isinstance(e, Feedback)]

    east_fb = answers("chc-east", 4)
    by_reply = {(f.in_reply_to, f.status): f for f in east_fb}
    forged = by_reply[(real.envelope.event_id, FeedbackStatus.REJECTED)]
    assert forged.reason_code == "MEMBER_MISMATCH"
    assert (taken_id, FeedbackStatus.ACCEPTED) in by_reply
    assert (after.envelope.event_id, FeedbackStatus.ACCEPTED) in by_reply  # still serving
    too_long = [f for f in east_fb if f.reason_code == "FIELD_TOO_LONG"]
    assert len(too_long) == 1 and too_long[0].in_reply_to == huge.envelope.event_id
    assert "patient.name" in (too_long[0].reason or "") and "王王" not in (too_long[0].reason or "")

    lead_fb = answers("lead", 5)
    statuses = {(f.in_reply_to, f.status, f.reason_code) for f in lead_fb}
    assert (real.envelope.event_id, FeedbackStatus.ACCEPTED, None) in statuses
    assert (taken_id, FeedbackStatus.ACCEPTED, None) in statuses  # not a duplicate of east's
    future = [f for f in lead_fb if f.in_reply_to == in_2096.envelope.event_id]
    assert [(f.status, f.reason_code) for f in future] == [
        (FeedbackStatus.REJECTED, "FUTURE_DATE")]
    assert "reported_at" in (future[0].reason or "")
    assert [f.reason_code for f in lead_fb if f.in_reply_to == ""] == ["INVALID_EVENT_ID"] * 2

    letters = read_topic(DEAD_LETTER.name, kinds=(DeadLetter,), timeout=60, until=lambda ev: any(
        isinstance(e, DeadLetter) and e.reason_code == "FIELD_TOO_LONG" for _, e in ev))
    letter = next(e for _, e in letters
                  if isinstance(e, DeadLetter) and e.reason_code == "FIELD_TOO_LONG")
    assert letter.original_size > 950 * 1024 and letter.original_sealed == b""  # kept at
    assert letter.source_topic == east.topic  # its source: a sealed copy would not fit
    assert worker.running()
