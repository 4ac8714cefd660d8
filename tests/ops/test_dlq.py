"""Dead letters end to end on the embedded broker: a member's connector, upgraded ahead of
the hub, sends a LabResult written with a newer schema version; intake cannot read it
(UNKNOWN_SCHEMA). The operator lists it, deploys a hub that knows the new schema, and
replays it: it is processed exactly once, a second replay does nothing, a forced one is a
duplicate. A real duplicate replayed is refused again. Plus the selection, ledger and
display rules on their own."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import click
import fastavro
import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, TopicPartition

from connectors.member.sdk import MemberPublisher
from hub.brokers import BaseBroker
from hub.ops.dlq.commands import (
    Replayer,
    ReplayLedger,
    dlq,
    replay_target,
)
from hub.ops.dlq.view import Selection, letter_row, parse_since, render_table
from hub.rules.privacy import Sealer
from hub.settings import DEV_SEALING_KEY
from schemas.codec import AVRO_DIR, MARKER, RELEASED_DIR, AvroCodec, schema_fingerprint
from schemas.models import DeadLetter, Envelope, Feedback, LabResult
from schemas.models.outputs import FeedbackStatus
from schemas.reference.messages import DEFAULT_LOCALE, Locale
from schemas.topics import DEAD_LETTER, RESULTS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.factories import lab_result, misplaced_key

ROOT = Path(__file__).resolve().parents[2]
LAB_SCHEMA = "consortium.clinical.LabResult.avsc"
CODEC = AvroCodec()
WAIT = 90.0  # seconds: generous, the suite shares two cores with other work
# Loaded by the "upgraded" worker through PYTHONPATH: the hub release that knows the
# connector's newer LabResult schema (its writer schemas include it).
SHIM = """import os
from pathlib import Path
import schemas.codec
schemas.codec.RELEASED_DIR = Path(os.environ["HUB_TEST_RELEASED_DIR"])
"""


def newer_lab_result_schema() -> dict[str, Any]:
    """LabResult version 2: the connector adds an optional field the hub does not know."""
    schema: dict[str, Any] = json.loads((AVRO_DIR / LAB_SCHEMA).read_text(encoding="utf-8"))
    schema["fields"].append({"name": "device_serial", "type": ["null", "string"],
                             "default": None})
    schema["version"] = 2
    return schema


def encode_newer(event: LabResult, schema: dict[str, Any]) -> bytes:
    parsed = fastavro.parse_schema(schema, _write_hint=False)
    buf = io.BytesIO()
    buf.write(MARKER + schema_fingerprint(parsed))
    fastavro.schemaless_writer(buf, parsed, {**event.to_avro(), "device_serial": "SN-0042"})
    return buf.getvalue()


def upgraded_hub_env(folder: Path, schema: dict[str, Any]) -> dict[str, str]:
    released = folder / "released"
    released.mkdir(parents=True)
    for shipped in RELEASED_DIR.iterdir():
        if shipped.is_dir():
            (released / shipped.name).symlink_to(shipped.resolve())
    (released / "v2-connector").mkdir()
    (released / "v2-connector" / LAB_SCHEMA).write_text(json.dumps(schema), encoding="utf-8")
    shim = folder / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM, encoding="utf-8")
    return {"PYTHONPATH": str(shim), "HUB_TEST_RELEASED_DIR": str(released)}


def hub_cli(broker: BaseBroker, data_dir: Path, *args: str,
            env_extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "HUB_BROKER": broker.bootstrap, "HUB_DATA_DIR": str(data_dir),
           "HUB_LOG_JSON": "true", **(env_extra or {})}
    done = subprocess.run([sys.executable, "-m", "hub.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    """The group's committed offsets (fetched without joining the group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: consumer.committed(tp) for tp in parts}
    finally:
        consumer.close()


def restart_when_committed(broker: BaseBroker, worker: WorkerProcess, app_id: str,
                           topic: str) -> None:
    """Stop a worker once it committed everything on `topic`, so its successor does not
    simply read the originals again."""
    ends = end_offsets(broker.bootstrap, topic)

    def all_committed() -> bool:
        done = committed(broker.bootstrap, app_id, topic)
        return all(done.get(p) == end for p, end in ends.items() if end)

    assert wait_for(all_committed, timeout=WAIT)
    worker.stop(timeout=8)  # a clean stop, or a kill: the offsets are committed either way


def wait_fully_ready(worker: WorkerProcess) -> None:
    """Recovered and seeked to the committed offsets: a message that arrives earlier can be
    read once before that seek and once after (at least once)."""
    assert wait_for(lambda: '"[^Worker]: Ready"' in worker.log_path.read_text(), timeout=WAIT)


def letters(read_topic: Callable[..., list[Decoded]], **kw: Any) -> list[DeadLetter]:
    return [e for _, e in read_topic(DEAD_LETTER.name, kinds=(DeadLetter,), **kw)
            if isinstance(e, DeadLetter)]


@pytest.mark.integration
def test_replay_after_the_fix_is_processed_exactly_once(
    broker: BaseBroker,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    app_id = f"hub-test-{tmp_path.name}"
    ops_dir = tmp_path / "operator"
    schema = newer_lab_result_schema()
    worker = start_worker(HUB_APP_ID=app_id)
    lead = publisher("lead")

    plain = lab_result("lead")
    envelope = Envelope(**{**plain.envelope.model_dump(), "schema_version": 2})
    newer = plain.model_copy(update={"envelope": envelope})
    # Keyed off their home partitions, so intake forwards them to hub.results, where each
    # copy can be counted (at home it would hand them to the flows in place).
    lead.send_bytes(encode_newer(newer, schema), key=misplaced_key(newer))
    repeated = lab_result("lead", item="NA")
    lead.send_bytes(CODEC.encode(repeated), key=misplaced_key(repeated))
    lead.send_bytes(CODEC.encode(repeated), key=misplaced_key(repeated))

    found = letters(read_topic, until=lambda ev: len(ev) >= 2, timeout=WAIT)
    by_reason = {d.reason_code: d for d in found}
    assert sorted(by_reason) == ["DUPLICATE_EVENT", "UNKNOWN_SCHEMA"]
    unreadable = by_reason["UNKNOWN_SCHEMA"]
    assert unreadable.source_topic == ingress_topic("lead") and unreadable.topic_member == "lead"

    table = hub_cli(broker, ops_dir, "dlq", "list")
    assert "UNKNOWN_SCHEMA" in table and "DUPLICATE_EVENT" in table and "in.lead[" in table
    assert "gAAAAA" not in table and "110101" not in table  # no sealed bytes, no identity
    rows = [json.loads(line) for line in
            hub_cli(broker, ops_dir, "dlq", "list", "--json", "--member", "lead",
                    "--reason", "UNKNOWN_SCHEMA").splitlines()]
    assert [r["id"] for r in rows] == [unreadable.envelope.event_id]

    # The fix: a hub release that knows LabResult v2.
    restart_when_committed(broker, worker, app_id, ingress_topic("lead"))
    release = upgraded_hub_env(tmp_path / "release", schema)
    upgraded = start_worker(HUB_APP_ID=app_id, **release)
    wait_fully_ready(upgraded)

    # The operator's tool is of the old release too: it says the schema is still unknown.
    early = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "UNKNOWN_SCHEMA")
    assert "已重放 0；" in early and "不可重放 1" in early and "schema" in early
    out = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "UNKNOWN_SCHEMA",
                  env_extra=release)
    assert "已重放 1；" in out
    newer_id = newer.envelope.event_id

    def forwarded(event_id: str) -> list[LabResult]:
        return [e for _, e in read_topic(RESULTS.name, kinds=(LabResult,))
                if isinstance(e, LabResult) and e.envelope.event_id == event_id]

    def answers(event_id: str, status: FeedbackStatus) -> list[Feedback]:
        return [e for _, e in read_topic(feedback_topic("lead"), kinds=(Feedback,))
                if isinstance(e, Feedback) and e.in_reply_to == event_id and e.status == status]

    assert wait_for(lambda: answers(newer_id, FeedbackStatus.ACCEPTED), timeout=WAIT)
    assert len(forwarded(newer_id)) == 1

    # Replaying again does nothing: the ledger remembers; nothing is written.
    before = end_offsets(broker.bootstrap, ingress_topic("lead"))
    again = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "UNKNOWN_SCHEMA",
                    env_extra=release)
    assert "已重放 0；此前已重放 1" in again
    assert end_offsets(broker.bootstrap, ingress_topic("lead")) == before

    # A real duplicate could only be refused again: not replayed, and the letter says why.
    duplicate = by_reason["DUPLICATE_EVENT"]
    refused = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "DUPLICATE_EVENT",
                      "--member", "lead", "--force")
    assert "已重放 0；" in refused and "不可重放 1" in refused
    assert f"{duplicate.envelope.event_id}  DUPLICATE_EVENT: " in refused
    assert end_offsets(broker.bootstrap, ingress_topic("lead")) == before

    # Forcing the fixed one again: refused as a duplicate, one letter marked as the result
    # of that replay, and no second answer to the member.
    assert "已重放 1；" in hub_cli(broker, ops_dir, "dlq", "replay", "--id",
                                    unreadable.envelope.event_id, "--force", env_extra=release)

    def duplicates_of(event_id: str) -> list[DeadLetter]:
        return [d for d in letters(read_topic) if d.reason_code == "DUPLICATE_EVENT"
                and d.original_event_id == event_id]

    (result,) = wait_for(lambda: duplicates_of(newer_id), timeout=WAIT)
    assert result.replay_of == unreadable.envelope.event_id
    assert len(duplicates_of(repeated.envelope.event_id)) == 1
    for event_id in (newer_id, repeated.envelope.event_id):
        assert len(forwarded(event_id)) == 1
        assert len(answers(event_id, FeedbackStatus.ACCEPTED)) == 1
    assert answers(newer_id, FeedbackStatus.REJECTED) == []
    assert len(answers(repeated.envelope.event_id, FeedbackStatus.REJECTED)) == 1

    # The letter a replay produced is not replayed itself: it names the one to replay.
    before = end_offsets(broker.bootstrap, ingress_topic("lead"))
    of_result = hub_cli(broker, ops_dir, "dlq", "replay", "--id", result.envelope.event_id,
                        "--force", env_extra=release)
    assert "已重放 0；" in of_result and unreadable.envelope.event_id in of_result
    assert end_offsets(broker.bootstrap, ingress_topic("lead")) == before

    listed = [json.loads(line) for line in
              hub_cli(broker, ops_dir, "dlq", "list", "--json").splitlines()]
    states = {r["id"]: r["replay"] for r in listed}
    assert states[unreadable.envelope.event_id] == "已重放"
    assert states[result.envelope.event_id] == f"{unreadable.envelope.event_id[:8]} 的重放结果"


NEW_ITEM = """
[[items]]
code = "DLQ-TEST"
name = "重放测试项目"
name_en = "Replay test item"
kind = "LAB"
group = "biochemistry"
window_days = 7
unit = "mmol/L"
local_codes = { chc-west = "CW-NEW-900" }
"""


def indexed(worker: WorkerProcess, member: str) -> float:
    """hub_recognition_results_indexed_total for a member's lab results on this worker."""
    return worker.metric("hub_recognition_results_indexed_total", member=member, kind="LAB")


@pytest.mark.integration
def test_an_internal_letter_is_replayed_to_its_topic_after_a_catalogue_change(
    broker: BaseBroker,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """chc-west reports a result under a local code the catalogue does not map yet:
    intake hands it to recognition on its home partition, which refuses it (UNMAPPED_CODE,
    as from hub.results). The item is added to the catalogue (HUB_ITEMS_FILE), the worker
    restarted, the letter replayed to hub.results with its pseudonym key and home
    partition: indexed once."""
    app_id = f"hub-test-{tmp_path.name}"
    items = tmp_path / "items.toml"
    shipped = resources.files("schemas.reference").joinpath("items.toml").read_text("utf-8")
    items.write_text(shipped, encoding="utf-8")
    worker = start_worker(HUB_APP_ID=app_id, HUB_ITEMS_FILE=str(items))
    result = lab_result("chc-west", item_code=None, local_code="CW-NEW-900")
    publisher("chc-west").publish(result)

    def unmapped() -> list[DeadLetter]:
        return [d for d in letters(read_topic) if d.reason_code == "UNMAPPED_CODE"
                and d.original_event_id == result.envelope.event_id]

    (refused,) = wait_for(unmapped, timeout=WAIT)
    assert refused.source_topic == RESULTS.name and refused.claimed_member == "chc-west"

    items.write_text(shipped + NEW_ITEM, encoding="utf-8")
    restart_when_committed(broker, worker, app_id, ingress_topic("chc-west"))
    fixed = start_worker(HUB_APP_ID=app_id, HUB_ITEMS_FILE=str(items))
    wait_fully_ready(fixed)
    assert indexed(fixed, "chc-west") == 0

    ops_dir = tmp_path / "operator"
    out = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "UNMAPPED_CODE",
                  "--member", "chc-west")
    assert "已重放 1；" in out
    assert wait_for(lambda: indexed(fixed, "chc-west") == 1, timeout=WAIT)
    copies = [(key, e) for key, e in read_topic(RESULTS.name, kinds=(LabResult,))
              if e.envelope.event_id == result.envelope.event_id]
    assert len(copies) == 1 and copies[0][0] is not None  # the replay, with its key
    assert len(unmapped()) == 1

    before = end_offsets(broker.bootstrap, RESULTS.name)
    again = hub_cli(broker, ops_dir, "dlq", "replay", "--reason", "UNMAPPED_CODE",
                    "--member", "chc-west")
    assert "已重放 0；此前已重放 1" in again
    assert end_offsets(broker.bootstrap, RESULTS.name) == before
    assert indexed(fixed, "chc-west") == 1


def letter(source: str = "in.lead", reason: str = "UNKNOWN_SCHEMA", offset: int = 5,
           claimed: str | None = None, at: datetime | None = None) -> DeadLetter:
    original = CODEC.encode(lab_result("lead"))
    return DeadLetter(
        envelope=DeadLetter.new_envelope("lead", occurred_at=at or datetime.now(UTC)),
        source_topic=source, source_partition=1, source_offset=offset, topic_member="lead",
        claimed_member=claimed, original_event_id=None, schema_name=None, reason_code=reason,
        reason="no known schema has fingerprint a026f6fe00a3ea0b, caller 13800138000",
        agent="intake", original_sealed=Sealer(DEV_SEALING_KEY.encode()).seal(original),
        original_size=len(original),
    )


def test_selection_by_reason_member_id_and_time() -> None:
    old = letter(at=datetime.now(UTC) - timedelta(days=2))
    new = letter(reason="DUPLICATE_EVENT", claimed="chc-east")
    assert not Selection().narrowed and Selection().matches(old)
    assert Selection(reasons=frozenset({"DUPLICATE_EVENT"})).matches(new)
    assert not Selection(reasons=frozenset({"DUPLICATE_EVENT"})).matches(old)
    assert Selection(members=frozenset({"chc-east"})).matches(new)
    assert not Selection(members=frozenset({"chc-east"})).matches(old)
    assert Selection(ids=frozenset({old.envelope.event_id})).matches(old)
    since = parse_since("1d", datetime.now(UTC))
    assert Selection(since=since).matches(new) and not Selection(since=since).matches(old)


def test_since_is_relative_or_an_iso_time() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-01-01", now) == datetime(2025, 12, 31, 16, tzinfo=UTC)  # +08:00
    assert parse_since("2026-01-01T08:00+00:00", now) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert parse_since("2026-01-01", now, Locale.of("en", "UTC")) == datetime(2026, 1, 1,
                                                                              tzinfo=UTC)
    with pytest.raises(click.BadParameter, match="既不是 2h/7d 这样的时长"):
        parse_since("yesterday", now)


def test_only_ingress_and_internal_letters_are_replayed_where_they_came_from() -> None:
    assert replay_target(letter("in.chc-east")) == "in.chc-east"
    assert replay_target(letter("hub.results")) == "hub.results"
    assert replay_target(letter("hub.stock")) == "hub.stock"
    for output in ("out.lead", "cdc.disease-reports", "hub.dead-letter", "pharmacy.orders"):
        assert replay_target(letter(output)) is None


def test_the_ledger_survives_and_links_a_replay_to_its_result(tmp_path: Path) -> None:
    first = letter(offset=5)
    ledger = ReplayLedger.load(tmp_path)
    assert first.envelope.event_id not in ledger
    ledger.record(first, "in.lead", 1, 9)
    reloaded = ReplayLedger.load(tmp_path)
    assert first.envelope.event_id in reloaded
    assert reloaded.replay_of(letter(offset=9)) == first.envelope.event_id
    assert reloaded.replay_of(letter(offset=10)) is None
    rows = [letter_row(first, reloaded), letter_row(letter(offset=9), reloaded)]
    assert rows[0]["replay"] == "已重放"
    assert rows[1]["replay"] == f"{first.envelope.event_id[:8]} 的重放结果"
    english = letter_row(letter(offset=9), reloaded, Locale.of("en", "Asia/Shanghai"))
    assert english["replay"] == f"result of {first.envelope.event_id[:8]}"


def test_the_listing_never_shows_sealed_bytes_or_personal_data(tmp_path: Path) -> None:
    shown = letter()
    row = letter_row(shown, ReplayLedger.load(tmp_path))
    table = render_table([row])
    assert "13800138000" not in table and "***" in table
    assert shown.original_sealed.decode()[:20] not in table + json.dumps(row)
    assert table.splitlines()[0].split() == [
        "时间", "ID", "来源", "成员单位", "声明单位", "消息结构", "代码", "原因", "重放"]
    assert "in.lead[1]@5" in table and "UNKNOWN_SCHEMA" in table
    assert row["time"] == DEFAULT_LOCALE.time(shown.envelope.occurred_at)
    assert row["time"].endswith("+08:00")
    english = render_table([row], locale=Locale.of("en", "Asia/Shanghai"))
    assert english.splitlines()[0].split() == [
        "TIME", "ID", "SOURCE", "MEMBER", "CLAIMED", "SCHEMA", "CODE", "REASON", "REPLAY"]


def offline_replayer(tmp_path: Path) -> Replayer:
    replayer = Replayer.__new__(Replayer)  # no producer: these letters are never sent
    replayer.ledger = ReplayLedger.load(tmp_path)
    replayer.oldest = datetime.now(UTC) - timedelta(days=7)
    replayer.codec = CODEC
    replayer.sealer = Sealer(DEV_SEALING_KEY.encode())
    return replayer


def test_letters_older_than_the_dedup_window_need_force(tmp_path: Path) -> None:
    replayer = offline_replayer(tmp_path)
    old = letter(at=datetime.now(UTC) - timedelta(days=8))
    assert replayer.replay(old, False).state == "too old"
    assert replayer.check(old, True)[0].state == "replayed"
    assert replayer.replay(letter("out.lead"), True).state == "not replayable"


@pytest.mark.parametrize("reason", ["MALFORMED", "MEMBER_MISMATCH", "DUPLICATE_EVENT",
                                    "MISSING_PATIENT_IDENTITY", "INVALID_EVENT_ID",
                                    "IMPLAUSIBLE_DATE", "FIELD_TOO_LONG"])
def test_letters_whose_replay_cannot_succeed_are_never_replayed(
    reason: str, tmp_path: Path
) -> None:
    refused = letter(reason=reason)
    outcome = offline_replayer(tmp_path).replay(refused, True)  # even forced
    assert outcome.state == "not replayable" and outcome.why
    assert letter_row(refused, ReplayLedger.load(tmp_path))["replay"] == "不可重放"


def test_a_letter_without_its_original_names_where_the_original_is(tmp_path: Path) -> None:
    """An original too large to seal into its letter stays at its source offset."""
    too_large = letter(reason="OUTPUT_TOO_LARGE").model_copy(update={"original_sealed": b""})
    outcome = offline_replayer(tmp_path).replay(too_large, True)
    assert outcome.state == "not replayable" and "in.lead[1]@5" in outcome.why


def test_a_future_date_is_replayed_once_its_time_has_come(tmp_path: Path) -> None:
    assert offline_replayer(tmp_path).check(letter(reason="FUTURE_DATE"), False)[0].state == \
        "replayed"


def test_a_letter_a_replay_produced_names_the_letter_to_replay(tmp_path: Path) -> None:
    original = letter(reason="UNMAPPED_CODE")
    result = letter(reason="UNMAPPED_CODE").model_copy(
        update={"replay_of": original.envelope.event_id})
    replayer = offline_replayer(tmp_path)
    outcome = replayer.replay(result, True)
    assert outcome.state == "not replayable"
    assert f"--force --id {original.envelope.event_id}" in outcome.why
    assert replayer.check(original, False)[0].state == "replayed"
    row = letter_row(result, replayer.ledger)
    assert row["replay"] == f"{original.envelope.event_id[:8]} 的重放结果"
    english = letter_row(letter(reason="MALFORMED"), replayer.ledger,
                         Locale.of("en", "Asia/Shanghai"))
    assert english["replay"] == "not replayable"


def test_an_unknown_schema_is_replayed_only_once_the_hub_reads_it(tmp_path: Path) -> None:
    unknown = b"\xc3\x01" + b"\x00" * 8 + b"body"
    sealed = Sealer(DEV_SEALING_KEY.encode()).seal(unknown)
    still = letter().model_copy(update={"original_sealed": sealed})
    outcome = offline_replayer(tmp_path).replay(still, False)
    assert outcome.state == "not replayable" and "schema" in outcome.why


def test_replay_needs_a_choice_of_letters() -> None:
    result = CliRunner().invoke(dlq, ["replay"])
    assert result.exit_code == 2 and "--all" in result.output


def test_a_replay_refused_again_is_one_letter_and_no_second_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from hub.agents import base

    letters_sent: list[dict[str, Any]] = []
    answers_sent: list[Any] = []

    async def fake_dead_letter(**kw: Any) -> None:
        letters_sent.append(kw)

    async def fake_feedback(event: Any) -> None:
        answers_sent.append(event)

    monkeypatch.setattr(base, "dead_letter", fake_dead_letter)
    monkeypatch.setattr(base, "send_feedback", fake_feedback)
    event = lab_result("lead")
    raw = CODEC.encode(event)
    first = base.Meta("in.lead", 1, 42, None, raw)
    replayed = [base.Meta("in.lead", 1, offset, None, raw,
                          base.replay_of_header([("hub-replay-of", b"letter-1")]))
                for offset in (50, 60)]
    for meta in (first, *replayed):
        asyncio.run(base.reject(meta, "DUPLICATE_EVENT", "seen", "intake", event))
    assert len(answers_sent) == 1  # the member is answered for the input, not per replay
    assert [kw["replay_of"] for kw in letters_sent] == [None, "letter-1", "letter-1"]
    ids = [kw["id_parts"] for kw in letters_sent]
    assert ids[1] == ids[2] != ids[0]  # each replay of one letter: the same letter id
    assert base.replay_of_header({"hub-replay-of": b"x"}) == "x"
    assert base.replay_of_header(None) is None
