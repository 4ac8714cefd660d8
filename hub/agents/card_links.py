"""The card page link an INCOMPLETE answer carries: the doctor completes the card at the
workstation instead of waiting for the HIS to send the missing fields (hub.web.card_page).

The link names the case, the member and where the case lives (partition and pseudonym,
so any worker can forward it to the owner), signed with HUB_API_SECRET (card_token): it
opens that member's card of that case and nothing else. Only the member's own out. topic
carries it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from hub.ops.tokens import card_token
from hub.rules.reporting import PatientCases
from hub.runtime.services import runtime
from schemas.models import Feedback
from schemas.models.outputs import FeedbackStatus
from schemas.reference.messages import text

CARD_PATH = "/reporting/cards/"
LINK_DETAIL = "card_url"


def card_url(member_id: str, case_id: str, partition: int, key: str) -> str:
    where = f"{partition}:{key}"
    token = card_token(runtime.settings.api_secret.get_secret_value(), member_id, case_id,
                       where)
    query = urlencode({"member": member_id, "at": where, "token": token})
    return f"{runtime.settings.web_url()}{CARD_PATH}{case_id}?{query}"


def with_card_link(answer: Feedback, state: PatientCases) -> Feedback:
    """The answer, with the card page link when it says the card lacks fields a doctor
    can fill in (not a lab result waiting for the diagnosis)."""
    case_id = answer.details.get("case_id")
    if (answer.status is not FeedbackStatus.INCOMPLETE or answer.reason_code != "MISSING_FIELDS"
            or case_id is None or state.partition is None):
        return answer
    url = card_url(answer.envelope.member_id, case_id, state.partition, state.key)
    link = text("report.complete_on_page", url=url)
    return answer.model_copy(update={
        "reason": runtime.locale.clauses([answer.reason, link] if answer.reason else [link]),
        "details": {**answer.details, LINK_DETAIL: url},
    })
