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
