"""What `hub dlq list` shows of a dead letter: one row per letter, its time in the
consortium's zone, never the sealed bytes, personal data in the reason masked; the table's
headers and the replay states in the settings' language (HUB_LANGUAGE, Chinese by default).
The row's keys stay the same in every language (`--json` prints them)."""

from __future__ import annotations

import unicodedata
from typing import Protocol

from hub.logs import mask_personal_data
from schemas.models import DeadLetter
from schemas.reference.messages import DEFAULT_LOCALE, Locale

COLUMNS = ("time", "id", "source", "member", "claimed", "schema", "code", "reason", "replay")


class Replays(Protocol):
    def __contains__(self, letter_id: object) -> bool: ...

    def replay_of(self, letter: DeadLetter) -> str | None: ...


def letter_row(
    letter: DeadLetter, ledger: Replays, locale: Locale = DEFAULT_LOCALE
) -> dict[str, str]:
    """What operators see of a letter: never the sealed bytes, reasons masked."""
    origin = ledger.replay_of(letter)
    states = [locale.say("dlq.replayed")] if letter.envelope.event_id in ledger else []
    states += [locale.say("dlq.result_of", letter=origin[:8])] if origin else []
    return {
        "time": locale.time(letter.envelope.occurred_at),
        "id": letter.envelope.event_id,
        "source": f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        "member": letter.topic_member or "-",
        "claimed": letter.claimed_member or "-",
        "schema": (letter.schema_name or "-").rsplit(".", 1)[-1],
        "code": letter.reason_code,
        "reason": mask_personal_data(letter.reason),
        "replay": " ".join(states),
    }


def _width(text: str) -> int:
    """Columns a terminal gives the text: two for a wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def render_table(
    rows: list[dict[str, str]], reason_width: int = 60, locale: Locale = DEFAULT_LOCALE
) -> str:
    clipped = [{**r, "reason": r["reason"][:reason_width]} for r in rows]
    headers = {c: locale.label(f"dlq.{c}") for c in COLUMNS}
    widths = {c: max([_width(headers[c])] + [_width(r[c]) for r in clipped]) for c in COLUMNS}
    lines = ["  ".join(_pad(headers[c], widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(_pad(r[c], widths[c]) for c in COLUMNS).rstrip() for r in clipped]
    return "\n".join(lines)
