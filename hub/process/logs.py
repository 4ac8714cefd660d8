"""Structured logs: one JSON object per line when stderr is not a terminal (or when
HUB_LOG_JSON says so), readable text otherwise.

Every line carries time, level, logger and message, plus `event_id`, `member` and `agent`
when the caller passes them in `extra`. Logs must never hold personal data; as a second
line of defence a filter masks anything that looks like an 18-digit resident ID or a
mainland mobile number, in the message, the extras and the traceback alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from hub.process.outages import metered_outage_filter

CONTEXT_FIELDS = ("event_id", "member", "agent")
MASK = "***"
# An 18-character resident ID (17 digits and a digit or X), or an 11-digit mobile number
# with an optional +86 / 86 prefix; never inside a longer run of digits or letters (so the
# hex groups of an event id are left alone).
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE_NUMBER = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
HANDLER_MARK = "_hub_log_handler"


def mask_personal_data(text: str) -> str:
    """Replace every resident-ID-like and mobile-number-like substring with ***."""
    return MOBILE_NUMBER.sub(MASK, RESIDENT_ID.sub(MASK, text))


class PersonalDataFilter(logging.Filter):
    """Rewrites a record so its message, string extras and traceback are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_personal_data(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        record.exc_info = None  # the masked exc_text stands in for it
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, mask_personal_data(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the context fields when they were given."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, context fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        if not context:
            return text
        first, _, rest = text.partition("\n")
        return f"{first} [{context}]" + (f"\n{rest}" if rest else "")


def wants_json(log_json: bool | None, stream: IO[str] | None = None) -> bool:
    """JSON unless the stream is a terminal; an explicit setting always wins."""
    if log_json is not None:
        return log_json
    target = stream if stream is not None else sys.stderr
    try:
        return not target.isatty()
    except (AttributeError, ValueError):
        return True


def make_handler(log_json: bool | None = None, stream: IO[str] | None = None,
                 outages: logging.Filter | None = None) -> logging.Handler:
    """A stream handler with the masking filter and the right formatter (and `outages`,
    which collapses a broker outage's connection errors, before them)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if outages is not None:
        handler.addFilter(outages)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(JsonFormatter() if wants_json(log_json, stream) else TextFormatter())
    setattr(handler, HANDLER_MARK, True)
    return handler


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger("hub.threads").error(
        "uncaught exception in thread %s", name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def install_exception_hook() -> None:
    """Uncaught exceptions in threads become one log record each (not stray stderr text,
    which the worker would log line by line)."""
    threading.excepthook = _log_thread_exception


def configure_logging(level: str = "INFO", log_json: bool | None = None) -> logging.Handler:
    """Install the hub's handler on the root logger (replacing one installed before)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = make_handler(log_json)
    root.addHandler(handler)
    install_exception_hook()
    root.setLevel(level.upper())
    return handler


OWN_LOGGERS = ("hub", "connectors", "schemas", "benchmarks", "__main__")


class OwnLinesFilter(logging.Filter):
    """Passes the product's own records only (not kafka-python's, aiokafka's, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".", 1)[0] in OWN_LOGGERS


def configure_tool_logging(log_file: Path, level: str = "INFO",
                           log_json: bool | None = None) -> logging.Handler:
    """For the command-line tools (`hub dev`, `hub dlq`, ...): the console shows the hub's
    own lines; every library's records go, at INFO and above, to `log_file` only."""
    handler = configure_logging(level, log_json)
    handler.addFilter(OwnLinesFilter())
    handler.setLevel(level.upper())
    root = logging.getLogger()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
    except OSError:
        return handler  # a read-only folder: no file, the console stays quiet all the same
    to_file.addFilter(PersonalDataFilter())
    to_file.setFormatter(TextFormatter())
    to_file.setLevel(logging.INFO)
    setattr(to_file, HANDLER_MARK, True)
    root.addHandler(to_file)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def make_worker_handler(log_json: bool | None, outage_reminder_s: float,
                        outage_quiet_s: float) -> logging.Handler:
    """The worker's handler: a broker outage is a few lines, with metrics (outages.py)."""
    return make_handler(log_json, outages=metered_outage_filter(outage_reminder_s,
                                                                outage_quiet_s))


def worker_logging_config(level: str = "INFO", log_json: bool | None = None,
                          outage_reminder_s: float = 30.0,
                          outage_quiet_s: float = 5.0) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the Faust worker (mode applies it at start)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "default": {
                "()": make_worker_handler,
                "log_json": log_json,
                "outage_reminder_s": outage_reminder_s,
                "outage_quiet_s": outage_quiet_s,
                "level": level.upper(),
            },
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
