"""The dashboard's referral board from stored referrals and pools, no broker: the demo's
closed loop plus two referrals the lead hospital leaves waiting (one escalated to the
office). Each member sees only its own referrals, overdue first, in Chinese with Beijing
times, and never a patient; the pools show their fill and the 20% warning; the office's
figures count by arrival."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from connectors.demo.referral_loop import LIU, referral_ids
from hub.rules.coordination import shipped_flow
from hub.rules.referral.figures import office_figures
from hub.web.dashboard.referrals import referral_board, time_left
from schemas.reference.messages import DEFAULT_LOCALE, Language, Locale
from tests.connectors.test_demo_referral_loop import NOW, Replay, replay
from tests.factories import patient, referral_request

CONFIG = shipped_flow("referral")
MEMBERS = ["lead", "chc-east", "thc-river", "mch", "vp-hexi", "vp-dongjie"]
LATER = NOW + timedelta(hours=4)  # the board's clock
CHEN = patient("110101199003074518", name="陈建华")


def stalled() -> Replay:
    """The demo's loop, then chc-east's urgent referral unanswered for four hours (the
    office told) and thc-river's routine one still within its day."""
    seen = replay()
    seen.hub.request(referral_request("chc-east", "lead", "CE-0901", at=NOW,
                                      priority="URGENT", patient=CHEN))
    seen.hub.request(referral_request("thc-river", "lead", "TR-0077", at=NOW + timedelta(
        hours=1), patient=CHEN))
    for hours in (2, 4):
        seen.hub.tick("chc-east:CE-0901", NOW + timedelta(hours=hours))
    return seen


def board(seen: Replay, locale: Locale = DEFAULT_LOCALE) -> dict[str, Any]:
    records, pools = list(seen.hub.records.values()), list(seen.hub.pools.values())
    return referral_board(records, pools, office_figures(records, pools), CONFIG, LATER,
                          locale, MEMBERS)


def test_each_member_sees_its_own_referrals_overdue_first() -> None:
    data = board(stalled())
    sections = {s["member"]: s for s in data["members"]}
    assert list(sections) == ["lead", "chc-east", "thc-river", "vp-hexi"]  # registry order
    lead = sections["lead"]
    up_ref, down_ref = (rid.split(":")[1] for rid in referral_ids(NOW))
    assert [(r["referral"], r["role"], r["counterpart"]) for r in lead["rows"]] == [
        ("CE-0901", "received", "chc-east"), ("TR-0077", "received", "thc-river"),
        (down_ref, "sent", "vp-hexi"), (up_ref, "received", "vp-hexi")]  # the last closed
    overdue = lead["rows"][0]
    assert (overdue["direction_name"], overdue["priority_name"], overdue["state_name"]) == (
        "上转", "紧急", "待接收")
    assert (overdue["due"], overdue["left"], overdue["overdue"]) == (
        "2026-12-07 12:00 +08:00", "逾期 2.0 小时", True)
    assert overdue["escalation_level"] == 2
    waiting = lead["rows"][1]
    assert (waiting["left"], waiting["overdue"]) == ("剩 21.0 小时", False)
    assert lead["received"]["by_state"][0] == {"state": "requested", "state_name": "待接收",
                                               "count": 2}
    assert (lead["open_total"], lead["overdue_total"]) == (2, 1)
    # a member's part holds only the referrals it is a party to
    assert [r["referral"] for r in sections["chc-east"]["rows"]] == ["CE-0901"]
    assert sections["chc-east"]["sent"]["total"] == 1
    assert sections["chc-east"]["received"]["total"] == 0
    upward, downward = referral_ids(NOW)
    village = sections["vp-hexi"]
    assert {r["referral_id"] for r in village["rows"]} == {upward, downward}
    assert {(e["state"], e["count"]) for e in village["sent"]["by_state"]} == {("completed", 1)}
    assert {(e["state"], e["count"]) for e in village["received"]["by_state"]} == {
        ("followed-up", 1)}
    assert (data["open_total"], data["overdue_total"]) == (2, 1)


def test_the_office_sees_its_escalations_and_the_pools() -> None:
    data = board(stalled())
    [escalated] = data["escalations"]
    assert (escalated["referral_id"], escalated["referrer"], escalated["receiver"],
            escalated["escalation_level"]) == ("chc-east:CE-0901", "chc-east", "lead", 2)
    pools = data["pools"]
    assert [(p["pool_id"], p["below_minimum"]) for p in pools] == [
        ("CARD-WARD-W49", True), ("CARD-OPD-W49", False)]
    beds, slots = pools
    assert (beds["resource_kind"], beds["total"], beds["reserved"], beds["warning"]) == (
        "床位", 40, 2, "预留 5%，低于 20%")
    assert (slots["resource_kind"], slots["total"], slots["reserved"], slots["booked"],
            slots["free"], slots["fill_rate"]) == ("专家号源", 24, 6, 1, 5, 0.1667)
    assert slots["period"] == "2026-12-07 00:00 +08:00 至 2026-12-09 00:00 +08:00"
    assert data["pools_below_minimum"] == 1


def test_the_office_figures_by_arrival() -> None:
    [month] = board(stalled())["figures"]
    assert month["period"] == "2026-12"
    assert (month["upward_arrived"], month["downward_arrived"]) == (1, 1)
    assert (month["answered"], month["in_time_rate"], month["closed_loop_rate"]) == (
        2, 1.0, 1.0)
    assert (month["reserved"], month["booked"], month["reserved_use"]) == (8, 1, 0.125)


def test_no_patient_on_the_board_and_english_by_setting() -> None:
    seen = stalled()
    text = json.dumps(board(seen), ensure_ascii=False)
    pseudonyms = {r.pseudonym for r in seen.hub.records.values()}
    for personal in (LIU.name, LIU.id_number, CHEN.name, CHEN.id_number, *pseudonyms):
        assert personal and personal not in text
    english = board(seen, Locale.of(Language.EN, "Asia/Shanghai"))
    lead = english["members"][0]
    assert (lead["rows"][0]["state_name"], lead["rows"][0]["left"]) == (
        "requested", "overdue by 2.0 h")


def test_time_left_reads_in_minutes_hours_or_days() -> None:
    assert [time_left(s, DEFAULT_LOCALE) for s in (20, 1500, -5400, 3 * 86400)] == [
        "剩 1 分钟", "剩 25 分钟", "逾期 1.5 小时", "剩 3 天"]
