"""The hub's feedback as HL7 v2 messages for the member's HIS (sent over MLLP; the HIS
answers each with an ACK).

RecognitionAdvice → ORR^O02:
    MSA|AA|<placer order number>|<advice text>      (MSA-2 carries the order number: the hub
                                                     does not know the order's MSH-10)
    ORC|OK|<placer order number>
    ZRA|1|<verdict>|<item code>^<item name>|<retest reason>|<advice text>|<order event id>|
        <withdrawn result event id: set when this advice replaces one citing a retracted result>
    ZRR|<n>|<result event id>|<member id>^<member name>|<value>|<unit>|<reference range>|
        <abnormal flag>|<reported at>|<valid until>|<mark>|<report ref>|<conclusion>
    (one ZRR per recognisable result)
Feedback → ACK^Z01 (an unsolicited acknowledgement):
    MSA|<AA when accepted, reported, revised; AE otherwise>|<event id answered>|<reason>
    ZFB|<status>|<reason code>|<reason>|<missing fields, ~ separated>|<card id>|
        <details key=value, ~ separated>|<feedback event id>
    (an INCOMPLETE card's page link, where the doctor completes it: the detail card_url,
    and the end of the reason)

MSH-10 is derived from the feedback's event id, so a redelivery carries the same control
id and the HIS can recognise it. Times are local with their offset.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.member.hl7.ack import escape
from connectors.member.hl7.message import CHARSETS
from schemas.models import Event, Feedback, RecognitionAdvice
from schemas.models.outputs import FeedbackStatus

ACCEPTING = frozenset({FeedbackStatus.ACCEPTED, FeedbackStatus.REPORTED, FeedbackStatus.REVISED,
                       FeedbackStatus.WITHDRAWN})


def _ts(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S%z") if at is not None else ""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def hub_message(event: Event, message_type: str, member_id: str, body: list[str], *,
                charset_label: str, zone: ZoneInfo, receiving_app: str = "HIS") -> bytes:
    """A message the hub sends a member's system: MSH (the control id derived from the
    event id, so a redelivery carries the same one) and `body`, in the charset MSH-18
    names. Every outbound HL7 of the connector is framed here."""
    control_id = event.envelope.event_id.replace("-", "")[:20]
    msh = "|".join((
        "MSH", "^~\\&", "HUB", "CONSORTIUM", receiving_app, escape(member_id),
        _ts(event.envelope.occurred_at, zone), "", message_type, control_id, "P", "2.5",
        "", "", "", "", "CHN", escape(charset_label),
    ))
    encoding = CHARSETS.get(" ".join(charset_label.upper().split()), "utf-8")
    return ("\r".join([msh, *body]) + "\r").encode(encoding, errors="replace")


def advice_segments(advice: RecognitionAdvice, zone: ZoneInfo) -> list[str]:
    order = escape(advice.order_id)
    segments = [
        "|".join(("MSA", "AA", order, escape(advice.message))),
        "|".join(("ORC", "OK", order)),
        "|".join(("ZRA", "1", advice.verdict.value,
                  f"{escape(advice.item_code)}^{escape(advice.item_name)}",
                  advice.retest_reason.value if advice.retest_reason else "",
                  escape(advice.message), advice.order_event_id,
                  advice.withdrawn_result_id or "")),
    ]
    for index, result in enumerate(advice.results, start=1):
        value = _number(result.value_numeric) or escape(result.value_text or "")
        segments.append("|".join((
            "ZRR", str(index), result.result_event_id,
            f"{escape(result.member_id)}^{escape(result.member_name)}", value,
            escape(result.unit or ""), escape(result.reference_range or ""),
            result.abnormal_flag.value if result.abnormal_flag else "",
            _ts(result.reported_at, zone), _ts(result.valid_until, zone), escape(result.mark),
            escape(result.report_ref or ""), escape(result.conclusion or ""),
        )))
    return segments


def feedback_segments(feedback: Feedback) -> list[str]:
    code = "AA" if feedback.status in ACCEPTING else "AE"
    details = "~".join(f"{escape(k)}={escape(v)}" for k, v in sorted(feedback.details.items()))
    missing = "~".join(escape(f) for f in feedback.missing_fields)
    return [
        "|".join(("MSA", code, feedback.in_reply_to or "", escape(feedback.reason or ""))),
        "|".join(("ZFB", feedback.status.value, escape(feedback.reason_code or ""),
                  escape(feedback.reason or ""), missing,
                  escape(feedback.card_id or ""), details, feedback.envelope.event_id)),
    ]


def render_hl7(event: Event, member_id: str, *, charset_label: str = "UNICODE UTF-8",
               zone: ZoneInfo | None = None) -> bytes:
    """The HL7 message for one feedback event, encoded in the charset MSH-18 names."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    if isinstance(event, RecognitionAdvice):
        body = advice_segments(event, zone)
        message_type = "ORR^O02^ORR_O02"
    elif isinstance(event, Feedback):
        body = feedback_segments(event)
        message_type = "ACK^Z01^ACK"
    else:
        raise TypeError(f"no HL7 rendering for {type(event).__name__}")
    return hub_message(event, message_type, member_id, body, charset_label=charset_label,
                       zone=zone)
