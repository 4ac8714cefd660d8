"""Who may refer whom, and which steps reach a referral: a request's receiver is another
registered member at the level its direction says (up: a higher level; down: a lower one;
lateral: the same); a downward referral may name the upward one it returns (the same two
members the other way round); a referral id names one request only; a step names a
referral this partition keeps, at its receiver."""

from __future__ import annotations

from collections.abc import Callable

from hub.rules.referral.record import ReferralRecord, fingerprint
from hub.rules.rejections import Reason, Rejection
from schemas.models.referral import ReferralDirection, ReferralRequest, ReferralUpdate
from schemas.reference.messages import Label
from schemas.reference.registry import Level, Registry


def member_name(registry: Registry, member_id: str) -> str:
    """How a member is named in a sentence (its id if unregistered)."""
    member = registry.get(member_id)
    return member.name if member is not None else member_id


def direction_between(sender: Level, receiver: Level) -> ReferralDirection:
    """The direction a referral from one level to another goes."""
    if receiver > sender:
        return ReferralDirection.UP
    if receiver < sender:
        return ReferralDirection.DOWN
    return ReferralDirection.LATERAL


def check_receiver(sender_id: str, receiver_id: str, registry: Registry) -> Level:
    """The receiver is a registered member other than the sender: its level."""
    receiver = registry.get(receiver_id)
    if receiver is None:
        raise Rejection(Reason.REFERRAL_UNKNOWN_RECEIVER, "referral.unknown_receiver",
                        receiver=receiver_id)
    if receiver_id == sender_id:
        raise Rejection(Reason.REFERRAL_TO_SELF, "referral.to_self", member=sender_id)
    return receiver.level


def check_direction(request: ReferralRequest, registry: Registry) -> None:
    sender_id = request.envelope.member_id
    sender = registry.get(sender_id)
    if sender is None:
        raise Rejection(Reason.UNKNOWN_MEMBER, "rejection.unknown_member", member=sender_id)
    receiver_level = check_receiver(sender_id, request.to_member, registry)
    actual = direction_between(sender.level, receiver_level)
    if actual is not request.direction:
        raise Rejection(
            Reason.REFERRAL_DIRECTION, "referral.direction",
            direction=Label(f"referral.{request.direction.value}"), sender=sender.name,
            sender_level=Label(f"referral.level.{sender.level.name}"),
            receiver=member_name(registry, request.to_member),
            receiver_level=Label(f"referral.level.{receiver_level.name}"),
            actual=Label(f"referral.{actual.value}"),
        )


def check_return(request: ReferralRequest,
                 known: Callable[[str], ReferralRecord | None]) -> None:
    """A downward referral's `returns_referral` names an upward referral from its receiver
    to its sender (the referrer is the first part of a referral id). Where that referral
    lives elsewhere (with its own receiver) the link is carried unchecked beyond that."""
    returned = request.returns_referral
    if returned is None:
        return
    if request.direction is not ReferralDirection.DOWN:
        raise Rejection(Reason.REFERRAL_RETURN_MISMATCH, "referral.returns_not_down",
                        returns=returned)
    sender = request.envelope.member_id
    upward = known(returned)
    pair_ok = returned.startswith(f"{request.to_member}:")
    if upward is not None:
        pair_ok = pair_ok and upward.receiver == sender and \
            upward.direction is ReferralDirection.UP
    if not pair_ok:
        raise Rejection(Reason.REFERRAL_RETURN_MISMATCH, "referral.returns_mismatch",
                        returns=returned, sender=sender, receiver=request.to_member)


def is_repeat(request: ReferralRequest, existing: ReferralRecord | None) -> bool:
    """A request for a referral id already kept: the same request again (True: nothing
    to do) or another one reusing the id (refused)."""
    if existing is None:
        return False
    if existing.request_event_id == request.envelope.event_id or \
            existing.fingerprint == fingerprint(request):
        return True
    raise Rejection(Reason.REFERRAL_ID_REUSED, "referral.id_reused",
                    referral_id=existing.referral_id)


def check_request(request: ReferralRequest, registry: Registry,
                  known: Callable[[str], ReferralRecord | None]) -> None:
    if not request.patient.key or not request.patient.sealed:
        raise Rejection(Reason.MISSING_PATIENT_IDENTITY, "rejection.no_pseudonym")
    check_direction(request, registry)
    check_return(request, known)


def check_update(update: ReferralUpdate, record: ReferralRecord | None) -> ReferralRecord:
    """The referral a step is about, kept here and at the receiver the step names."""
    if record is None:
        raise Rejection(Reason.REFERRAL_UNKNOWN, "referral.unknown",
                        referral_id=update.referral_id)
    if update.to_member != record.receiver:
        raise Rejection(Reason.REFERRAL_RECEIVER_MISMATCH, "referral.receiver_mismatch",
                        referral_id=update.referral_id, to_member=update.to_member,
                        receiver=record.receiver)
    return record


def check_onward(update: ReferralUpdate, record: ReferralRecord, registry: Registry) -> None:
    """A referral onward names another registered member than both parties."""
    target = update.onward_to
    if target is None or target == record.receiver:
        raise Rejection(Reason.REFERRAL_ONWARD_INVALID, "referral.onward_invalid",
                        member=target or "-")
    check_receiver(record.referrer, target, registry)
