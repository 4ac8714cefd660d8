"""A worker loads the working calendar once, and says loudly when a year has no file: the
hub_working_calendar_last_year gauge (HubWorkingCalendarMissing alerts on it) and a log
warning naming the file to add."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub import metrics
from hub.runtime.services import Runtime
from hub.settings import HubSettings
from schemas.reference.calendar import CALENDAR_DIR


def _runtime(folder: Path, now: datetime) -> Runtime:
    runtime = Runtime(HubSettings(calendar_dir=folder))
    runtime.now = lambda: now  # type: ignore[method-assign]
    return runtime


def _last_year() -> float | None:
    return metrics.REGISTRY.get_sample_value("hub_working_calendar_last_year")


def test_december_without_next_years_file_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    shutil.copy(CALENDAR_DIR / "2026.toml", tmp_path)
    with caplog.at_level(logging.WARNING, logger="hub.runtime.services"):
        calendar = _runtime(tmp_path, datetime(2026, 12, 7, 4, tzinfo=UTC)).calendar
    assert calendar.years == (2026,) and _last_year() == 2026
    [warning] = caplog.messages
    assert "no file for 2027" in warning and f"{tmp_path}/2027.toml" in warning


def test_a_covered_year_is_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(CALENDAR_DIR / "2026.toml", tmp_path)
    with caplog.at_level(logging.WARNING, logger="hub.runtime.services"):
        calendar = _runtime(tmp_path, datetime(2026, 6, 1, 4, tzinfo=UTC)).calendar
    assert calendar.covers(2026) and not caplog.messages


def test_no_calendar_at_all_reports_year_zero(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.runtime.services"):
        calendar = _runtime(tmp_path, datetime(2026, 6, 1, 4, tzinfo=UTC)).calendar
    assert calendar.years == () and _last_year() == 0
    assert "no file for 2026" in caplog.messages[0]
