"""HL7 acknowledgements (original mode): MSA-1 AA when every event of the message is
durably written, AE when the message's content is wrong (fix it before resending), AR when
it was refused for other reasons (unsupported type or charset, the hub unreachable: resend
later). MSA-3 and ERR-8 say why in words; ERR-2 says where, ERR-3 gives the HL7 error
code (table 0357). An AA may carry ERR segments of severity W: something the message said
was not understood but did not stop it (an occupation mapping to no card group). The ACK
is encoded in the charset the message declared in MSH-18."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.member.hl7.message import Header
from connectors.member.mapping import Rejected, RejectReason

ACCEPT = "AA"
ERROR = "AE"
REJECT = "AR"
ERROR_CODES: dict[RejectReason, tuple[str, str]] = {
    RejectReason.MALFORMED: ("100", "Segment sequence error"),
    RejectReason.MISSING_FIELD: ("101", "Required field missing"),
    RejectReason.INVALID_VALUE: ("102", "Data type error"),
    RejectReason.UNMAPPED_CODE: ("103", "Table value not found"),
    RejectReason.UNSUPPORTED: ("200", "Unsupported message type"),
    RejectReason.PUBLISH_FAILED: ("207", "Application internal error"),
}
_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+))?")
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def escape(text: str) -> str:
    """Text safe inside one field with the standard delimiters |^~\\&."""
    for char, replacement in _ESCAPES:
        text = text.replace(char, replacement)
    return " ".join(text.split())


def ack_code_for(rejection: Rejected) -> str:
    if rejection.code in (RejectReason.UNSUPPORTED, RejectReason.PUBLISH_FAILED):
        return REJECT
    return ERROR


def _error_location(location: str | None) -> str:
    match = _LOCATION.match(location or "")
    if match is None:
        return ""
    segment, sequence, field = match.groups()
    return "^".join((segment, sequence or "1", field or ""))


def build_ack(
    header: Header,
    code: str,
    text: str = "",
    rejection: Rejected | None = None,
    *,
    warnings: tuple[Rejected, ...] = (),
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> bytes:
    at = (now or datetime.now(zone or ZoneInfo("Asia/Shanghai"))).strftime("%Y%m%d%H%M%S%z")
    msh = [
        "MSH", "^~\\&", escape(header.receiving_app), escape(header.receiving_facility),
        escape(header.sending_app), escape(header.sending_facility), at, "",
        f"ACK^{escape(header.trigger)}^ACK" if header.trigger else "ACK",
        escape(("A" + header.control_id)[:20]), "P", escape(header.version),
        "", "", "", "", "", escape(header.charset_label),
    ]
    segments = ["|".join(msh), "|".join(("MSA", code, escape(header.control_id), escape(text)))]
    problems = [(rejection, "E")] if rejection is not None else []
    for problem, severity in [*problems, *((w, "W") for w in warnings)]:
        number, meaning = ERROR_CODES[problem.code]
        segments.append("|".join((
            "ERR", "", _error_location(problem.location), f"{number}^{meaning}^HL70357",
            severity, "", "", "", escape(problem.message),
        )))
    return ("\r".join(segments) + "\r").encode(header.encoding, errors="replace")
