"""Intake: every member's ingress topic in, checked and pseudonymised events out to the
internal topics. A repeated event id is dropped (a member resending it gets a DUPLICATE
rejection; a redelivery of the same message after a crash is forwarded again, which is
harmless because every later step is idempotent by event id)."""

from __future__ import annotations

from hub import channels, metrics
from hub.agents.base import Meta, hub_agent
from hub.app import app
from hub.emit import feedback, publish, send_feedback
from hub.rejections import Reason, Rejection
from hub.rules.admission import admit
from hub.runtime import runtime
from schemas.models import Event
from schemas.models.outputs import FeedbackStatus

AGENT = "intake"

# event id -> [partition, offset, first seen (ms)] of the message that first carried it
seen_event_ids = app.Table(
    "intake-seen-event-ids", default=None, partitions=runtime.settings.member_partitions
)


@hub_agent(channels.ingress, name=AGENT)
async def intake(event: Event, meta: Meta) -> None:
    event_id = event.envelope.event_id
    first = seen_event_ids.get(event_id)
    redelivery = first is not None and first[0] == meta.partition and first[1] == meta.offset
    if first is not None and not redelivery:
        metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
        raise Rejection(Reason.DUPLICATE_EVENT, f"event id {event_id} was already accepted")
    admitted = admit(
        event, meta.topic_member, runtime.registry, runtime.pseudonym_secret, runtime.sealer
    )
    await publish(channels.INTERNAL[admitted.route.name], admitted.key, admitted.event)
    if first is None:
        first_seen_ms = int(runtime.now().timestamp() * 1000)
        seen_event_ids[event_id] = [meta.partition, meta.offset, first_seen_ms]
    metrics.MEMBER_LAST_SEEN.labels(event.envelope.member_id).set(runtime.now().timestamp())
    if runtime.settings.ack_accepted:
        await send_feedback(
            feedback(event.envelope.member_id, event_id, FeedbackStatus.ACCEPTED)
        )
