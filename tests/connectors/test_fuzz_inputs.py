"""Poison and bad input at every entry point: each malformed input is answered with a clear,
coded rejection (a codec or admission code, an HL7 NACK, a FHIR OperationOutcome, a CSV
row rejection), never with an unexpected exception, and the rejections count the inputs.
Hypothesis runs derandomized, so every run throws the same inputs. One integration test
sends a few hundred poison messages to a running worker."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.member.batch import import_csv
from connectors.member.deadletter import DeadLetterFile
from connectors.member.fhir.server import build_app
from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.handler import Hl7Handler, start_hl7_listener
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, MemorySink
from connectors.member.mllp.client import MllpClient
from connectors.member.mllp.framing import FrameReader, FramingError, frame
from connectors.member.sdk import MemberPublisher
from connectors.settings import ConnectorSettings
from hub.rules.admission import admit
from hub.rules.privacy import Sealer
from hub.rules.rejections import Reason, Rejection
from schemas.codec import HEADER_SIZE, MARKER, AvroCodec, CodecError
from schemas.models import DeadLetter, Event, Feedback, RecognitionDecision, ShortageRegistration
from schemas.models.clinical import Decision
from schemas.models.outputs import FeedbackStatus
from schemas.reference.registry import load_registry
from schemas.topics import DEAD_LETTER, feedback_topic
from tests.conftest import Decoded, WorkerProcess
from tests.connectors.test_batch_csv import AMOXICILLIN
from tests.connectors.test_fhir_resources import condition, observation
from tests.connectors.test_hl7_messages import lab_oru, message, order_orm
from tests.factories import diagnosis, lab_result, patient, stock_event
from tests.factories import test_order as make_order

CODEC = AvroCodec()
REGISTRY = load_registry()
SEALER = Sealer(Fernet.generate_key())
SECRET = b"fuzz-pseudonym-secret"
MEMBER = "chc-east"
CODES = CodeMapper.load("lead")
SKEW = timedelta(minutes=5)


def fuzz(examples: int) -> settings:
    """Deterministic runs (no example database), no per-example deadline."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


REJECTION_CODES = {str(reason) for reason in Reason}


def valid_events(member: str = MEMBER) -> list[Event]:
    return [
        lab_result(member), make_order(member), diagnosis(member, "B05.900", "麻疹"),
        stock_event(member, "DISPENSE", AMOXICILLIN, 2),
        RecognitionDecision(envelope=RecognitionDecision.new_envelope(member), patient=patient(),
                            order_id="O-1", item_code="K", decision=Decision.RECOGNISED),
        ShortageRegistration(envelope=ShortageRegistration.new_envelope(member),
                             drug_code=AMOXICILLIN, quantity_short=5, reason="断货"),
    ]


VALID = [CODEC.encode(e) for e in valid_events()]


def intake_answer(raw: bytes, topic_member: str = MEMBER) -> str:
    """What intake answers a message on in.<topic_member>: ACCEPTED or a rejection code.
    Anything else raised is a bug (the agent would answer PROCESSING_ERROR)."""
    try:
        # the clock of the moment: valid_events() stamps envelopes when it is called, and
        # the suite may reach this test minutes after tests.factories.NOW was taken
        admit(CODEC.decode(raw), topic_member, REGISTRY, SECRET, SEALER, now=datetime.now(UTC),
              clock_skew=SKEW)
    except (CodecError, Rejection) as exc:
        return exc.code
    return "ACCEPTED"


def flip(raw: bytes, bit: int) -> bytes:
    changed = bytearray(raw)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# -- Avro bodies and envelopes ------------------------------------------------------------

garbage = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda body: MARKER + body),
    st.tuples(st.sampled_from(sorted(CODEC.store.by_fingerprint)), st.binary(max_size=300))
    .map(lambda pair: MARKER + pair[0] + pair[1]),  # a known schema's header, garbage body
    st.tuples(st.sampled_from(VALID), st.integers(0, 10_000))
    .map(lambda pair: pair[0][: pair[1] % len(pair[0])]),  # truncated
    st.tuples(st.sampled_from(VALID), st.integers(0, HEADER_SIZE * 8 - 1))
    .map(lambda pair: flip(*pair)),  # a bit flipped in the marker or fingerprint
)


@fuzz(60)
@given(st.lists(garbage, min_size=20, max_size=50))
def test_bytes_that_are_not_an_event_are_always_rejected(inputs: list[bytes]) -> None:
    answers = [intake_answer(raw) for raw in inputs]
    assert set(answers) <= REJECTION_CODES
    assert sum(a != "ACCEPTED" for a in answers) == len(inputs)


@fuzz(40)
@given(st.lists(st.tuples(st.sampled_from(VALID), st.integers(HEADER_SIZE * 8, 10**6)),
                min_size=10, max_size=30))
def test_bit_flipped_bodies_are_answered_never_crash(flips: list[tuple[bytes, int]]) -> None:
    """A flipped body bit may still be a valid event (a changed letter): then it is
    accepted; otherwise it is a coded rejection. Nothing else happens."""
    answers = [intake_answer(flip(raw, bit % (len(raw) * 8))) for raw, bit in flips]
    assert set(answers) <= REJECTION_CODES | {"ACCEPTED"}


def _with_envelope(event: Event, **changes: Any) -> Event:
    return event.model_copy(update={"envelope": event.envelope.model_copy(update=changes)})


def anonymous(event: Event) -> Event:
    return event.model_copy(update={"patient": patient(id_type=None, id_number=None, name=None)})


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
MUTATIONS: dict[str, Callable[[Event, str], Event | None]] = {
    Reason.MEMBER_MISMATCH: lambda e, s: _with_envelope(e, member_id="lead"),
    Reason.ENVELOPE_MISMATCH: lambda e, s: _with_envelope(e, schema_name=s + "X"),
    Reason.MISSING_PATIENT_IDENTITY: lambda e, s: anonymous(e) if hasattr(e, "patient") else None,
    Reason.PSEUDONYM_FROM_MEMBER: lambda e, s: e.model_copy(update={"patient": patient(key=s)})
    if hasattr(e, "patient") else None,
    Reason.NOT_ACCEPTED_ON_INGRESS: lambda e, s: Feedback(
        envelope=Feedback.new_envelope(MEMBER), in_reply_to=s, status=FeedbackStatus.ACCEPTED),
}


@fuzz(50)
@given(st.lists(st.tuples(st.sampled_from(range(len(VALID))), st.sampled_from(sorted(MUTATIONS)),
                          text), min_size=10, max_size=30))
def test_bad_envelopes_are_rejected_with_their_reason(
    cases: list[tuple[int, str, str]],
) -> None:
    expected, answers = [], []
    for index, reason, noise in cases:
        bad = MUTATIONS[reason](valid_events()[index], noise)
        if bad is None:
            continue
        expected.append(reason)
        answers.append(intake_answer(CODEC.encode(bad)))
    assert answers == expected


def test_valid_events_pass_and_unknown_members_are_refused() -> None:
    """The fuzzed inputs are rejected because they are bad, not because intake refuses all."""
    assert [intake_answer(raw) for raw in VALID] == ["ACCEPTED"] * len(VALID)
    assert intake_answer(VALID[0], "nobody") == Reason.UNKNOWN_MEMBER


# -- HL7 v2 over MLLP ---------------------------------------------------------------------

@contextmanager
def handler_errors() -> Iterator[list[logging.LogRecord]]:
    """Records of HL7 messages the handler failed on unexpectedly (a mapping bug)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("connectors.member.hl7.handler")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _hl7_handler(folder: Path) -> tuple[Hl7Handler, MemorySink, DeadLetterFile]:
    sink, dead = MemorySink(), DeadLetterFile(folder, "lead")
    context = MappingContext("lead", CODES, ZoneInfo("Asia/Shanghai"), PatientCache(None))
    return Hl7Handler(context, sink, dead), sink, dead


segment_ids = st.from_regex(r"\A[A-Z][A-Z0-9]{2}\Z") | st.text("abcXYZ|^~&01 ", max_size=5)
random_segment = st.tuples(segment_ids, st.lists(text.map(lambda t: t.replace("\r", " ")),
                                                 max_size=6)).map(lambda s: "|".join([s[0], *s[1]]))
bad_hl7 = st.one_of(
    st.lists(random_segment, max_size=6).map(lambda segs: message(*segs).encode()),
    st.binary(max_size=300),
    st.tuples(text, st.integers(1, 8)).map(  # the MSH overwritten
        lambda p: (p[0] + lab_oru()[p[1]:]).encode()).filter(lambda raw: not raw.decode(
            "utf-8", "replace").strip().lstrip("\ufeff").startswith("MSH")),
    st.sampled_from(["|ORU^R01^ORU_R01|", "|LAB20250301001|"]).map(  # MSH-9 or MSH-10 gone
        lambda field: lab_oru().replace(field, "||", 1).encode()),
    st.from_regex(r"\A[A-Z]{3}\^[A-Z][0-9]{2}\Z").filter(lambda t: t[:3] not in (
        "ORU", "MDM", "ORM", "OML", "ADT")).map(
        lambda kind: lab_oru().replace("ORU^R01^ORU_R01", kind).encode()),
    st.just(lab_oru().encode("gb18030")),  # declares UTF-8, is GB18030
    text.filter(lambda t: t.strip() and "|" not in t and "^" not in t).map(  # unknown MSH-18
        lambda label: lab_oru(charset="X-" + label).encode()),
    st.text("0123456789", min_size=1, max_size=8).map(  # an OBX value that is no number
        lambda n: lab_oru().replace("|4.1|", f"|{n}x|").encode()),
)


@fuzz(40)
@given(st.lists(bad_hl7, min_size=10, max_size=25))
def test_malformed_hl7_is_nacked_and_dead_lettered(
    tmp_path_factory: pytest.TempPathFactory, messages: list[bytes],
) -> None:
    handler, sink, dead = _hl7_handler(tmp_path_factory.mktemp("hl7"))

    async def answer_all() -> list[bytes]:
        return [await handler(raw) for raw in messages]

    with handler_errors() as failures:
        replies = asyncio.run(answer_all())
    codes = [str(hl7.parse(r.decode("utf-8", "replace")).segment("MSA")[1]) for r in replies]
    assert set(codes) <= {"AE", "AR"} and len(codes) == len(messages)
    assert sink.events == [] and len(dead.read_all()) == len(messages)
    assert failures == [], [f.getMessage() for f in failures]


def test_valid_hl7_is_accepted_by_the_same_handler(tmp_path: Path) -> None:
    handler, sink, dead = _hl7_handler(tmp_path)
    replies = asyncio.run(handler(lab_oru().encode())), asyncio.run(handler(order_orm().encode()))
    assert [str(hl7.parse(r.decode()).segment("MSA")[1]) for r in replies] == ["AA", "AA"]
    assert sink.events and dead.read_all() == []


@fuzz(150)
@given(st.binary(max_size=400), st.lists(st.binary(max_size=50).filter(
    lambda m: b"\x0b" not in m and b"\x1c" not in m), max_size=5))
def test_mllp_framing_of_any_byte_stream(noise: bytes, messages: list[bytes]) -> None:
    """Good frames come back exactly; any other stream ends in a FramingError, not a crash."""

    async def read(data: bytes) -> list[bytes]:
        stream = asyncio.StreamReader(limit=1 << 16)
        stream.feed_data(data)
        stream.feed_eof()
        frames, reader = [], FrameReader(stream, 1 << 16)
        while (found := await reader.read_frame()) is not None:
            frames.append(found)
        return frames

    assert asyncio.run(read(b"".join(frame(m) for m in messages))) == messages
    with suppress(FramingError):
        asyncio.run(read(noise))


def test_the_listener_survives_broken_framing_and_bad_messages(tmp_path: Path) -> None:
    """Over TCP: a stream that is not MLLP loses its connection (nothing is ACKed), a bad
    message in a good frame is NACKed on a connection that then goes on; the listener keeps
    serving throughout."""
    rng, sink = random.Random(11), MemorySink()
    noise = [bytes([rng.choice(b"MSH|^~&x\x00\x1c")]) + rng.randbytes(rng.randrange(1, 200))
             for _ in range(20)]  # no <VT> first: never the start of a frame

    async def scenario() -> tuple[list[bytes], list[str]]:
        server = await start_hl7_listener(sink, "lead", dead_letters=DeadLetterFile(
            tmp_path / "dead-letter", "lead"))
        closed: list[bytes] = []
        try:
            for junk in noise:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(junk + b"\x1c\r")
                await writer.drain()
                closed.append(await asyncio.wait_for(reader.read(), 5))
                writer.close()
            async with MllpClient("127.0.0.1", server.port, timeout=5) as client:
                codes = [str(hl7.parse((await client.send(m)).decode()).segment("MSA")[1])
                         for m in (b"MSH|^~\\&|garbage", lab_oru().encode())]
        finally:
            await server.close()
        return closed, codes

    closed, codes = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert closed == [b""] * len(noise)  # closed without a reply
    assert codes == ["AE", "AA"] and len(sink.events) == 3


# -- FHIR R4 ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
not_a_date = text.filter(lambda t: not t[:4].isdigit())
bad_fhir: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("Observation"), json_values),  # random JSON
    st.tuples(st.just("Observation"), st.binary(max_size=80)
              .map(lambda b: b"\xff" + b)),  # not UTF-8 at all
    st.tuples(st.just("Observation"), text.map(lambda t: {"resourceType": "Zz" + t})),
    st.tuples(st.just("Condition"), st.just(observation())),  # the path names another type
    st.tuples(st.sampled_from(["Practitioner", "Organization"]),  # valid, not accepted
              st.sampled_from(["Practitioner", "Organization"]).map(
                  lambda kind: {"resourceType": kind})).filter(lambda p: p[0] ==
                                                              p[1]["resourceType"]),
    st.tuples(st.just("Observation"), st.one_of(  # invalid values
        text.map(lambda t: observation(valueQuantity={"value": "x" + t})),
        not_a_date.map(lambda t: observation(issued=t, effectivePeriod={"start": t})),
        st.just({k: v for k, v in observation().items() if k != "code"}),
        st.just(observation(status="cancelled")),
    )),
    st.tuples(st.just("Condition"), st.sampled_from(["Z99.999", "NOT-A-CODE"]).map(
        lambda code: condition(code={"coding": [{"system": "urn:lead:his", "code": code}]}))),
)


@fuzz(30)
@given(st.lists(bad_fhir, min_size=10, max_size=30))
def test_malformed_fhir_gets_an_operation_outcome(
    tmp_path_factory: pytest.TempPathFactory, posts: list[tuple[str, Any]],
) -> None:
    folder = tmp_path_factory.mktemp("fhir")
    settings_ = ConnectorSettings(member_id="lead", dead_letter_dir=folder)
    sink = MemorySink()

    async def post_all() -> list[tuple[int, dict[str, Any]]]:
        app = build_app(settings_, sink, codes=CODES, patients=PatientCache(None))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            replies = []
            for kind, body in posts:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                reply = await client.post(f"/fhir/{kind}", data=data)
                replies.append((reply.status, await reply.json(content_type=None)))
            return replies

    replies = asyncio.run(post_all())
    assert {status for status, _ in replies} <= {400, 422}
    assert all(body["resourceType"] == "OperationOutcome" and body["issue"]
               and body["issue"][0]["severity"] == "error" for _, body in replies)
    assert sink.events == []
    assert len(DeadLetterFile(folder, "lead").read_all()) == len(posts)


# -- CSV stock files ----------------------------------------------------------------------

GOOD_ROW = ["DISPENSE", "YP000123", "2", "2025-03-01 09:00", "", "", ""]
BAD_CELLS: dict[int, st.SearchStrategy[str]] = {
    0: text.filter(lambda t: t.strip().upper() not in ("COUNT", "DISPENSE", "盘点", "发药", "")),
    1: st.just("") | text.map(lambda t: "NO-SUCH-DRUG-" + t),
    2: st.just("") | st.integers(-999, -1).map(str) | text.map(lambda t: "n/a" + t),
    3: st.just("") | not_a_date.map(lambda t: "at " + t),
    4: st.text("0123456789", min_size=1, max_size=19),  # a trace code of the wrong length
    6: not_a_date.map(lambda t: "end " + t),
}
csv_row = st.one_of(
    st.integers(1, 50).map(lambda n: (True, [*GOOD_ROW[:2], str(n), *GOOD_ROW[3:]])),
    st.tuples(st.sampled_from(sorted(BAD_CELLS)), st.data()).map(lambda pair: (False, [
        pair[1].draw(BAD_CELLS[pair[0]]) if i == pair[0] else cell
        for i, cell in enumerate(GOOD_ROW)])),
)


@fuzz(60)
@given(st.lists(csv_row, min_size=5, max_size=40))
def test_bad_csv_rows_are_each_rejected_with_their_row_number(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[bool, list[str]]],
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "stock.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "drug_code", "quantity", "at", "trace_codes", "batch_no",
                         "expiry_date"])
        writer.writerows(cells for _, cells in rows)
    sink, dead = MemorySink(), DeadLetterFile(folder / "dead", "lead")
    summary = import_csv(path, member_id="lead", sink=sink, codes=CODES, dead_letters=dead,
                         zone=ZoneInfo("Asia/Shanghai"), batch_size=7)
    bad = sum(not good for good, _ in rows)
    assert (summary.rows, summary.accepted, summary.rejected) == (len(rows), len(rows) - bad, bad)
    assert len(sink.events) == len(rows) - bad and len(dead.read_all()) == bad
    assert {r.code for r in summary.rejections} <= {"MISSING_FIELD", "INVALID_VALUE",
                                                     "UNMAPPED_CODE"}


# -- poison on a running worker -----------------------------------------------------------

def poison_messages(count: int, seed: int = 7) -> list[bytes]:
    """Malformed messages of every kind, from a seeded RNG, none of them acceptable."""
    rng = random.Random(seed)
    makers: list[Callable[[], bytes]] = [
        lambda: rng.randbytes(rng.randrange(0, 200)),
        lambda: MARKER + rng.randbytes(rng.randrange(0, 60)),
        lambda: (raw := rng.choice(VALID))[: rng.randrange(len(raw))],
        lambda: flip(rng.choice(VALID), rng.randrange(HEADER_SIZE * 8)),
        lambda: CODEC.encode(_with_envelope(rng.choice(valid_events()), member_id="lead")),
        lambda: CODEC.encode(_with_envelope(rng.choice(valid_events()), schema_name="x.Y")),
        lambda: CODEC.encode(anonymous(valid_events()[rng.randrange(3)])),
    ]
    return [rng.choice(makers)() for _ in range(count)]


@pytest.mark.integration
def test_poison_on_a_running_worker_is_dead_lettered_one_for_one(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker()
    poison = poison_messages(300)
    sender = publisher(MEMBER)
    for raw in poison:
        sender.producer.send(sender.topic, value=raw)
    sender.producer.flush(30)

    def letters(got: list[Decoded]) -> set[str]:
        return {e.envelope.event_id for _, e in got if isinstance(e, DeadLetter)}

    def rejections(got: list[Decoded]) -> set[str]:
        return {e.envelope.event_id for _, e in got if isinstance(e, Feedback)
                and e.status is FeedbackStatus.REJECTED}

    dead = read_topic(DEAD_LETTER.name, until=lambda got: len(letters(got)) >= len(poison),
                      timeout=60)
    out = read_topic(feedback_topic(MEMBER),
                     until=lambda got: len(rejections(got)) >= len(poison), timeout=60)
    assert len(letters(dead)) == len(dead) == len(poison)
    assert len(rejections(out)) == len(out) == len(poison)  # and nothing ACCEPTED
    assert {e.source_topic for _, e in dead if isinstance(e, DeadLetter)} == {sender.topic}
    assert worker.running()
    good = lab_result(MEMBER)
    sender.publish(good)  # still serving

    def answers(got: list[Decoded]) -> list[FeedbackStatus]:
        return [e.status for _, e in got
                if isinstance(e, Feedback) and e.in_reply_to == good.envelope.event_id]

    after = read_topic(feedback_topic(MEMBER), until=lambda got: bool(answers(got)))
    assert answers(after) == [FeedbackStatus.ACCEPTED]


def test_a_text_over_the_contracts_bound_is_refused_by_the_connectors(tmp_path: Path) -> None:
    """A name longer than the contract allows (schemas.models.base) is answered where it
    enters, naming the field: HL7 AE, a FHIR OperationOutcome; nothing is published."""
    handler, sink, dead = _hl7_handler(tmp_path / "hl7")
    long_oru = lab_oru().replace("L0001^钾^L", "L0001^" + "钾" * 300 + "^L").encode()
    with handler_errors() as failures:
        reply = hl7.parse(asyncio.run(handler(long_oru)).decode())
    assert str(reply.segment("MSA")[1]) == "AE" and "item_name" in str(reply.segment("MSA"))
    assert sink.events == [] and len(dead.read_all()) == 1 and failures == []

    settings_ = ConnectorSettings(member_id="lead", dead_letter_dir=tmp_path / "fhir")
    fhir_sink = MemorySink()
    long_name = condition(code={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                            "code": "A15.000", "display": "肺结核" * 100}]})

    async def post() -> tuple[int, dict[str, Any]]:
        app = build_app(settings_, fhir_sink, codes=CODES, patients=PatientCache(None))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            reply = await client.post("/fhir/Condition", data=json.dumps(long_name).encode())
            return reply.status, await reply.json(content_type=None)

    status, outcome = asyncio.run(post())
    assert status == 422 and outcome["resourceType"] == "OperationOutcome"
    assert "diagnosis_name" in json.dumps(outcome, ensure_ascii=False)
    assert fhir_sink.events == []


def test_a_time_in_2096_is_refused_by_the_connectors(tmp_path: Path) -> None:
    """What a tester sent: a result reported in 2096. The connectors answer it at once,
    naming the HL7 field or FHIR element, as the hub would (FUTURE_DATE)."""
    handler, sink, dead = _hl7_handler(tmp_path / "hl7")
    in_2096 = lab_oru().replace("20250301", "20960301").encode()
    reply = hl7.parse(asyncio.run(handler(in_2096)).decode())
    msa = str(reply.segment("MSA"))
    assert str(reply.segment("MSA")[1]) == "AE" and "2096-03-01" in msa
    assert sink.events == [] and len(dead.read_all()) == 1

    settings_ = ConnectorSettings(member_id="lead", dead_letter_dir=tmp_path / "fhir")
    fhir_sink = MemorySink()
    later = observation(effectivePeriod={"start": "2096-03-01T08:30:00+08:00"},
                        issued="2096-03-01T09:30:00.345+08:00")

    async def post() -> tuple[int, dict[str, Any]]:
        app = build_app(settings_, fhir_sink, codes=CODES, patients=PatientCache(None))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            reply = await client.post("/fhir/Observation", data=json.dumps(later).encode())
            return reply.status, await reply.json(content_type=None)

    status, outcome = asyncio.run(post())
    assert status == 422 and outcome["resourceType"] == "OperationOutcome"
    assert "2096-03-01" in json.dumps(outcome, ensure_ascii=False)
    assert fhir_sink.events == []
