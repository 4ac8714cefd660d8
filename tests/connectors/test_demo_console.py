"""What `hub dev` prints: the demo's steps and the hub's answers, in Chinese by default
(English with HUB_LANGUAGE=en), times in the consortium zone with their date."""

from __future__ import annotations

from connectors.demo.console import describe
from connectors.demo.script import morning
from schemas.models import Feedback
from schemas.models.outputs import FeedbackStatus
from schemas.reference.messages import DEFAULT_LOCALE, Language, Locale
from tests.connectors.test_cdc_sink import DIAGNOSED, card, late

ENGLISH = Locale.of(Language.EN, "Asia/Shanghai")


def incomplete() -> Feedback:
    return Feedback(envelope=Feedback.new_envelope("vp-hexi"), in_reply_to="e1",
                    status=FeedbackStatus.INCOMPLETE, reason_code="MISSING_FIELDS",
                    reason="报告卡缺少以下项目", missing_fields=["id_number", "parent_name"])


def test_the_console_speaks_chinese_by_default() -> None:
    line = describe("cdc.disease-reports", card())
    assert line == ("[red]cdc.disease-reports[/] INITIAL 报告卡 20261126-ABCDEF12 霍乱（A），"
                    "报告单位 安县人民医院，报告时限 2026-11-26 10:30 +08:00")
    assert describe("out.vp-hexi", incomplete()) == (
        "[yellow]out.vp-hexi[/] INCOMPLETE MISSING_FIELDS 报告卡缺少以下项目 "
        "缺少：有效证件号、患儿家长姓名")
    assert "超过时限 3600 秒（时限 2026-11-26 10:30 +08:00）" in (describe("cdc", late()) or "")
    steps = [DEFAULT_LOCALE.render(step.label) for step in morning(DIAGNOSED)]
    assert steps[0] == "张伟的血钾 4.1 mmol/L（3 天前）"
    assert "赵强肺结核（A15.000），无证件号" in steps


def test_english_when_the_settings_say_so() -> None:
    line = describe("cdc.disease-reports", card(), ENGLISH)
    assert line == ("[red]cdc.disease-reports[/] INITIAL card 20261126-ABCDEF12 霍乱 (A) from "
                    "安县人民医院, deadline 2026-11-26 10:30 +08:00")
    assert describe("out.vp-hexi", incomplete(), ENGLISH) == (
        "[yellow]out.vp-hexi[/] INCOMPLETE MISSING_FIELDS 报告卡缺少以下项目 "
        "missing: ID number, parent's name")
