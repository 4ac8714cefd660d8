"""The one way an agent handles a message: decode, call the handler, and turn any
failure into a dead letter plus a rejection to the member. An uncaught error would stop
the agent, so none escapes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from faust.types import EventT, StreamT, TopicT

from hub import metrics
from hub.rules.rejections import REPLAY_HEADER, Reason, Rejection
from hub.runtime.app import app
from hub.runtime.emit import dead_letter, feedback, forget_unacknowledged, send_feedback
from hub.runtime.services import runtime
from schemas.codec import CodecError, FieldTooLongError
from schemas.models import Event
from schemas.models.outputs import FeedbackStatus
from schemas.reference.messages import text
from schemas.topics import member_of_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Meta:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes
    replay_of: str | None = None  # the dead letter this message is the replay of
    # Handled in place (hand_on): the bytes the event would have had on the internal
    # topic, made only for a dead letter.
    encode: Callable[[], bytes] | None = None

    def original(self) -> bytes:
        """The input's bytes, as a dead letter keeps them."""
        return self.encode() if self.encode is not None else self.raw

    @property
    def topic_member(self) -> str | None:
        return member_of_topic(self.topic)


Handler = Callable[[Event, Meta], Awaitable[None]]


def _meta(event: EventT[bytes]) -> Meta:
    message = event.message
    raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
    key = event.key if isinstance(event.key, bytes) or event.key is None else bytes(event.key)
    return Meta(message.topic, message.partition, message.offset, key, raw,
                replay_of_header(message.headers))


def replay_of_header(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
) -> str | None:
    """The letter id of REPLAY_HEADER, from Faust's headers (a mapping or (key, value)
    pairs), if the message is a replay."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name == REPLAY_HEADER and value:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def rejection_id_parts(meta: Meta, agent: str, event: Event | None) -> tuple[str, ...]:
    """What a rejection's ids (dead letter, feedback) derive from. On a member's ingress
    topic, the message's position: each resend of an event id is answered on its own. Past
    intake, the event id: intake forwards an input again when it is redelivered after a
    crash, at a new offset of the internal topic, and that copy must get the same answer.
    A replay refused again: the letter replayed, so each replay of it gives one letter."""
    if meta.replay_of is not None:
        return ("replay", meta.replay_of, agent)
    if event is not None and meta.topic_member is None:
        return (meta.topic, event.envelope.event_id, agent)
    return (meta.topic, str(meta.partition), str(meta.offset), agent)


async def reject(meta: Meta, code: str, reason: str, agent: str, event: Event | None,
                 event_id: str | None = None) -> None:
    """Dead-letter an input and tell the member who sent it (the owner of the ingress
    topic, or for internal topics the member intake already verified). A replay refused
    again is not answered: the member was told when the input first came. `event_id`: the
    id of an input that was read but not accepted as an event, for the answer."""
    member = meta.topic_member or (event.envelope.member_id if event else None)
    id_parts = rejection_id_parts(meta, agent, event)
    await dead_letter(
        raw=meta.original(), topic=meta.topic, partition=meta.partition, offset=meta.offset,
        reason_code=code, reason=reason, agent=agent, topic_member=member, event=event,
        id_parts=id_parts, replay_of=meta.replay_of,
    )
    if member is None or meta.replay_of is not None:
        return
    in_reply_to = event.envelope.event_id if event else event_id
    await send_feedback(
        feedback(
            member, in_reply_to, FeedbackStatus.REJECTED, id_parts=id_parts,
            reason_code=code, reason=reason, source_topic=meta.topic,
            source_partition=meta.partition, source_offset=meta.offset,
        )
    )


def input_member(meta: Meta, event: Event | None) -> str:
    """Who sent an input: the owner of the ingress topic it came on (never the member an
    event claims to be), past intake the member intake verified."""
    if meta.topic_member is not None:
        return meta.topic_member
    return event.envelope.member_id if event is not None else "unknown"


async def _refuse(agent: str, exc: Exception, meta: Meta, event: Event | None) -> None:
    """Answer a failed input: dead letter and rejection (an uncaught error would stop the
    agent)."""
    if isinstance(exc, FieldTooLongError):
        reason = text("rejection.field_too_long", schema=exc.schema, field=exc.field,
                      length=exc.length, limit=exc.limit)
        await reject(meta, exc.code, runtime.locale.render(reason), agent, None, exc.event_id)
    elif isinstance(exc, CodecError):
        key = "rejection.unknown_schema" if exc.code == Reason.UNKNOWN_SCHEMA else \
            "rejection.malformed"
        await reject(meta, exc.code, runtime.locale.render(text(key, detail=str(exc))), agent,
                     None)
    elif isinstance(exc, Rejection):
        await reject(meta, exc.code, exc.reason_in(runtime.locale), agent, event)
    else:
        log.error("agent %s failed on %s[%d]@%d", agent, meta.topic, meta.partition,
                  meta.offset, exc_info=exc, extra={
                      "agent": agent,
                      "event_id": event.envelope.event_id if event else None,
                      "member": event.envelope.member_id if event else meta.topic_member,
                  })
        detail = text("rejection.processing_error", detail=f"{type(exc).__name__}: {exc}")
        await reject(meta, Reason.PROCESSING_ERROR, runtime.locale.render(detail), agent, event)


async def _call(agent: str, handler: Handler, meta: Meta, event: Event | None = None) -> None:
    """Call `handler` on one input (decoded first when `event` is None), answering any
    failure with `_refuse`."""
    started = time.perf_counter()
    try:
        if event is None:
            try:
                event = runtime.codec.decode(meta.raw)
            finally:  # every input counts, readable or not, for the member that sent it
                metrics.EVENTS_IN.labels(meta.topic, input_member(meta, event)).inc()
        await handler(event, meta)
    except Exception as exc:
        await _refuse(agent, exc, meta, event)
    finally:
        forget_unacknowledged()
        metrics.PROCESSING_SECONDS.labels(agent).observe(time.perf_counter() - started)


async def handle(agent: str, handler: Handler, meta: Meta) -> None:
    """Decode one message of an agent's topic and handle it."""
    await _call(agent, handler, meta)


# topic -> the (agent name, handler) pairs registered on it, in registration order
_flows: dict[str, list[tuple[str, Handler]]] = {}


async def hand_on(topic: str, event: Event, meta: Meta) -> None:
    """Run the agents of an internal topic on an event here, as if it had come on that
    topic (`meta` says where, its partition the event's home partition): intake's way of
    saving the second hop. Each agent's failure is answered as its own agent would."""
    for agent, handler in _flows.get(topic, ()):
        await _call(agent, handler, meta, event)


def hub_agent(channel: TopicT, *, name: str) -> Callable[[Handler], Handler]:
    """Register `handler` as a Faust agent on `channel` that never stops on a bad message."""

    def register(handler: Handler) -> Handler:
        async def consume(stream: StreamT[bytes]) -> None:
            async for event in stream.events():
                await handle(name, handler, _meta(event))

        consume.__name__ = consume.__qualname__ = name.replace("-", "_")
        app.agent(channel, name=name)(consume)
        for topic in channel.topics:
            _flows.setdefault(topic, []).append((name, handler))
        return handler

    return register
