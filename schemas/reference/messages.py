"""The text people read, in Chinese (the default) or English: templates keyed by a message
code in messages.toml, and the formatter.

Rules build a `Text` (a code and its parameters) and never a sentence; whoever shows it
renders it with a `Locale`: the language and the consortium's time zone from settings.
Times are shown in that zone with their date (`2026-12-02 21:27 +08:00`), lists joined
the language's way, a parameter that is itself a `Text` rendered first, and an enum value
or a card field name shown by its label where the catalogue has one. Machine-readable codes
(reason codes, statuses) are never translated: only the sentences around them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from enum import Enum, StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.reference import DATA_DIR

MESSAGES_FILE = DATA_DIR / "messages.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


@dataclass(frozen=True, slots=True)
class Text:
    """A message code and its parameters: a sentence once a Locale renders it."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def text(key: str, **params: Any) -> Text:
    return Text(key, params)


@dataclass(frozen=True, slots=True)
class Label:
    """A card field or code shown by its label (missing_fields: `parent_name` -> 患儿家长姓名)."""

    name: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    messages: Mapping[str, Mapping[Language, str]]
    labels: Mapping[str, Mapping[Language, str]]


def _table(raw: Mapping[str, Any], where: str) -> dict[str, dict[Language, str]]:
    table: dict[str, dict[Language, str]] = {}
    for key, texts in raw.items():
        missing = [lang.value for lang in Language if not texts.get(lang.value)]
        if missing:
            raise ValueError(f"{where} {key!r} has no text in {', '.join(missing)}")
        table[key] = {lang: str(texts[lang.value]) for lang in Language}
    return table


def load_catalogue(path: Path = MESSAGES_FILE) -> Catalogue:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return Catalogue(_table(raw.get("messages", {}), "message"),
                     _table(raw.get("labels", {}), "label"))


@cache
def catalogue() -> Catalogue:
    return load_catalogue()


def known_zone(zone: str) -> str:
    """The zone name, checked (for settings validators): ValueError if unknown."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r}") from exc
    return zone


@dataclass(frozen=True, slots=True)
class Locale:
    """How text is shown: the language, and the time zone times are shown in."""

    language: Language = Language.ZH
    zone: tzinfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    @classmethod
    def of(cls, language: str | Language, timezone: str) -> Locale:
        return cls(Language(language), ZoneInfo(timezone))

    def time(self, moment: datetime) -> str:
        """A moment with its date, in the locale's zone, and the zone's UTC offset."""
        local = moment.astimezone(self.zone)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"

    def label(self, name: str) -> str:
        """The label of a code or card field (as the catalogue has it), else the name."""
        texts = catalogue().labels.get(name)
        return texts[self.language] if texts else name

    def join(self, items: Sequence[Any]) -> str:
        """A list of words (、 in Chinese)."""
        separator = "、" if self.language is Language.ZH else ", "
        return separator.join(self.value(item) for item in items)

    def clauses(self, items: Sequence[Any]) -> str:
        """A list of phrases (； in Chinese)."""
        separator = "；" if self.language is Language.ZH else "; "
        return separator.join(self.value(item) for item in items)

    def value(self, value: Any) -> str:
        """One parameter as text."""
        if isinstance(value, Text):
            return self.render(value)
        if isinstance(value, Label):
            return self.label(value.name)
        if isinstance(value, datetime):
            return self.time(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Enum):
            return self.label(str(value.value))
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, list | tuple):
            return self.join(value)
        return str(value)

    def render(self, message: Text | str) -> str:
        """The sentence of a Text; a plain string is shown as it is."""
        if isinstance(message, str):
            return message
        templates = catalogue().messages.get(message.key)
        if templates is None:
            raise KeyError(f"no message {message.key!r} in {MESSAGES_FILE.name}")
        params = {name: self.value(v) for name, v in message.params.items()}
        return templates[self.language].format(**params)

    def say(self, key: str, **params: Any) -> str:
        """Render message `key` with `params` at once."""
        return self.render(Text(key, params))


DEFAULT_LOCALE = Locale()
