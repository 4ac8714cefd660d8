"""The coded reasons a party gives for ending a referral: the receiver's refusal
(REJECTED) and the referrer's withdrawal (CANCELLED), listed with their words in the
flow's data file (`[reasons.<ACTION>]` of schemas/reference/coordination/referral.toml).

The status both parties get carries the member's code (`reason_code`), its note, and the
reason in the reader's language (`reason`). A code the list lacks is taken, not refused:
refusing the refusal would leave the referral open at both parties over a word, the very
open loop the flow exists to close; the status says "未列明的原因代码 <code>" and keeps the
member's note. A step without a code says "未说明原因"."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from schemas.models.referral import ReferralAction
from schemas.reference.coordination import load_flow_table
from schemas.reference.messages import Language, Locale, Text

ReasonLists = Mapping[str, Mapping[str, Mapping[str, str]]]  # action -> code -> language


class ReasonListError(ValueError):
    """The reason lists say something the flow cannot use."""


def reason_lists(parsed: Mapping[str, Any]) -> ReasonLists:
    """The checked `[reasons.<ACTION>]` tables: each a step of the flow, each code with
    its words in every language the hub speaks."""
    raw = parsed.get("reasons", {})
    if not isinstance(raw, dict):
        raise ReasonListError("reasons: expected a table per action")
    languages = {language.value for language in Language}
    lists: dict[str, dict[str, dict[str, str]]] = {}
    for action, codes in raw.items():
        if action not in ReferralAction.__members__:
            raise ReasonListError(f"reasons.{action}: not a referral step")
        if not isinstance(codes, dict) or not codes:
            raise ReasonListError(f"reasons.{action}: expected code = {{ zh, en }} entries")
        for code, words in codes.items():
            if not isinstance(words, dict) or set(words) != languages or \
                    not all(isinstance(w, str) and w for w in words.values()):
                raise ReasonListError(
                    f"reasons.{action}.{code}: expected words in {sorted(languages)}")
        lists[action] = codes
    return lists


@cache
def shipped_reasons() -> ReasonLists:
    return reason_lists(load_flow_table("referral"))


def listed_reasons(action: ReferralAction) -> Mapping[str, Mapping[str, str]]:
    """The codes a step's reason may take (empty: the step takes no coded reason)."""
    return shipped_reasons().get(action.value, {})


def step_reason(action: ReferralAction, code: str | None, locale: Locale,
                lists: ReasonLists | None = None) -> str | None:
    """The reason of a step in the reader's language; None for a step without a list."""
    codes = (shipped_reasons() if lists is None else lists).get(action.value)
    if codes is None:
        return None
    if not code:
        return locale.render(Text("referral.reason_unstated"))
    words = codes.get(code) or codes.get(code.upper())
    if words is None:
        return locale.render(Text("referral.reason_unlisted", {"code": code}))
    return words[locale.language.value]
