"""One HL7 message in, one acknowledgement out.

The message is decoded, checked and mapped to events in full before anything is published
(a message is all or nothing). The events are then published through the sink in a thread
(publishing blocks until Kafka acknowledged the write), and only then is AA sent. A
message that cannot be parsed or mapped, or whose events could not be written, is answered
AE/AR and its raw text goes to the local dead-letter file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from connectors import metrics
from connectors.member.deadletter import DeadLetterFile
from connectors.member.hl7.ack import ACCEPT, ERROR, ack_code_for, build_ack
from connectors.member.hl7.admissions import map_adt
from connectors.member.hl7.card import card_fields
from connectors.member.hl7.context import EventList, MappingContext
from connectors.member.hl7.message import Header, Hl7Message, decode, read_header
from connectors.member.hl7.orders import map_order
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.hl7.referral import (
    REFERRAL_TYPES,
    is_referral,
    map_referral,
    referral_warnings,
)
from connectors.member.hl7.remote_read import (
    REMOTE_READ_TYPES,
    is_remote_read,
    map_remote_read,
)
from connectors.member.hl7.results import map_mdm, map_oru
from connectors.member.mapping import CodeMapper, EventSink, Rejected, RejectReason, invalid_event
from connectors.member.mllp.server import MllpServer, start_mllp_server
from connectors.settings import ConnectorSettings
from schemas.reference.messages import text

log = logging.getLogger(__name__)
CHANNEL = "mllp"

Mapper = Callable[[MappingContext, Hl7Message], EventList]
MAPPERS: dict[tuple[str, str], Mapper] = {
    ("ORU", "R01"): map_oru,
    ("MDM", "T02"): map_mdm,
    ("ORM", "O01"): map_order,
    ("OML", "O21"): map_order,
    ("ADT", "A01"): map_adt,
    ("ADT", "A04"): map_adt,
    ("ADT", "A08"): map_adt,
    **dict.fromkeys(REFERRAL_TYPES, map_referral),
    **dict.fromkeys(REMOTE_READ_TYPES, map_remote_read),
}


def map_message(ctx: MappingContext, message: Hl7Message) -> EventList:
    kind = (message.header.message_type.upper(), message.header.trigger.upper())
    if is_remote_read(ctx, message):  # remote diagnosis: connectors/member/hl7/remote_read.py
        return map_remote_read(ctx, message)
    mapper = MAPPERS.get(kind)
    if mapper is None:
        accepted = ", ".join(f"{t}^{e}" for t, e in MAPPERS)
        raise Rejected(RejectReason.UNSUPPORTED, text(
            "connector.message_type", kind=f"{kind[0]}^{kind[1]}", accepted=accepted), "MSH-9")
    return mapper(ctx, message)


class Hl7Handler:
    """The MLLP message handler of a member's HL7 listener."""

    def __init__(
        self,
        context: MappingContext,
        sink: EventSink,
        dead_letters: DeadLetterFile,
        *,
        default_charset: str = "utf-8",
        executor: Executor | None = None,
    ) -> None:
        self.context = context
        self.sink = sink
        self.dead_letters = dead_letters
        self.default_charset = default_charset
        self.executor = executor

    async def __call__(self, raw: bytes) -> bytes:
        header = read_header(raw, self.default_charset)
        try:
            message = decode(raw, self.default_charset, control_id_required=not is_referral(
                header.message_type, header.trigger))
            events = map_message(self.context, message)
            warnings = ((*card_fields(message).warnings, *referral_warnings(message))
                        if events else ())
        except Rejected as rejection:
            return self._refuse(raw, header, rejection)
        except ValidationError as exc:  # e.g. a name longer than the contract allows
            return self._refuse(raw, header, invalid_event(exc))
        except Exception as exc:  # a mapping bug must still be answered, and the input kept
            log.exception("mapping HL7 message %s failed", header.control_id)
            failure = Rejected(RejectReason.MALFORMED,
                               text("connector.not_mapped", detail=repr(exc)))
            return self._refuse(raw, header, failure, code=ERROR)
        if events:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.executor, self.sink.publish_many, events)
            except Exception as exc:
                log.error("events of HL7 message %s not written: %s", header.control_id, exc)
                unwritten = Rejected(RejectReason.PUBLISH_FAILED,
                                     text("connector.publish_failed", detail=str(exc)))
                return self._refuse(raw, header, unwritten)
            for event in events:
                metrics.EVENTS_PUBLISHED.labels(CHANNEL, type(event).__name__).inc()
        metrics.MLLP_ACKS.labels(ACCEPT).inc()
        summary = ", ".join(f"{type(e).__name__} {e.envelope.event_id}" for e in events)
        note = f"published {summary}" if events else "accepted; nothing to publish"
        return build_ack(header, ACCEPT, note, warnings=warnings, zone=self.context.zone)

    def _refuse(self, raw: bytes, header: Header, rejection: Rejected,
                code: str | None = None) -> bytes:
        ack_code = code or ack_code_for(rejection)
        self.dead_letters.write(
            CHANNEL, rejection.code.value, rejection.message, raw, charset=header.encoding,
            details={"control_id": header.control_id, "ack": ack_code,
                     "message_type": f"{header.message_type}^{header.trigger}"},
        )
        metrics.MLLP_ACKS.labels(ack_code).inc()
        return build_ack(header, ack_code, rejection.message, rejection, zone=self.context.zone)


async def start_hl7_listener(
    sink: EventSink,
    member_id: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    codes: CodeMapper | None = None,
    patients: PatientCache | None = None,
    dead_letters: DeadLetterFile | None = None,
    zone: str = "Asia/Shanghai",
    default_charset: str = "utf-8",
    max_message_bytes: int = 4 * 1024 * 1024,
    idle_timeout: float = 600.0,
    executor: Executor | None = None,
) -> MllpServer:
    """An HL7 listener on host:port publishing to `sink` (for the CLI, tests, benchmarks).
    Port 0 picks a free port: read it from `.port`. Without `dead_letters`, rejected
    messages go to the default folder (HUB_DEAD_LETTER_DIR's default, under the cwd)."""
    if dead_letters is None:
        dead_letters = DeadLetterFile(ConnectorSettings().dead_letter_dir, member_id)
    context = MappingContext(
        member_id, codes if codes is not None else CodeMapper.load(member_id), ZoneInfo(zone),
        patients if patients is not None else PatientCache(None),
    )
    handler = Hl7Handler(context, sink, dead_letters, default_charset=default_charset,
                         executor=executor)
    return await start_mllp_server(handler, host, port, max_message_bytes=max_message_bytes,
                                   idle_timeout=idle_timeout)
