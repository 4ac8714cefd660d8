"""Which dead letters an operator means (`--reason`, `--member`, `--id`, `--since`) and
what `hub dlq list` shows of each: one row per letter, its time in the
consortium's zone, never the sealed bytes, personal data in the reason masked; the table's
headers and the replay states in the settings' language (HUB_LANGUAGE, Chinese by default).
The row's keys stay the same in every language (`--json` prints them)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import click

from hub.ops.dlq.replay import never_replayed
from hub.process.logs import mask_personal_data
from schemas.models import DeadLetter
from schemas.reference.messages import DEFAULT_LOCALE, Locale

RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
COLUMNS = ("time", "id", "source", "member", "claimed", "schema", "code", "reason", "replay")


def parse_since(text: str, now: datetime, locale: Locale = DEFAULT_LOCALE) -> datetime:
    """`30m`, `2h`, `7d` before now, or an ISO date/time (in the consortium's zone when it
    has none)."""
    relative = RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{UNITS[relative[2]]: int(relative[1])})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(locale.say("dlq.bad_since", text=text)) from exc
    return when if when.tzinfo else when.replace(tzinfo=locale.zone)


@dataclass(frozen=True)
class Selection:
    """Which letters an operator means; an empty field matches everything."""

    reasons: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    since: datetime | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.reasons or self.members or self.ids or self.since)

    def matches(self, letter: DeadLetter) -> bool:
        involved = {letter.topic_member, letter.claimed_member, letter.envelope.member_id}
        return (
            (not self.reasons or letter.reason_code in self.reasons)
            and (not self.members or bool(self.members & involved))
            and (not self.ids or bool(
                self.ids & {letter.envelope.event_id, letter.original_event_id}))
            and (self.since is None or letter.envelope.occurred_at >= self.since)
        )


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
    if not states and never_replayed(letter) is not None:
        states = [locale.say("dlq.not_replayable")]  # `hub dlq replay` says why
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
