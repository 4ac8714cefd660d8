"""Process-wide singletons an agent needs: settings, registry, codec, sealer, clock, and the
working calendar and hours every working-time limit counts on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import cached_property

from hub import metrics
from hub.rules.privacy import Sealer
from hub.rules.worktime import WorkingHours, missing_years
from hub.settings import HubSettings, get_settings
from schemas.codec import AvroCodec
from schemas.reference.calendar import WorkingCalendar, load_working_calendar
from schemas.reference.messages import Locale
from schemas.reference.registry import Registry

log = logging.getLogger(__name__)


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
    def calendar(self) -> WorkingCalendar:
        """Loaded once per worker (HUB_CALENDAR_DIR); a year without its file is reported
        (hub_working_calendar_last_year, and this warning) and counts weekends only."""
        calendar = load_working_calendar(self.settings.calendar_dir)
        metrics.WORKING_CALENDAR_LAST_YEAR.set(calendar.last_year or 0)
        today = self.now().astimezone(self.locale.zone).date()
        for year in missing_years(calendar, today):
            log.warning(
                "WORKING CALENDAR: no file for %d (%s/%d.toml): its working days are counted "
                "as Monday to Friday, without public holidays or make-up days. Add the State "
                "Council's notice for %d (docs/runbook.md, Working calendar)",
                year, self.settings.calendar_dir or "schemas/reference/calendar", year, year)
        return calendar

    @cached_property
    def working_hours(self) -> WorkingHours:
        """The periods of a working day (HUB_WORKING_HOURS) working-hours limits count."""
        return WorkingHours.parse(self.settings.working_hours)

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
