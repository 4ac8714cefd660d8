"""Intake: every member's ingress topic in, checked and pseudonymised events on to the
flows. An event that came on its home partition (schemas.partitioning: the SDK keys it so)
is handed to the flows here, on the same partition number their state lives on, without a
second hop; any other is forwarded to its home partition of the internal topic, where the
same flows take it. The event is admitted before anything else (who sent it, its id, its
times: hub/rules/admission.py), then a repeated event id of the same member is dropped (a
member resending it gets a DUPLICATE rejection; a redelivery of the same message after a
crash is handled again, which is harmless because every later step is idempotent by event
id). Event ids are each member's own: the same id from two members is two events."""

from __future__ import annotations

from datetime import timedelta

from hub import metrics
from hub.agents.base import Meta, hand_on, hub_agent
from hub.rules.admission import Admitted, admit, dedup_key
from hub.rules.rejections import Reason, Rejection
from hub.runtime import channels, placement
from hub.runtime.app import app
from hub.runtime.emit import feedback, publish, send_feedback
from hub.runtime.services import runtime
from schemas.models import Event
from schemas.models.outputs import FeedbackStatus
from schemas.partitioning import home_partition

AGENT = "intake"

DAY_SECONDS = 86_400.0
RETENTION_DAYS = runtime.settings.dedup_retention_days
CLOCK_SKEW = timedelta(seconds=runtime.settings.clock_skew_seconds)

# "<member>/<event id>" (admission.dedup_key) -> [partition, offset, first seen (ms)] of the
# message that first carried it, on that partition (a member's resend of an event has its
# ordering key, so it comes on the same partition of the same in.<member> topic; a dead
# letter is replayed there too). Day-long windows that Faust expires after the retention
# (with changelog tombstones), so the table stays bounded: an id resent after the
# retention is accepted again.
seen_event_ids = (
    app.Table("intake-seen-event-ids", default=list,
              partitions=runtime.settings.member_partitions,
              options=runtime.settings.rocksdb_options())
    .tumbling(DAY_SECONDS, expires=DAY_SECONDS * (RETENTION_DAYS + 1))
    .relative_to_stream()
)


def first_seen(key: str) -> list[int] | None:
    """Where a member's event id was first accepted, looking back over the retention."""
    windows = seen_event_ids[key]
    for days_back in range(RETENTION_DAYS + 1):
        found: list[int] = windows.delta(days_back * DAY_SECONDS)
        if found:
            return found
    return None


@hub_agent(channels.ingress, name=AGENT)
async def intake(event: Event, meta: Meta) -> None:
    event_id = event.envelope.event_id
    admitted = admit(
        event, meta.topic_member, runtime.registry, runtime.pseudonym_secret, runtime.sealer,
        now=runtime.now(), clock_skew=CLOCK_SKEW,
    )
    seen_key = dedup_key(event)
    first = first_seen(seen_key)
    redelivery = first is not None and first[0] == meta.partition and first[1] == meta.offset
    if first is not None and not redelivery:
        metrics.DUPLICATES_DROPPED.labels(AGENT).inc()
        raise Rejection(Reason.DUPLICATE_EVENT, "rejection.duplicate_event", event_id=event_id)
    home = home_partition(event)
    in_place = placement.handled_in_place() and meta.partition == home
    if not in_place:
        await publish(channels.INTERNAL[admitted.route.name], admitted.key, admitted.event,
                      partition=home)
    if first is None:
        first_seen_ms = int(runtime.now().timestamp() * 1000)
        seen_event_ids[seen_key] = [meta.partition, meta.offset, first_seen_ms]
    member_id = event.envelope.member_id
    metrics.MEMBER_LAST_SEEN.labels(member_id).set(runtime.now().timestamp())
    metrics.INTAKE_PLACEMENT.labels(member_id, "in_place" if in_place else "forwarded").inc()
    if runtime.settings.ack_accepted:
        await send_feedback(feedback(member_id, event_id, FeedbackStatus.ACCEPTED))
    if in_place:
        await hand_on(admitted.route.name, admitted.event, _as_forwarded(admitted, meta))


def _as_forwarded(admitted: Admitted, meta: Meta) -> Meta:
    """Where the flows are told the event is: the internal topic it would have been
    forwarded to, on the same partition (its home); a dead letter keeps the bytes it would
    have had there."""
    return Meta(admitted.route.name, meta.partition, meta.offset, admitted.key.encode(), b"",
                encode=lambda: runtime.codec.encode(admitted.event))
