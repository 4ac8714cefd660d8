"""Structured logs: JSON lines with context fields, text on a terminal, and personal data
masked wherever it slipped in (message, arguments, extras, tracebacks)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub.process.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    make_handler,
    mask_personal_data,
    wants_json,
    worker_logging_config,
)
from hub.process.outages import OutageLogFilter, connection_error_key
from schemas.codec import AvroCodec
from tests.factories import lab_result

RESIDENT_ID = "110101199003074514"
RESIDENT_ID_X = "11010119900307451X"
MOBILE = "13800138000"
EVENT_ID = "0f8e2b4c-1a2b-4c3d-9e8f-a13912345678"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the hub's JSON handler into a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger("hub.test-logs")
    handler = make_handler(log_json=True, stream=stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message_and_context(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("forwarded %s", "hub.results",
                extra={"event_id": EVENT_ID, "member": "lead", "agent": "intake"})
    logger.warning("no context here")
    first, second = lines(stream)
    assert first["level"] == "INFO" and first["logger"] == "hub.test-logs"
    assert first["message"] == "forwarded hub.results"
    assert (first["event_id"], first["member"], first["agent"]) == (EVENT_ID, "lead", "intake")
    assert first["time"].endswith("+00:00")
    assert set(second) == {"time", "level", "logger", "message"}


def test_resident_ids_and_mobile_numbers_are_masked_everywhere(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("patient %s phone %s", RESIDENT_ID, MOBILE, extra={"member": RESIDENT_ID_X})
    try:
        raise ValueError(f"bad id {RESIDENT_ID} or +86 {MOBILE}")
    except ValueError:
        logger.exception("failed on %s", EVENT_ID)
    text = stream.getvalue()
    assert RESIDENT_ID not in text and RESIDENT_ID_X not in text and MOBILE not in text
    info, error = lines(stream)
    assert info["message"] == "patient *** phone ***" and info["member"] == "***"
    assert "ValueError: bad id *** or ***" in error["exception"]
    assert error["message"] == f"failed on {EVENT_ID}"  # event ids are not personal data


@pytest.mark.parametrize("text", [
    "epoch 1732512000000 ms", "offset 13800138000123", EVENT_ID, "card AX2024000123",
    "price 138.00138000",
])
def test_things_that_only_look_numeric_are_kept(text: str) -> None:
    assert mask_personal_data(text) == text


@pytest.mark.parametrize("text", [
    f"id:{RESIDENT_ID}", f"手机{MOBILE}", f"tel=86-{MOBILE}", f"({RESIDENT_ID_X.lower()})",
])
def test_embedded_identifiers_are_masked(text: str) -> None:
    masked = mask_personal_data(text)
    assert "***" in masked and MOBILE not in masked and RESIDENT_ID[:17] not in masked


def test_json_unless_a_terminal_and_the_setting_wins() -> None:
    assert wants_json(None, io.StringIO()) is True
    assert wants_json(None, Terminal()) is False
    assert wants_json(True, Terminal()) is True
    assert wants_json(False, io.StringIO()) is False
    assert isinstance(make_handler(None, Terminal()).formatter, TextFormatter)
    assert isinstance(make_handler(None, io.StringIO()).formatter, JsonFormatter)


def test_text_lines_append_the_context() -> None:
    stream = Terminal()
    logger = logging.getLogger("hub.test-text")
    handler = make_handler(None, stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("rejected %s", MOBILE, extra={"agent": "intake", "event_id": "e-1"})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    line = stream.getvalue().strip()
    assert line.endswith("rejected *** [event_id=e-1 agent=intake]")
    assert " ERROR hub.test-text " in line


def test_worker_config_and_cli_configuration_install_one_masking_handler() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level, saved_hook = list(root.handlers), root.level, threading.excepthook
    try:
        logging.config.dictConfig(worker_logging_config("warning", log_json=True))
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        root.handlers.clear()
        first = configure_logging("info", log_json=True)
        second = configure_logging("debug", log_json=False)
        assert first not in root.handlers and root.handlers.count(second) == 1
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        threading.excepthook = saved_hook


def test_an_uncaught_thread_exception_is_one_record(caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level, saved_hook = list(root.handlers), root.level, threading.excepthook
    try:
        configure_logging("info", log_json=True)

        def crash() -> None:
            raise RuntimeError("thread broke")

        thread = threading.Thread(target=crash, name="fetcher")
        thread.start()
        thread.join()
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        threading.excepthook = saved_hook
    records = [r for r in caplog.records if r.name == "hub.threads"]
    assert len(records) == 1 and "fetcher" in records[0].getMessage()


def test_the_agent_base_logs_a_failure_with_event_member_and_agent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    from hub.agents import base

    rejected: list[str] = []

    async def no_send(meta: base.Meta, code: str, *args: Any) -> None:
        rejected.append(code)

    async def broken(event: Any, meta: base.Meta) -> None:
        raise RuntimeError(f"lookup failed for {MOBILE}")

    monkeypatch.setattr(base, "reject", no_send)
    event = lab_result("lead")
    meta = base.Meta("in.lead", 1, 42, None, AvroCodec().encode(event))
    with caplog.at_level(logging.ERROR, logger="hub.agents.base"):
        asyncio.run(base.handle("test-agent", broken, meta))
    assert rejected == ["PROCESSING_ERROR"]
    (record,) = [r for r in caplog.records if r.name == "hub.agents.base"]
    assert getattr(record, "event_id", None) == event.envelope.event_id
    assert getattr(record, "member", None) == "lead"
    assert getattr(record, "agent", None) == "test-agent"
    formatted = JsonFormatter().format(record)
    assert json.loads(formatted)["agent"] == "test-agent"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def outage_log() -> Iterator[tuple[OutageLogFilter, FakeClock, io.StringIO, list[bool]]]:
    """The outage filter on a JSON handler under the root logger, with a fake clock and
    no sweeper thread (the test sweeps), recording what it says about reachability."""
    clock, stream, unreachable = FakeClock(), io.StringIO(), []
    outages = OutageLogFilter(reminder_s=30, quiet_s=5, clock=clock, sweep_every_s=None,
                              on_unreachable=unreachable.append)
    handler = make_handler(log_json=True, stream=stream, outages=outages)
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    # alone, as on a worker: a masking handler left on the root by an earlier in-process
    # CLI test would rewrite each record (msg and args) before this one saw its template
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    yield outages, clock, stream, unreachable
    root.handlers = saved_handlers
    root.setLevel(saved_level)


def test_a_broker_outage_is_a_few_lines_with_the_held_back_count(
    outage_log: tuple[OutageLogFilter, FakeClock, io.StringIO, list[bool]],
) -> None:
    outages, clock, stream, unreachable = outage_log
    client = logging.getLogger("aiokafka.client")
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9092)")
    for n in range(10_000):  # 10,000 identical errors within 20 s (aiokafka's own template)
        clock.now = 1000.0 + n * 0.002
        client.error("Unable connect to node with id %s: %s", 1, refused)
        if n == 5000:
            logging.getLogger("hub.agents.intake").error("lookup failed for %s", MOBILE)
            logging.getLogger("aiokafka.consumer.group_coordinator").error(
                "Unexpected error in heartbeat routine")
        outages.sweep()
    assert outages.outages and unreachable == [True]
    clock.now += 5.0
    outages.sweep()
    logged = lines(stream)
    assert len(logged) <= 6, [line["message"] for line in logged]
    messages = [line["message"] for line in logged]
    assert messages[0].startswith("Kafka connection outage started (aiokafka.client, node 1)")
    assert "Connect call failed" in messages[0] and logged[0]["level"] == "ERROR"
    # other loggers' errors pass untouched, and masked as ever
    assert "lookup failed for ***" in messages
    assert "Unexpected error in heartbeat routine" in messages
    assert messages[-1] == ("Kafka connection outage ended (aiokafka.client, node 1) after "
                            "20.0 s: 9999 lines like it were held back")
    assert not outages.outages and unreachable == [True, False]


def test_a_long_outage_reminds_every_interval_and_each_node_is_its_own(
    outage_log: tuple[OutageLogFilter, FakeClock, io.StringIO, list[bool]],
) -> None:
    outages, clock, stream, unreachable = outage_log
    client = logging.getLogger("aiokafka.client")
    for second in range(95):  # ten errors a second for 95 s, node 1 and node 2
        for tenth in range(10):
            clock.now = 1000.0 + second + tenth / 10
            for node in (1, 2):
                client.error("Unable connect to node with id %s: %s", node, "refused")
        outages.sweep()
    messages = [line["message"] for line in lines(stream)]
    reminders = [m for m in messages if "outage continues (aiokafka.client, node 1)" in m]
    assert len(reminders) == 3  # at 30, 60 and 90 s
    assert reminders[0].startswith("Kafka connection outage continues (aiokafka.client, node 1)"
                                   " for 30 s: 299 lines like it held back since the last")
    assert sum("outage started" in m for m in messages) == 2 and len(messages) == 8
    assert unreachable == [True]


def test_only_the_kafka_clients_connection_errors_are_collapsed() -> None:
    def record(name: str, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)

    assert connection_error_key(record("aiokafka.client", 'Unable connect to "%s:%s": %s',
                                       "kafka-0", 9092, "refused")) == ("aiokafka.client",
                                                                        "kafka-0")
    assert connection_error_key(record("aiokafka.consumer.fetcher",
                                       "Failed fetch messages from %s: %s", 2, "x")) == (
        "aiokafka.consumer.fetcher", "2")
    assert connection_error_key(record("aiokafka.consumer.group_coordinator",
                                       "Group Coordinator Request failed: %s", "x")) == (
        "aiokafka.consumer.group_coordinator", "-")
    assert connection_error_key(record("aiokafka.client", "Unable connect to node 1")) is None
    assert connection_error_key(record("hub.agents.intake",
                                       "Unable connect to node with id %s: %s", 1, "x")) is None
