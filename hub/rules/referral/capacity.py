"""The places a receiver reserves for referred patients (domain.md section 5: 20% or more
of its specialist slots, beds and booked examinations), and the bookings made in them.

A pool is one period of one resource. Where it lists its slots, a booking names one and a
slot holds one referral; otherwise the pool is a count. A newer publication of a pool
replaces its counts and slots and keeps the bookings already made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hub.rules.rejections import Reason, Rejection
from schemas.models.referral import Booking, CapacityPool, ResourceKind

MINIMUM_RESERVED_SHARE = 0.2  # domain.md section 5: 20% or more


def pool_key(owner: str, pool_id: str) -> str:
    return f"{owner}|{pool_id}"


@dataclass(frozen=True, slots=True)
class Pool:
    owner: str
    pool_id: str
    resource: ResourceKind
    resource_code: str
    resource_name: str
    period_start: datetime
    period_end: datetime
    total: int
    reserved: int
    publication: str  # event id of the publication the counts come from
    slots: dict[str, datetime] = field(default_factory=dict)  # slot id -> start
    bookings: dict[str, str] = field(default_factory=dict)  # slot id -> referral id
    counted: tuple[str, ...] = ()  # referral ids booked in a pool without slots

    @property
    def key(self) -> str:
        return pool_key(self.owner, self.pool_id)

    @property
    def booked(self) -> int:
        return len(self.bookings) + len(self.counted)

    @property
    def free(self) -> int:
        return max(0, self.reserved - self.booked)

    @property
    def fill_rate(self) -> float:
        """Booked / reserved (0 for a pool reserving nothing)."""
        return self.booked / self.reserved if self.reserved else 0.0

    @property
    def reserved_share(self) -> float:
        return self.reserved / self.total if self.total else 0.0

    @property
    def below_minimum(self) -> bool:
        return self.total > 0 and self.reserved < MINIMUM_RESERVED_SHARE * self.total

    def holder(self, referral_id: str) -> str | None:
        """The slot (or '' for a counted place) a referral holds here, if any."""
        for slot_id, holder in self.bookings.items():
            if holder == referral_id:
                return slot_id
        return "" if referral_id in self.counted else None

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner, "pool_id": self.pool_id, "resource": self.resource.value,
            "resource_code": self.resource_code, "resource_name": self.resource_name,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(), "total": self.total,
            "reserved": self.reserved, "publication": self.publication,
            "slots": {s: at.isoformat() for s, at in self.slots.items()},
            "bookings": dict(self.bookings), "counted": list(self.counted),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Pool:
        def at(text: str) -> datetime:
            return datetime.fromisoformat(text).astimezone(UTC)

        return cls(
            owner=value["owner"], pool_id=value["pool_id"],
            resource=ResourceKind(value["resource"]), resource_code=value["resource_code"],
            resource_name=value["resource_name"], period_start=at(value["period_start"]),
            period_end=at(value["period_end"]), total=value["total"],
            reserved=value["reserved"], publication=value["publication"],
            slots={s: at(t) for s, t in value.get("slots", {}).items()},
            bookings=dict(value.get("bookings", {})), counted=tuple(value.get("counted", ())),
        )


def publish(existing: Pool | None, event: CapacityPool) -> Pool:
    """The pool as its owner now publishes it, with the bookings already made."""
    return Pool(
        owner=event.envelope.member_id, pool_id=event.pool_id, resource=event.resource,
        resource_code=event.resource_code, resource_name=event.resource_name,
        period_start=event.period_start, period_end=event.period_end, total=event.total,
        reserved=event.reserved, publication=event.envelope.event_id,
        slots={slot.slot_id: slot.starts_at for slot in event.slots},
        bookings=dict(existing.bookings) if existing else {},
        counted=existing.counted if existing else (),
    )


def release(pool: Pool, referral_id: str) -> Pool:
    """The pool without the referral's booking (unchanged if it holds none)."""
    if pool.holder(referral_id) is None:
        return pool
    return replace(pool, bookings={s: r for s, r in pool.bookings.items() if r != referral_id},
                   counted=tuple(r for r in pool.counted if r != referral_id))


def book(pool: Pool | None, owner: str, booking: Booking, referral_id: str,
         ) -> tuple[Pool, Booking]:
    """Book a reserved place for a referral: the pool with it, and the booking with the
    slot's start filled in. The same booking again changes nothing; another slot of the
    same pool moves the referral there."""
    if pool is None:
        raise Rejection(Reason.REFERRAL_UNKNOWN_POOL, "referral.unknown_pool",
                        pool=booking.pool_id, member=owner)
    if pool.slots:
        return _book_slot(pool, booking, referral_id)
    if referral_id in pool.counted:
        return pool, booking
    if pool.free <= 0:
        raise Rejection(Reason.RESERVED_PLACES_FULL, "referral.pool_full",
                        pool=pool.resource_name, reserved=pool.reserved)
    return replace(pool, counted=(*pool.counted, referral_id)), booking


def _book_slot(pool: Pool, booking: Booking, referral_id: str) -> tuple[Pool, Booking]:
    slot_id = booking.slot_id
    if slot_id is None:
        raise Rejection(Reason.REFERRAL_SLOT_REQUIRED, "referral.slot_required",
                        pool=pool.resource_name)
    starts_at = pool.slots.get(slot_id)
    if starts_at is None:
        raise Rejection(Reason.REFERRAL_UNKNOWN_SLOT, "referral.unknown_slot", slot=slot_id,
                        pool=pool.resource_name)
    filled = booking if booking.starts_at else booking.model_copy(
        update={"starts_at": starts_at})
    holder = pool.bookings.get(slot_id)
    if holder == referral_id:
        return pool, filled
    if holder is not None:
        raise Rejection(Reason.SLOT_TAKEN, "referral.slot_taken", slot=slot_id,
                        pool=pool.resource_name, starts_at=starts_at)
    moved = release(pool, referral_id)
    if moved.free <= 0:
        raise Rejection(Reason.RESERVED_PLACES_FULL, "referral.pool_full",
                        pool=pool.resource_name, reserved=pool.reserved)
    return replace(moved, bookings={**moved.bookings, slot_id: referral_id}), filled
