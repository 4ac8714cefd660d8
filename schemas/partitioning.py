"""Where an event belongs: its ordering key, the same at the member and in the hub.

A member's SDK writes each event with `ordering_key` as its Kafka key, so the default
partitioner (murmur2 of the key) puts it on the partition its flow's state lives on: a
patient's events (from every member) on one partition number, a drug's stock events on
another. The hub places its internal copies and its state by the same key, so an event that
arrives on that partition is handled where it lands, with no second hop.

The patient key is a plain hash of what the hub's pseudonym is made of (never coarser than
the pseudonym: two events with one pseudonym always share the key), so it carries no
identity in clear. Like the pseudonym, a record number's key includes the member that
issued it (schemas.models.common.normalized_id): the issuer is the event's member_id.
"""

from __future__ import annotations

import hashlib

from kafka.partitioner.default import murmur2

from schemas.models import Event
from schemas.models.common import IdType, Patient, normalized_id
from schemas.models.pharmacy import ShortageRegistration, StockEvent
from schemas.models.referral import CapacityPool, ReferralRequest, ReferralUpdate
from schemas.models.remote_read import (
    CriticalValueUpdate,
    ReadRequest,
    ReadUpdate,
    read_request_id,
)
from schemas.topics import INTERNAL_PARTITIONS


def _digest(ident: str) -> bytes:
    return hashlib.sha256(ident.encode()).hexdigest()[:24].encode()


def identity_ordering_key(id_type: IdType | str, id_number: str, *, issuer: str) -> bytes:
    """The key of a patient known by ID type and number (as the recognition API is): of
    the same text as the pseudonym, so a record number's key names its issuing member."""
    return _digest(normalized_id(id_type, id_number, issuer=issuer))


def patient_ordering_key(patient: Patient, *, issuer: str) -> bytes | None:
    """The key of a patient: by ID where the pseudonym is made from the ID, else by name
    (the name-based pseudonym adds sex, birth date and address: this key is coarser; like
    that pseudonym it is the same from every member)."""
    if patient.id_type is not None and patient.id_number:
        return identity_ordering_key(patient.id_type, patient.id_number, issuer=issuer)
    if patient.name:
        return _digest(f"name:{patient.name.strip()}")
    return None


def ordering_key(event: Event) -> bytes:
    """Events about one patient (or one drug, or one receiver's referrals) stay in order on
    one partition, the one their flow's state lives on. A record number is the publishing
    member's own."""
    if isinstance(event, StockEvent | ShortageRegistration):
        return event.drug_code.encode()
    if isinstance(event, ReferralRequest | ReferralUpdate):
        return referral_ordering_key(event.to_member)
    if isinstance(event, CapacityPool):
        return referral_ordering_key(event.envelope.member_id)
    if isinstance(event, ReadRequest):
        return read_ordering_key(read_request_id(event.envelope.member_id, event.accession))
    if isinstance(event, ReadUpdate | CriticalValueUpdate):
        return read_ordering_key(event.request_id)
    patient: Patient | None = getattr(event, "patient", None)
    key = (patient_ordering_key(patient, issuer=event.envelope.member_id)
           if patient is not None else None)
    return key if key is not None else _digest(event.envelope.event_id)


def referral_ordering_key(receiver_id: str) -> bytes:
    """A referral's steps and its receiver's reserved pools share the receiver's key, so
    the one worker that owns it books a slot (domain.md section 5)."""
    return f"referral:{receiver_id}".encode()


def read_ordering_key(request_id: str) -> bytes:
    """A read request's steps, reports and critical values share its key: two readers
    claiming one study are judged on one partition."""
    return f"read:{request_id}".encode()


def partition_of_key(key: bytes, partitions: int = INTERNAL_PARTITIONS) -> int:
    """Kafka's default partitioner (murmur2 of the key), as the members' producers apply it:
    the home partition of an ordering key."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def home_partition(event: Event, partitions: int = INTERNAL_PARTITIONS) -> int:
    """The partition an event's flow state lives on, where the SDK writes it."""
    return partition_of_key(ordering_key(event), partitions)
