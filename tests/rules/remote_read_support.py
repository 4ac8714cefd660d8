"""Shared setup of the remote diagnosis rule tests: the shipped flow, routes and limits on
the 2026 working calendar, a sealer, and requests sealed as intake leaves them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet

from hub.rules.coordination import shipped_flow
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.remote_read.engine import Context, Outcome, on_request, on_update
from hub.rules.remote_read.limits import WorkingTime, load_limits
from hub.rules.remote_read.record import ReadRecord
from hub.rules.worktime import DEFAULT_WORKING_HOURS, WorkingHours
from schemas.models.remote_read import Reader, ReadReport, ReadRequest, ReadUpdate
from schemas.reference.calendar import load_working_calendar
from schemas.reference.reading_centres import shipped_reading_centres
from schemas.reference.registry import load_registry
from tests.factories import read_request, read_update

BEIJING = ZoneInfo("Asia/Shanghai")
SEALER = Sealer(Fernet.generate_key())
WORK = WorkingTime(load_working_calendar(), WorkingHours.parse(DEFAULT_WORKING_HOURS), BEIJING)
CTX = Context(shipped_flow("remote_read"), load_registry(), shipped_reading_centres(),
              load_limits(), WORK, SEALER.open_patient)
# Tuesday 8 December 2026, 09:00 in Beijing: a working day
T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
RID = "thc-river:CT20261208001"
LI = Reader(reader_id="R017", name="李影像", title="主治医师")
ZHAO = Reader(reader_id="R003", name="赵主任", title="主任医师")
QIAN = Reader(reader_id="R021", name="钱医生", title="住院医师")


def sealed(request: ReadRequest) -> ReadRequest:
    patient = pseudonymous(request.patient, b"secret", SEALER,
                           issuer=request.envelope.member_id)
    return request.model_copy(update={"patient": patient})


def opened(**overrides: object) -> ReadRecord:
    request = sealed(read_request("thc-river", "CT20261208001", at=T0,
                                  images_available_at=T0, **overrides))
    out = on_request(None, request, CTX)
    assert out.record is not None
    return out.record


def report(ref: str = "RPT-1", **overrides: object) -> ReadReport:
    fields: dict[str, object] = {
        "report_ref": ref, "findings": "左侧基底节区见斑片状低密度影，边界欠清。",
        "impression": "左侧基底节区腔隙性脑梗死。"}
    fields.update(overrides)
    return ReadReport.model_validate(fields)


def step(record: ReadRecord, member: str, action: str, at: datetime,
         **overrides: object) -> Outcome:
    update: ReadUpdate = read_update(member, record.request_id, action, at=at, **overrides)
    return on_update(record, update, CTX)


def moved(record: ReadRecord, member: str, action: str, at: datetime,
          **overrides: object) -> ReadRecord:
    out = step(record, member, action, at, **overrides)
    assert out.record is not None
    return out.record
