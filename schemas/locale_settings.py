"""How times and text people read are shown, for every settings class (the hub's and the
connectors'): both read the same `HUB_LANGUAGE` and `HUB_TIMEZONE`."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from schemas.reference.messages import DEFAULT_TIMEZONE, Language, Locale, known_zone


class LocaleSettings(BaseSettings):
    language: Language = Field(default=Language.ZH, description="zh (default) or en")
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="Zone the times people read are shown in"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return known_zone(zone)

    def locale(self) -> Locale:
        return Locale.of(self.language, self.timezone)
