"""The coded words of a referral message and what they mean to the hub: RF1-1 status
(HL7 table 0283), RF1-2 priority (0280), RF1-3 type (0281, or the hub's kind), RF1-5
category (0284, or the direction), and the direction from the two members' levels.

Direction: where both members are in the registry at different levels, the levels decide
(a lower level referring to a higher one is UP, the other way DOWN), and a direction the
message states (ZRF-11, else RF1-5) that contradicts them is refused. Between members of
the same level (or one the registry does not know) the stated direction is taken, else
LATERAL.

Kind: RF1-3 naming a kind of the hub (OUTPATIENT, ADMISSION, EXAMINATION, REHABILITATION,
or 门诊/住院/检查/康复) wins; then RF1-5 I (inpatient) is ADMISSION; then RF1-3 of table
0281 (LAB, RAD: EXAMINATION; MED, PSY: OUTPATIENT; SKN, HOM: REHABILITATION); otherwise
OUTPATIENT. Any other RF1-3 code (a specialty such as GI^Gastroenterology^L) is taken as the
department asked for when PRD RT names none.
"""

from __future__ import annotations

import hl7

from connectors.member.hl7.message import get
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.clinical import OrderPriority
from schemas.models.referral import ReferralAction, ReferralDirection, ReferralKind
from schemas.reference.messages import text
from schemas.reference.registry import Registry

PRIORITIES: dict[str, OrderPriority] = {
    "S": OrderPriority.EMERGENCY, "STAT": OrderPriority.EMERGENCY,
    "A": OrderPriority.URGENT, "ASAP": OrderPriority.URGENT, "URGENT": OrderPriority.URGENT,
    "R": OrderPriority.ROUTINE, "ROUTINE": OrderPriority.ROUTINE, "": OrderPriority.ROUTINE,
}
HUB_KINDS: dict[str, ReferralKind] = {
    **{kind.value: kind for kind in ReferralKind},
    "门诊": ReferralKind.OUTPATIENT, "住院": ReferralKind.ADMISSION,
    "检查": ReferralKind.EXAMINATION, "康复": ReferralKind.REHABILITATION,
}
REFERRAL_TYPES_0281: dict[str, ReferralKind] = {
    "LAB": ReferralKind.EXAMINATION, "RAD": ReferralKind.EXAMINATION,
    "MED": ReferralKind.OUTPATIENT, "PSY": ReferralKind.OUTPATIENT,
    "SKN": ReferralKind.REHABILITATION, "HOM": ReferralKind.REHABILITATION,
}
INPATIENT = "I"
DIRECTIONS: dict[str, ReferralDirection] = {
    **{direction.value: direction for direction in ReferralDirection},
    "上转": ReferralDirection.UP, "下转": ReferralDirection.DOWN, "平转": ReferralDirection.LATERAL,
}
# RF1-1 from the receiver. E (expired) from a party is no EXPIRED (the hub's own step):
# the receiver no longer takes the referral (REJECTED), the referrer withdraws it.
RECEIVER_STATUSES: dict[str, tuple[ReferralAction, str | None]] = {
    "A": (ReferralAction.ACCEPTED, None), "R": (ReferralAction.REJECTED, None),
    "P": (ReferralAction.RECEIVED, None), "E": (ReferralAction.REJECTED, "EXPIRED"),
}
REFERRER_EXPIRED = (ReferralAction.CANCELLED, "EXPIRED")


def priority_of(rf1: hl7.Segment) -> OrderPriority:
    code = get(rf1, 2, 1).upper()
    if code not in PRIORITIES:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.referral_priority", code=code), "RF1-2")
    return PRIORITIES[code]


def _type_code(rf1: hl7.Segment) -> str:
    return (get(rf1, 3, 1) or get(rf1, 3, 2)).strip()


def kind_of(rf1: hl7.Segment) -> ReferralKind:
    code = _type_code(rf1)
    explicit = HUB_KINDS.get(code.upper()) or HUB_KINDS.get(get(rf1, 3, 2))
    if explicit is not None:
        return explicit
    if get(rf1, 5, 1).upper() == INPATIENT:
        return ReferralKind.ADMISSION
    return REFERRAL_TYPES_0281.get(code.upper(), ReferralKind.OUTPATIENT)


def service_of(prd: hl7.Segment | None, rf1: hl7.Segment) -> tuple[str | None, str | None]:
    """The department asked for: PRD RT's location (PL-1 code, PL-9 description), else an
    RF1-3 that names no kind (a specialty)."""
    if prd is not None and get(prd, 4, 1):
        return get(prd, 4, 1), get(prd, 4, 9) or None
    code = _type_code(rf1)
    if code and code.upper() not in HUB_KINDS and code.upper() not in REFERRAL_TYPES_0281 \
            and get(rf1, 3, 2) not in HUB_KINDS:
        return get(rf1, 3, 1) or code, get(rf1, 3, 2) or None
    return None, None


def direction_of(registry: Registry, referrer: str, receiver: str, stated_code: str,
                 rf1: hl7.Segment) -> ReferralDirection:
    location = "ZRF-11" if stated_code else "RF1-5"
    code = stated_code or get(rf1, 5, 1) or get(rf1, 5, 2)
    stated = DIRECTIONS.get(code.upper()) or DIRECTIONS.get(code)
    if stated_code and stated is None:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.referral_direction", code=stated_code), location)
    sender, taker = registry.get(referrer), registry.get(receiver)
    if sender is not None and taker is not None and sender.level != taker.level:
        by_levels = ReferralDirection.UP if sender.level < taker.level else ReferralDirection.DOWN
        if stated is not None and stated is not by_levels:
            raise Rejected(RejectReason.INVALID_VALUE, text(
                "connector.referral_direction_conflict", stated=stated.value,
                levels=by_levels.value, referrer=referrer, receiver=receiver), location)
        return by_levels
    return stated or ReferralDirection.LATERAL


def status_action(status: str, from_receiver: bool) -> tuple[ReferralAction, str | None]:
    if not from_receiver:
        return REFERRER_EXPIRED
    if status not in RECEIVER_STATUSES:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       text("connector.referral_status", code=status), "RF1-1")
    return RECEIVER_STATUSES[status]
