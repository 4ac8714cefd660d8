"""Coded reasons on a refused or withdrawn referral: the receiver's REJECTED and the
referrer's CANCELLED carry the member's code and note, and the reason in Chinese from the
list in referral.toml; an unlisted code is taken and shown as such; the list is checked."""

from __future__ import annotations

import pytest

from hub.rules.referral.reasons import (
    ReasonListError,
    listed_reasons,
    reason_lists,
    step_reason,
)
from schemas.models.referral import ReferralAction
from schemas.reference.messages import Language, Locale
from tests.factories import referral_request
from tests.rules.test_referral_flow import T0, Hub, step

ZH, EN = Locale(), Locale(Language.EN)


def opened(ref: str = "R1") -> Hub:
    hub = Hub()
    hub.request(referral_request("vp-hexi", "lead", ref, at=T0))
    return hub


@pytest.mark.parametrize(("code", "reason"), [
    ("NO_CAPACITY", "无号源/床位"), ("WRONG_SPECIALTY", "非本专科"),
    ("INSUFFICIENT_INFORMATION", "资料不全"), ("NOT_INDICATED", "无转诊指征"),
    ("PATIENT_DECLINED", "患者拒绝"), ("REFERRED_ELSEWHERE", "已转往其他机构"),
    ("OTHER", "其他原因"),
])
def test_a_refusal_reaches_both_parties_with_its_reason_in_chinese(code: str,
                                                                  reason: str) -> None:
    out = opened().update(step("lead", "vp-hexi:R1", "REJECTED", 5, reason_code=code,
                               note="本周专家号已满"))
    assert [(s.envelope.member_id, s.business_status, s.reason_code, s.reason, s.note)
            for s in out.statuses] == [
        (member, "rejected", code, reason, "本周专家号已满") for member in ("vp-hexi", "lead")]


@pytest.mark.parametrize(("code", "reason"), [
    ("PATIENT_RECOVERED", "患者病情好转，无需转诊"), ("PATIENT_DECLINED", "患者拒绝转诊"),
    ("DUPLICATE", "重复转诊"), ("ENTERED_IN_ERROR", "录入错误"), ("OTHER", "其他原因"),
])
def test_a_withdrawal_carries_its_reason(code: str, reason: str) -> None:
    out = opened().update(step("vp-hexi", "vp-hexi:R1", "CANCELLED", 5, reason_code=code))
    assert {(s.business_status, s.reason_code, s.reason, s.note) for s in out.statuses} == {
        ("cancelled", code, reason, None)}


def test_an_unlisted_or_missing_code_is_taken_and_said_so() -> None:
    hub = opened()
    out = hub.update(step("lead", "vp-hexi:R1", "REJECTED", 5, reason_code="KS-07",
                          note="心内科医生外出进修"))
    [status, _] = out.statuses
    assert (status.business_status, status.reason_code, status.reason, status.note) == (
        "rejected", "KS-07", "未列明的原因代码 KS-07", "心内科医生外出进修")
    hub.request(referral_request("vp-hexi", "lead", "R2", at=T0))
    [plain, _] = hub.update(step("vp-hexi", "vp-hexi:R2", "CANCELLED", 5)).statuses
    assert (plain.reason_code, plain.reason) == (None, "未说明原因")


def test_a_code_in_lower_case_and_the_english_words() -> None:
    assert step_reason(ReferralAction.REJECTED, "no_capacity", ZH) == "无号源/床位"
    assert step_reason(ReferralAction.REJECTED, "NO_CAPACITY", EN) == "no slot or bed available"
    assert step_reason(ReferralAction.CANCELLED, "XX", EN) == "unlisted reason code XX"
    assert step_reason(ReferralAction.CANCELLED, None, EN) == "no reason given"


def test_steps_without_a_list_keep_no_reason() -> None:
    assert step_reason(ReferralAction.ACCEPTED, "NO_CAPACITY", ZH) is None
    out = opened().update(step("lead", "vp-hexi:R1", "ACCEPTED", 5))
    assert {s.reason for s in out.statuses} == {None}
    assert set(listed_reasons(ReferralAction.REJECTED)) >= {
        "NO_CAPACITY", "WRONG_SPECIALTY", "INSUFFICIENT_INFORMATION", "NOT_INDICATED",
        "PATIENT_DECLINED", "REFERRED_ELSEWHERE", "OTHER"}
    assert set(listed_reasons(ReferralAction.CANCELLED)) >= {
        "PATIENT_RECOVERED", "PATIENT_DECLINED", "DUPLICATE", "ENTERED_IN_ERROR", "OTHER"}


@pytest.mark.parametrize(("table", "error"), [
    ({"reasons": {"SENT_BACK": {"X": {"zh": "x", "en": "x"}}}}, "reasons.SENT_BACK"),
    ({"reasons": {"REJECTED": {}}}, "reasons.REJECTED"),
    ({"reasons": {"REJECTED": {"NO_BED": {"zh": "无床位"}}}}, "reasons.REJECTED.NO_BED"),
    ({"reasons": {"REJECTED": {"NO_BED": "无床位"}}}, "reasons.REJECTED.NO_BED"),
])
def test_a_faulty_list_names_its_entry(table: dict[str, object], error: str) -> None:
    with pytest.raises(ReasonListError, match=error):
        reason_lists(table)
