"""What intake accepts from a member's ingress topic, and what it forwards."""

from __future__ import annotations

from dataclasses import dataclass

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
from schemas.reference.registry import Registry
from schemas.topics import INTERNAL_ROUTES, TopicSpec


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


def _protect(patient: Patient, issuer: str, secret: bytes, sealer: Sealer) -> Patient:
    if patient.key is not None or patient.sealed is not None:
        raise Rejection(Reason.PSEUDONYM_FROM_MEMBER, "rejection.pseudonym_from_member")
    try:
        return pseudonymous(patient, secret, sealer, issuer=issuer)
    except ValueError as exc:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_identity") from exc


def admit(
    event: Event, topic_member: str | None, registry: Registry, secret: bytes, sealer: Sealer
) -> Admitted:
    """Check an ingress event and turn it into what travels on the internal topics."""
    check_origin(event, topic_member, registry)
    route = INTERNAL_ROUTES[type(event)]
    if isinstance(event, StockEvent | ShortageRegistration):
        return Admitted(event, route, event.drug_code)
    if not isinstance(event, LabResult | ImagingReport | Diagnosis | TestOrder
                      | RecognitionDecision):
        raise Rejection(
            Reason.NOT_ACCEPTED_ON_INGRESS, "rejection.no_route", schema=event.avro_name()
        )
    protected = _protect(event.patient, event.envelope.member_id, secret, sealer)
    assert protected.key is not None
    return Admitted(event.model_copy(update={"patient": protected}), route, protected.key)
