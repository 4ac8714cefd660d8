"""What intake accepts from a member's ingress topic, and what it forwards."""

from __future__ import annotations

from dataclasses import dataclass

from hub.privacy import Sealer, pseudonymous
from hub.rejections import Reason, Rejection
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
            Reason.NOT_ACCEPTED_ON_INGRESS,
            f"{event.avro_name()} is written by the hub, not by members",
        )
    if topic_member is None or registry.get(topic_member) is None:
        raise Rejection(Reason.UNKNOWN_MEMBER, "no registered member owns this topic")
    claimed = event.envelope.member_id
    if claimed != topic_member:
        raise Rejection(
            Reason.MEMBER_MISMATCH,
            f"event claims member {claimed!r} but arrived on the topic of {topic_member!r}",
        )
    if event.envelope.schema_name != event.avro_name():
        raise Rejection(
            Reason.ENVELOPE_MISMATCH,
            f"envelope names schema {event.envelope.schema_name!r} "
            f"but the body is {event.avro_name()}",
        )


def _protect(patient: Patient, secret: bytes, sealer: Sealer) -> Patient:
    if patient.key is not None or patient.sealed is not None:
        raise Rejection(
            Reason.PSEUDONYM_FROM_MEMBER, "patient.key and patient.sealed are set by the hub only"
        )
    try:
        return pseudonymous(patient, secret, sealer)
    except ValueError as exc:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, str(exc)) from exc


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
        raise Rejection(Reason.NOT_ACCEPTED_ON_INGRESS, f"no route for {event.avro_name()}")
    protected = _protect(event.patient, secret, sealer)
    assert protected.key is not None
    return Admitted(event.model_copy(update={"patient": protected}), route, protected.key)
