"""The connector's local dead-letter path: every rejected input, with its raw text and the
reason, appended as one JSON line to a file per day in a configured folder.

Connectors cannot write the hub's `hub.dead-letter` topic (it is the hub's own), and a
message that could not be mapped is not an event, so it stays here. These files hold
personal data in clear (names, ID numbers in the raw HL7/FHIR/CSV text): they stay on the
member's own machine, readable only by the connector's account, and are kept no longer than
the member's own message logs. Operators read them to fix the mapping and resend.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    channel: str
    reason_code: str
    reason: str
    raw: str
    details: dict[str, str]
    at: datetime

    def to_json(self, member_id: str) -> str:
        record: dict[str, Any] = {
            "at": self.at.isoformat(),
            "member_id": member_id,
            "channel": self.channel,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "details": self.details,
            "raw": self.raw,
        }
        return json.dumps(record, ensure_ascii=False)


def raw_text(raw: bytes | str, charset: str | None = None) -> str:
    """Raw input as text; undecodable bytes are kept as escapes rather than dropped."""
    if isinstance(raw, str):
        return raw
    for candidate in (charset, "utf-8", "gb18030"):
        if candidate:
            try:
                return raw.decode(candidate)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("utf-8", errors="backslashreplace")


class DeadLetterFile:
    """Appends rejected inputs to `<folder>/dead-letter-<YYYY-MM-DD>.jsonl` (UTC day)."""

    def __init__(self, folder: Path, member_id: str) -> None:
        self.folder = folder
        self.member_id = member_id
        self._lock = threading.Lock()

    def path_for(self, at: datetime) -> Path:
        return self.folder / f"dead-letter-{at.astimezone(UTC):%Y-%m-%d}.jsonl"

    def write(
        self,
        channel: str,
        reason_code: str,
        reason: str,
        raw: bytes | str,
        *,
        charset: str | None = None,
        details: dict[str, str] | None = None,
    ) -> DeadLetterRecord:
        record = DeadLetterRecord(
            channel, reason_code, reason, raw_text(raw, charset), details or {}, datetime.now(UTC)
        )
        path = self.path_for(record.at)
        line = record.to_json(self.member_id) + "\n"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        metrics.DEAD_LETTERS.labels(channel, reason_code).inc()
        log.warning("dead-lettered %s input: %s: %s (%s)", channel, reason_code, reason, path)
        return record

    def read_all(self) -> list[dict[str, Any]]:
        """Every record in the folder, oldest file first (for operators and tests)."""
        records: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob("dead-letter-*.jsonl")):
            with path.open(encoding="utf-8") as lines:
                records.extend(json.loads(line) for line in lines if line.strip())
        return records
