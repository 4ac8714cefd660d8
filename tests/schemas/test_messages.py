"""The message catalogue: Chinese by default, English by setting, times in the zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.member.mapping import Rejected, RejectReason
from connectors.settings import get_settings as connector_settings
from hub.rules.rejections import Reason, Rejection
from hub.settings import HubSettings
from schemas.reference.messages import (
    DEFAULT_LOCALE,
    Label,
    Language,
    Locale,
    catalogue,
    load_catalogue,
    text,
)

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 12, 2, 13, 27, tzinfo=UTC)


def test_every_message_used_in_the_code_is_in_the_catalogue_in_both_languages() -> None:
    sources = [p.read_text(encoding="utf-8") for folder in ("hub", "connectors")
               for p in (ROOT / folder).rglob("*.py")]
    used = {key for source in sources for key in re.findall(
        r'"((?:rejection|advice|report|revision|pharmacy|duration|console|dlq|sink|dev|demo|connector|coordination|referral)'
        r'\.[a-z_]+)"', source)}
    assert used and used <= set(catalogue().messages)
    for texts in catalogue().messages.values():
        assert set(texts) == set(Language)


def test_a_message_without_english_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "messages.toml"
    bad.write_text('[messages."x.y"]\nzh = "只有中文"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no text in en"):
        load_catalogue(bad)


def test_times_show_their_date_in_the_consortium_zone() -> None:
    assert DEFAULT_LOCALE.language is Language.ZH
    assert DEFAULT_LOCALE.time(MOMENT) == "2026-12-02 21:27 +08:00"
    assert Locale.of("en", "UTC").time(MOMENT) == "2026-12-02 13:27 +00:00"


def test_labels_and_lists_follow_the_language() -> None:
    fields = text("report.missing_fields", fields=[Label("parent_name"), Label("sex")],
                  deadline=MOMENT)
    assert DEFAULT_LOCALE.render(fields) == (
        "报告卡缺少以下项目，无法报送：患儿家长姓名、性别；"
        "报告时限 2026-12-02 21:27 +08:00 仍在计时")
    assert Locale.of("en", "Asia/Shanghai").render(fields) == (
        "the report card cannot be sent without these fields: parent's name, sex; "
        "the deadline 2026-12-02 21:27 +08:00 keeps running")


def test_a_rejection_keeps_its_code_and_says_why_in_the_chosen_language() -> None:
    refused = Rejection(Reason.MEMBER_MISMATCH, "rejection.member_mismatch", claimed="lead",
                        topic_member="chc-east")
    assert refused.code == "MEMBER_MISMATCH"
    assert refused.reason == "事件声明的成员单位为 lead，却发送到了 chc-east 的主题"
    assert refused.reason_in(Locale.of("en", "Asia/Shanghai")) == (
        "event claims member lead but arrived on the topic of chc-east")


def test_the_settings_choose_language_and_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert HubSettings().locale() == DEFAULT_LOCALE
    monkeypatch.setenv("HUB_LANGUAGE", "en")
    monkeypatch.setenv("HUB_TIMEZONE", "Europe/Berlin")
    english = HubSettings().locale()
    assert english.language is Language.EN and english.time(MOMENT) == "2026-12-02 14:27 +01:00"
    monkeypatch.setenv("HUB_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError):
        HubSettings()
    monkeypatch.setenv("HUB_TIMEZONE", "UTC")
    monkeypatch.setenv("HUB_LANGUAGE", "fr")
    with pytest.raises(ValueError):
        HubSettings()


def test_connector_rejections_follow_the_connector_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = Rejected(RejectReason.MISSING_FIELD, text("connector.no_pid"), "PID")
    connector_settings.cache_clear()
    assert refused.message == "PID: 消息没有 PID 段" and refused.code == "MISSING_FIELD"
    monkeypatch.setenv("HUB_LANGUAGE", "en")
    connector_settings.cache_clear()
    try:
        assert refused.message == "PID: the message has no PID segment"
    finally:
        monkeypatch.delenv("HUB_LANGUAGE")
        connector_settings.cache_clear()
