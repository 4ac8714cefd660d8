"""The hub's remote-diagnosis events as HL7 v2 messages for a member's RIS or HIS (delivered
over MLLP by `deliver-feedback`; each is answered with an ACK).

ReadRequest (on the reading centre's out topic: a study for it to read) → ORM^O01:
    PID (in clear: only the two members read these topics), PV1-2 the setting,
    ORC|NW|<request id>||<request id>|<SC, or CM when the images are there>||^^^^^<S/A/R>|
        |<ordered at>|||<ordering doctor>
    OBR|1|<request id>||<item code>^<name>^HUB^<local code>^^L|<S/A/R>|<ordered at>|
        <images at>|...|13 clinical question|15 ^^^body site|16 ordering doctor|
        18 accession|24 section (CT, MR, DX, US, EC, SP)|27 ^^^^^<S/A/R>
    ZDS|<Study Instance UID>^<WADO-RS url>^Application^DICOM (IHE), ZRR (below), NTE.
    The centre's RIS echoes OBR-2 (the hub's request id) in its ORU/ORM: that names the
    request whatever its own numbers are.
ReadStatus (to both members) → ORU^R01:
    ORC|RE|<request id>|<report ref>||<CM final, CA cancelled, IP otherwise>
    OBR|1|<request id>|<report ref>|<section>^<modality>^HUB|<S/A/R>|...|22 at|...|
        25 <F final, C amended/corrected, P preliminary, X cancelled, I otherwise>|...|
        32 reviewer (审核, id&name)|33 writer (书写)
    OBX|1|TX|59776-5^检查所见^LN||<findings, a line per repetition>||||||<status>
    OBX|2|TX|19005-8^诊断意见^LN||<impression>||||||<status>
    ZRR (1-13 as a member sends them; 14 task status, 15 business status, 16 due at,
    17 escalation level, 18 reason, 19 by member, 20 request id, 21 reading member),
    NTE the state, due time (Beijing) and escalation level in Chinese, then the reason.
CriticalValueStatus (to both members) → ORU^R01:
    ORC|RE|<request id>, OBR|1|<request id>||CRITICAL^危急值^HUB|...|25 P,
    OBX|1|TX|CRITICAL^危急值^HUB||<finding>|||AA, ZCV (1-8 as sent; 9 state, 10 due at,
    11 escalation level, 12 by member, 13 examining member, 14 reading member), NTE.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.member.hl7.ack import escape
from connectors.member.hl7.feedback import hub_message
from connectors.member.hl7.referral_out import PRIORITY_CODES, _pid
from connectors.member.hl7.remote_read_terms import SECTION_CODES
from schemas.models import Event
from schemas.models.remote_read import (
    CriticalValueStatus,
    PatientSetting,
    ReadAction,
    Reader,
    ReadReport,
    ReadRequest,
    ReadStatus,
)
from schemas.reference.messages import Language, Locale, text

REMOTE_READ_EVENTS = (ReadRequest, ReadStatus, CriticalValueStatus)
SETTING_CODES = {PatientSetting.OUTPATIENT: "O", PatientSetting.INPATIENT: "I",
                 PatientSetting.EMERGENCY: "E", PatientSetting.PHYSICAL_EXAM: "P"}
RESULT_STATUS = {ReadAction.FINAL_REPORT: "F", ReadAction.AMENDED_REPORT: "C",
                 ReadAction.CORRECTED_REPORT: "C", ReadAction.PRELIMINARY_REPORT: "P",
                 ReadAction.CANCELLED: "X"}
ORDER_STATUS = {ReadAction.FINAL_REPORT: "CM", ReadAction.AMENDED_REPORT: "CM",
                ReadAction.CORRECTED_REPORT: "CM", ReadAction.CANCELLED: "CA"}


def _ts(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y%m%d%H%M%S%z") if at is not None else ""


def _e(value: object) -> str:
    return "" if value is None else escape(str(value))


def _line(name: str, *fields: str) -> str:
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return "|".join([name, *values])


def _xcn(reader: Reader | None) -> str:
    if reader is None:
        return ""
    return f"{_e(reader.reader_id)}^{_e(reader.name)}^^^^^{_e(reader.title)}".rstrip("^")


def _doctor(name: str | None) -> str:
    return f"^{_e(name)}" if name else ""


def _ndl(reader: Reader | None) -> str:
    return f"{_e(reader.reader_id)}&{_e(reader.name)}" if reader is not None else ""


def _text_lines(value: str | None) -> str:
    return "~".join(_e(line) for line in (value or "").splitlines() if line.strip())


def _summary(state: str, due: datetime | None, level: int, zone: ZoneInfo) -> str:
    locale = Locale(Language.ZH, zone)
    return locale.render(text("connector.remote_read_out_summary", state=state,
                              due=due if due is not None else "-", level=level))


def _zrr(report: ReadReport | None, *, action: str = "", examining: str = "",
         reader: Reader | None = None, setting: str = "", complex_study: bool = False,
         wado: str | None = None, record: str | None = None, tail: tuple[str, ...] = ()) -> str:
    return _line(
        "ZRR", action, _e(examining), _xcn(reader), "", "", "", setting,
        "Y" if complex_study else "", _e(wado), _e(record),
        _e(report.report_ref) if report else "", _e(report.supersedes) if report else "",
        _e(report.amend_reason) if report else "", *tail)


def request_segments(request: ReadRequest, zone: ZoneInfo) -> list[str]:
    request_id = f"{request.envelope.member_id}:{request.accession}"
    priority = PRIORITY_CODES[request.priority]
    available = request.images_available_at is not None
    item = (f"{_e(request.item_code)}^{_e(request.item_name)}^HUB^{_e(request.local_code)}^^L"
            if request.item_code else f"{_e(request.local_code)}^{_e(request.item_name)}^L")
    return [
        _pid(request.patient),
        _line("PV1", "1", SETTING_CODES[request.setting], _e(request.ordering_department)),
        _line("ORC", "NW", _e(request_id), "", _e(request_id), "CM" if available else "SC",
              "", f"^^^^^{priority}", "", _ts(request.ordered_at, zone), "", "",
              _doctor(request.ordering_doctor)),
        _line("OBR", "1", _e(request_id), "", item, priority, _ts(request.ordered_at, zone),
              _ts(request.images_available_at, zone), "", "", "", "", "",
              _e(request.clinical_question), "", f"^^^{_e(request.body_site)}"
              if request.body_site else "", _doctor(request.ordering_doctor), "",
              _e(request.accession), "", "", "", "", "", SECTION_CODES[request.modality], "",
              "", f"^^^^^{priority}"),
        *([_line("ZDS", f"{_e(request.study_uid)}^{_e(request.wado_url)}^Application^DICOM")]
          if request.study_uid else []),
        _zrr(None, action="" if not available else ReadAction.IMAGES_AVAILABLE.value,
             examining=request.envelope.member_id,
             setting=SETTING_CODES[request.setting], complex_study=request.complex_study,
             wado=request.wado_url, record=request.record_ref,
             tail=("", "", "", "", "", "", request_id)),
        *([_line("NTE", "1", "", _e(request.clinical_question))]
          if request.clinical_question else []),
    ]


def status_segments(status: ReadStatus, zone: ZoneInfo) -> list[str]:
    report = status.report
    result = RESULT_STATUS.get(status.action, "I") if status.action else "I"
    ref = _e(report.report_ref) if report else ""
    section = SECTION_CODES[status.modality]
    body = [
        _pid(status.patient),
        _line("ORC", "RE", _e(status.request_id), ref, "",
              ORDER_STATUS.get(status.action, "IP") if status.action else "IP"),
        _line("OBR", "1", _e(status.request_id), ref, f"{section}^{status.modality.value}^HUB",
              PRIORITY_CODES[status.priority], "", _ts(status.at, zone), *[""] * 14,
              _ts(status.at, zone), "", section, result, *[""] * 6,
              _ndl(report.reviewer) if report else "", _ndl(report.writer) if report else ""),
    ]
    if report is not None:
        for n, (code, name, value) in enumerate((
                ("59776-5", "检查所见", report.findings),
                ("19005-8", "诊断意见", report.impression)), start=1):
            if value:
                body.append(_line("OBX", str(n), "TX", f"{code}^{name}^LN", "",
                                  _text_lines(value), "", "", "", "", "", result))
    body.append(_zrr(report, action=status.action.value if status.action else "",
                     examining=status.examining_member, reader=status.by_reader, tail=(
                         status.status.value, _e(status.business_status),
                         _ts(status.due_at, zone), str(status.escalation_level),
                         _e(status.reason), _e(status.by_member), _e(status.request_id),
                         _e(status.reading_member))))
    said = [_summary(status.business_status, status.due_at, status.escalation_level, zone),
            *(t for t in (status.reason, status.note) if t)]
    body.append(_line("NTE", "1", "", _e("；".join(said))))
    return body


def critical_segments(status: CriticalValueStatus, zone: ZoneInfo) -> list[str]:
    return [
        _pid(status.patient),
        _line("ORC", "RE", _e(status.request_id)),
        _line("OBR", "1", _e(status.request_id), "", "CRITICAL^危急值^HUB", "", "",
              _ts(status.at, zone), *[""] * 14, _ts(status.at, zone), "", "", "P"),
        _line("OBX", "1", "TX", "CRITICAL^危急值^HUB", "", _text_lines(status.finding), "", "",
              "AA", "", "", "P"),
        _line("ZCV", _e(status.critical_id), status.action.value, _e(status.finding),
              _e(status.read_back), _xcn(status.by), "", _e(status.request_id),
              _ts(status.at, zone), _e(status.state), _ts(status.due_at, zone),
              str(status.escalation_level), _e(status.by_member), _e(status.examining_member),
              _e(status.reading_member)),
        _line("NTE", "1", "", _e(_summary(status.state, status.due_at,
                                          status.escalation_level, zone))),
    ]


def render_remote_read(event: Event, member_id: str, *, charset_label: str = "UNICODE UTF-8",
                       zone: ZoneInfo | None = None) -> bytes:
    """ORM^O01 for a ReadRequest, ORU^R01 for a ReadStatus or CriticalValueStatus."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    if isinstance(event, ReadRequest):
        body, message_type = request_segments(event, zone), "ORM^O01^ORM_O01"
    elif isinstance(event, ReadStatus):
        body, message_type = status_segments(event, zone), "ORU^R01^ORU_R01"
    elif isinstance(event, CriticalValueStatus):
        body, message_type = critical_segments(event, zone), "ORU^R01^ORU_R01"
    else:
        raise TypeError(f"no remote-read message for {type(event).__name__}")
    return hub_message(event, message_type, member_id, body, charset_label=charset_label,
                       zone=zone, receiving_app="RIS")
