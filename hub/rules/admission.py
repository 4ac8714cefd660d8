"""What intake accepts from a member's ingress topic, and what it forwards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.rules.plausibility import check_plausible
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.rejections import Reason, Rejection
from schemas.models import (
    INGRESS_EVENTS,
    Diagnosis,
    Event,
    ImagingReport,
    LabResult,
    RecognitionDecision,
    TestOrder,
)
from schemas.models.common import Patient
from schemas.models.pharmacy import ShortageRegistration, StockEvent
from schemas.models.referral import CapacityPool, ReferralRequest, ReferralUpdate
from schemas.models.remote_read import (
    CriticalValueUpdate,
    ReadRequest,
    ReadUpdate,
    read_request_id,
)
from schemas.reference.messages import Label
from schemas.reference.reading_centres import ReadingCentres, shipped_reading_centres
from schemas.reference.registry import Registry
from schemas.topics import INTERNAL_ROUTES, TopicSpec

# 8-4-4-4-12 hex digits, either case: what every UUID library writes
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_PLACEHOLDER_UUIDS = frozenset({"00000000-0000-0000-0000-000000000000",
                                "ffffffff-ffff-ffff-ffff-ffffffffffff"})


@dataclass(frozen=True, slots=True)
class Admitted:
    """An accepted event, pseudonymised, with where it goes and its partition key."""

    event: Event
    route: TopicSpec
    key: str


def check_origin(event: Event, topic_member: str | None, registry: Registry) -> None:
    """The envelope must name the member that owns the topic it arrived on."""
    if type(event) not in INGRESS_EVENTS:
        raise Rejection(
            Reason.NOT_ACCEPTED_ON_INGRESS, "rejection.hub_only_schema", schema=event.avro_name()
        )
    if topic_member is None or registry.get(topic_member) is None:
        raise Rejection(Reason.UNKNOWN_MEMBER, "rejection.no_member_owns_topic")
    claimed = event.envelope.member_id
    if claimed != topic_member:
        raise Rejection(
            Reason.MEMBER_MISMATCH, "rejection.member_mismatch", claimed=claimed,
            topic_member=topic_member,
        )
    if event.envelope.schema_name != event.avro_name():
        raise Rejection(
            Reason.ENVELOPE_MISMATCH, "rejection.envelope_mismatch",
            claimed=event.envelope.schema_name, actual=event.avro_name(),
        )


def check_event_id(event: Event) -> None:
    """The event id must be a UUID of the sender's own: an empty or made-up id (or the
    all-zero placeholder) would be accepted once and make every later event with it a
    duplicate."""
    event_id = event.envelope.event_id
    if not _UUID.fullmatch(event_id):
        raise Rejection(Reason.INVALID_EVENT_ID, "rejection.event_id_not_uuid",
                        event_id=event_id[:64])
    if event_id.lower() in _PLACEHOLDER_UUIDS:
        raise Rejection(Reason.INVALID_EVENT_ID, "rejection.event_id_nil")


def dedup_key(event: Event) -> str:
    """What intake remembers an accepted event by: event ids are each sender's own, so
    the sender is part of the key (no member can make another's event a duplicate)."""
    return f"{event.envelope.member_id}/{event.envelope.event_id.lower()}"


def _protect(patient: Patient, issuer: str, secret: bytes, sealer: Sealer) -> Patient:
    if patient.key is not None or patient.sealed is not None:
        raise Rejection(Reason.PSEUDONYM_FROM_MEMBER, "rejection.pseudonym_from_member")
    try:
        return pseudonymous(patient, secret, sealer, issuer=issuer)
    except ValueError as exc:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_identity") from exc


def check_reading_route(request: ReadRequest, registry: Registry,
                        centres: ReadingCentres) -> None:
    """Somebody reads this modality for this member: else refused now, not left waiting."""
    sender = request.envelope.member_id
    if centres.route_for(sender, request.modality) is None:
        member = registry.get(sender)
        raise Rejection(Reason.READ_NO_CENTRE, "remote_read.no_centre",
                        member=member.name if member is not None else sender,
                        modality=Label(f"remote_read.modality.{request.modality.value}"))


def admit(
    event: Event, topic_member: str | None, registry: Registry, secret: bytes, sealer: Sealer,
    *, now: datetime, clock_skew: timedelta, centres: ReadingCentres | None = None,
) -> Admitted:
    """Check an ingress event and turn it into what travels on the internal topics: who
    sent it first, then its id, then whether its times can be true."""
    check_origin(event, topic_member, registry)
    check_event_id(event)
    check_plausible(event, now, clock_skew)
    route = INTERNAL_ROUTES[type(event)]
    if isinstance(event, StockEvent | ShortageRegistration):
        return Admitted(event, route, event.drug_code)
    # a referral's events are keyed by the receiving member (its pools: their owner), on
    # the home partition intake places them on (schemas.partitioning)
    if isinstance(event, CapacityPool):
        return Admitted(event, route, event.envelope.member_id)
    if isinstance(event, ReferralUpdate):
        return Admitted(event, route, event.to_member)
    if isinstance(event, ReferralRequest):
        sealed = _protect(event.patient, event.envelope.member_id, secret, sealer)
        return Admitted(event.model_copy(update={"patient": sealed}), route, event.to_member)
    # a read request's events are keyed by its id ("<examining member>:<accession>")
    if isinstance(event, ReadUpdate | CriticalValueUpdate):
        return Admitted(event, route, event.request_id)
    if isinstance(event, ReadRequest):
        check_reading_route(event, registry, centres or shipped_reading_centres())
        sealed = _protect(event.patient, event.envelope.member_id, secret, sealer)
        return Admitted(event.model_copy(update={"patient": sealed}), route,
                        read_request_id(event.envelope.member_id, event.accession))
    if not isinstance(event, LabResult | ImagingReport | Diagnosis | TestOrder
                      | RecognitionDecision):
        raise Rejection(
            Reason.NOT_ACCEPTED_ON_INGRESS, "rejection.no_route", schema=event.avro_name()
        )
    protected = _protect(event.patient, event.envelope.member_id, secret, sealer)
    assert protected.key is not None
    return Admitted(event.model_copy(update={"patient": protected}), route, protected.key)
