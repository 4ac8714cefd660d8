"""Turning the bytes of one HL7 v2 message into a parsed message: the charset declared in
MSH-18, a structural check of every segment, then python-hl7's parser. Also the small
readers every mapping uses (fields, coded elements, timestamps)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7

from connectors.member.mapping import Rejected, RejectReason
from schemas.reference.messages import text as msg

UTF8_BOM = b"\xef\xbb\xbf"
SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
# MSH-18 (HL7 table 0211, plus what Chinese HIS vendors write) to Python codecs. GB2312 and
# GBK text is read as GB18030, its superset, so a GBK character in a "GB2312" message is
# not an error.
CHARSETS: dict[str, str] = {
    "ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "UTF8": "utf-8",
    "GB 18030-2000": "gb18030", "GB 18030-2005": "gb18030", "GB18030": "gb18030",
    "GB18030-2000": "gb18030", "GB 18030": "gb18030", "GBK": "gb18030",
    "GB 2312": "gb18030", "GB2312": "gb18030", "8859/1": "latin-1",
}
_TIMESTAMP = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$"
)


@dataclass(frozen=True, slots=True)
class Header:
    """What an acknowledgement needs from MSH, read even when the rest cannot be parsed."""

    control_id: str = ""
    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    trigger: str = ""
    version: str = "2.5"
    charset_label: str = ""
    encoding: str = "utf-8"


@dataclass(frozen=True, slots=True)
class Hl7Message:
    header: Header
    text: str
    parsed: hl7.Message

    def segments(self, segment_id: str) -> list[hl7.Segment]:
        return [s for s in self.parsed if str(s[0][0]) == segment_id]

    def first(self, segment_id: str) -> hl7.Segment | None:
        found = self.segments(segment_id)
        return found[0] if found else None


def _first_segment_text(raw: bytes) -> str:
    first = raw.replace(b"\n", b"\r").split(b"\r", 1)[0]
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError:
        # GB18030 trail bytes can equal '|' (0x7C): decode before splitting fields.
        return first.decode("gb18030", errors="replace")


def read_header(raw: bytes, default_charset: str = "utf-8") -> Header:
    """MSH fields for the acknowledgement; missing ones are empty."""
    msh = _first_segment_text(raw.lstrip().removeprefix(UTF8_BOM))
    if not msh.startswith("MSH") or len(msh) < 8:
        return Header(encoding=default_charset)
    sep, component = msh[3], msh[4]
    fields = ["", *msh.split(sep)]  # fields[n] is MSH-n (MSH-1 is the separator itself)

    def field(n: int, part: int = 0) -> str:
        value = fields[n] if n < len(fields) else ""
        parts = value.split(component)
        return parts[part].strip() if part < len(parts) else ""

    label = field(18)
    return Header(
        control_id=field(10), sending_app=field(3), sending_facility=field(4),
        receiving_app=field(5), receiving_facility=field(6), message_type=field(9, 0),
        trigger=field(9, 1), version=field(12) or "2.5", charset_label=label,
        encoding=CHARSETS.get(_charset_key(label), default_charset) if label else default_charset,
    )


def _charset_key(label: str) -> str:
    return " ".join(label.upper().split())


def decode(raw: bytes, default_charset: str = "utf-8", *,
           control_id_required: bool = True) -> Hl7Message:
    """Decode, check and parse one message; a `Rejected` says what is wrong and where.
    Referral messages may come without MSH-10 (their ids are then derived from the
    content: connectors/member/hl7/referral.py)."""
    header = read_header(raw, default_charset)
    if header.charset_label and _charset_key(header.charset_label) not in CHARSETS:
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.charset", charset=header.charset_label), "MSH-18")
    try:
        text = raw.decode(header.encoding)
    except UnicodeDecodeError as exc:
        raise Rejected(
            RejectReason.MALFORMED, msg(
                "connector.bad_bytes", start=exc.start, end=exc.end, encoding=header.encoding,
                declared=header.charset_label or "-"), "MSH-18",
        ) from exc
    text = text.strip().lstrip("\ufeff").replace("\r\n", "\r").replace("\n", "\r")
    if not text.startswith("MSH") or len(text) < 8:
        raise Rejected(RejectReason.MALFORMED, msg("connector.no_msh"), "MSH")
    sep = text[3]
    segments = [s for s in text.split("\r") if s.strip()]
    for index, segment in enumerate(segments, start=1):
        name = segment.split(sep, 1)[0]
        if not SEGMENT_ID.match(name):
            raise Rejected(RejectReason.MALFORMED,
                           msg("connector.not_a_segment", start=repr(name[:12])),
                           f"segment {index}")
    if not header.control_id and control_id_required:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_control_id"), "MSH-10")
    if not header.message_type:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_message_type"), "MSH-9")
    try:
        parsed = hl7.parse("\r".join(segments))
    except hl7.HL7Exception as exc:
        raise Rejected(RejectReason.MALFORMED, msg("connector.unparseable", detail=str(exc)),
                       "MSH") from exc
    return Hl7Message(header, text, parsed)


def get(segment: hl7.Segment, field: int, component: int = 1, repetition: int = 1,
        subcomponent: int = 1) -> str:
    """One value, unescaped and stripped; empty when absent."""
    try:
        value = segment.extract_field(1, field, repetition, component, subcomponent)
    except IndexError:
        return ""
    text = str(value).strip()
    return "" if text == '""' else text


def repetitions(segment: hl7.Segment, field: int) -> int:
    return len(segment(field)) if field < len(segment) else 0


def where(segment: hl7.Segment, field: int, index: int | None = None) -> str:
    """An error location such as OBX[2]-5 (the second OBX of the message, field 5)."""
    name = str(segment[0][0])
    return f"{name}[{index}]-{field}" if index is not None else f"{name}-{field}"


def parse_timestamp(value: str, zone: ZoneInfo, location: str) -> datetime | None:
    """HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]); without an offset, local time."""
    if not value:
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.not_timestamp", value=value),
                       location)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        at = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                      int(minute or 0), int(second or 0),
                      int((fraction or "0").ljust(6, "0")[:6]))
    except ValueError as exc:
        raise Rejected(RejectReason.INVALID_VALUE, msg(
            "connector.bad_value", value=value, detail=str(exc)), location) from exc
    if offset:
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return at.replace(tzinfo=timezone(sign * delta)).astimezone(UTC)
    return at.replace(tzinfo=zone).astimezone(UTC)


def parse_date(value: str, location: str) -> date | None:
    if not value:
        return None
    if not re.match(r"^\d{8}", value):
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.not_date", value=value),
                       location)
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError as exc:
        raise Rejected(RejectReason.INVALID_VALUE, msg(
            "connector.bad_value", value=value, detail=str(exc)), location) from exc
