"""Process-wide singletons an agent needs: settings, registry, codec, sealer and clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property

from hub.rules.privacy import Sealer
from hub.settings import HubSettings, get_settings
from schemas.codec import AvroCodec
from schemas.reference.messages import Locale
from schemas.reference.registry import Registry


class Runtime:
    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings

    @cached_property
    def registry(self) -> Registry:
        return self.settings.load_registry()

    @cached_property
    def locale(self) -> Locale:
        """Language and time zone of the text people read (HUB_LANGUAGE, HUB_TIMEZONE)."""
        return self.settings.locale()

    @cached_property
    def codec(self) -> AvroCodec:
        return AvroCodec()

    @cached_property
    def sealer(self) -> Sealer:
        return Sealer(self.settings.sealing_key.get_secret_value().encode())

    @cached_property
    def pseudonym_secret(self) -> bytes:
        return self.settings.pseudonym_secret.get_secret_value().encode()

    def now(self) -> datetime:
        """The hub's clock: wall time, shifted by HUB_CLOCK_OFFSET_SECONDS for drills."""
        return datetime.now(UTC) + timedelta(seconds=self.settings.clock_offset_seconds)


runtime = Runtime(get_settings())
