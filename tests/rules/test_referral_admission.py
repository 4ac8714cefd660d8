"""Who may refer whom: a registered receiver other than the sender, a direction that fits
the members' levels, a downward referral returning an upward one of the same two members,
one request per referral id, and steps only on a referral kept at the receiver named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import admit
from hub.rules.coordination import Task
from hub.rules.privacy import Sealer, pseudonymous
from hub.rules.referral.admission import (
    check_request,
    check_update,
    direction_between,
    is_repeat,
)
from hub.rules.referral.record import ReferralRecord, fingerprint
from hub.rules.rejections import Rejection
from schemas.models.clinical import OrderPriority
from schemas.models.coordination import TaskStatus
from schemas.models.referral import ReferralDirection, ReferralKind, ReferralRequest
from schemas.reference.messages import DEFAULT_LOCALE
from schemas.reference.registry import Level, load_registry
from tests.factories import referral_request, referral_update

REGISTRY = load_registry()
SEALER = Sealer(Fernet.generate_key())
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def sealed(request: ReferralRequest) -> ReferralRequest:
    patient = pseudonymous(request.patient, b"secret", SEALER,
                           issuer=request.envelope.member_id)
    return request.model_copy(update={"patient": patient})


def record_of(request: ReferralRequest) -> ReferralRecord:
    task = Task(task_id=f"{request.envelope.member_id}:{request.referral_ref}",
                requester=request.envelope.member_id, performer=request.to_member,
                priority=request.priority.value, status=TaskStatus.REQUESTED,
                business_status="requested", since=T0, opened_at=T0)
    return ReferralRecord(
        task=task, referral_ref=request.referral_ref, direction=request.direction,
        kind=ReferralKind.OUTPATIENT, priority=OrderPriority.ROUTINE,
        pseudonym=request.patient.key or "", sealed_patient="x",
        request_event_id=request.envelope.event_id, fingerprint=fingerprint(request),
        request={})


def refused(request: ReferralRequest, known: dict[str, ReferralRecord] | None = None,
            ) -> Rejection:
    with pytest.raises(Rejection) as caught:
        check_request(sealed(request), REGISTRY, (known or {}).get)
    return caught.value


def test_direction_follows_the_levels() -> None:
    assert direction_between(Level.VILLAGE_POINT, Level.LEAD_HOSPITAL) is ReferralDirection.UP
    assert direction_between(Level.LEAD_HOSPITAL, Level.CENTRE) is ReferralDirection.DOWN
    assert direction_between(Level.CENTRE, Level.CENTRE) is ReferralDirection.LATERAL


def test_a_village_point_refers_up_to_the_lead_and_the_lead_down_to_a_centre() -> None:
    check_request(sealed(referral_request("vp-hexi", "lead", "R1")), REGISTRY, {}.get)
    check_request(sealed(referral_request("lead", "chc-east", "D1", direction="DOWN")),
                  REGISTRY, {}.get)
    check_request(sealed(referral_request("chc-east", "chc-west", "L1", direction="LATERAL")),
                  REGISTRY, {}.get)


def test_a_direction_against_the_levels_is_refused_in_chinese() -> None:
    rejection = refused(referral_request("lead", "chc-east", "R2", direction="UP"))
    assert rejection.code == "REFERRAL_DIRECTION"
    assert rejection.reason_in(DEFAULT_LOCALE) == (
        "转诊方向（上转）与双方级别不符：安县人民医院（牵头医院）转往城东社区卫生服务中心（基层医疗卫生机构）"
        "应为下转")
    assert refused(referral_request("chc-east", "chc-west", "R3")).code == "REFERRAL_DIRECTION"


def test_the_receiver_is_a_registered_member_and_not_the_sender() -> None:
    assert refused(referral_request("chc-east", "nowhere", "R4")).code == \
        "REFERRAL_UNKNOWN_RECEIVER"
    assert refused(referral_request("chc-east", "chc-east", "R5", direction="LATERAL")
                   ).code == "REFERRAL_TO_SELF"


def test_a_downward_referral_returns_an_upward_one_of_the_same_two_members() -> None:
    down = referral_request("lead", "chc-east", "D2", direction="DOWN",
                            returns_referral="chc-east:R9")
    check_request(sealed(down), REGISTRY, {}.get)  # lives with its receiver: link carried
    upward = record_of(referral_request("chc-east", "lead", "R9"))
    check_request(sealed(down), REGISTRY, {"chc-east:R9": upward}.get)
    other = referral_request("lead", "chc-east", "D3", direction="DOWN",
                             returns_referral="thc-river:R9")
    assert refused(other).code == "REFERRAL_RETURN_MISMATCH"
    lateral = replace(upward, direction=ReferralDirection.LATERAL)
    assert refused(down, {"chc-east:R9": lateral}).code == "REFERRAL_RETURN_MISMATCH"
    up_with_link = referral_request("chc-east", "lead", "R8", returns_referral="lead:D1")
    assert refused(up_with_link).code == "REFERRAL_RETURN_MISMATCH"


def test_a_repeated_request_is_idempotent_and_a_reused_id_refused() -> None:
    sent = referral_request("chc-east", "lead", "R6", at=T0)
    first = sealed(sent)
    kept = record_of(first)
    assert not is_repeat(first, None)
    assert is_repeat(first, kept)
    resent = sealed(sent.model_copy(update={"envelope": ReferralRequest.new_envelope(
        "chc-east", occurred_at=T0)}))  # a new event id, the same request (sealed afresh)
    assert is_repeat(resent, kept)
    other = sealed(referral_request("chc-east", "lead", "R6", at=T0, icd10="I63.900"))
    with pytest.raises(Rejection) as caught:
        is_repeat(other, kept)
    assert caught.value.code == "REFERRAL_ID_REUSED" and "chc-east:R6" in caught.value.reason


def test_a_step_needs_a_known_referral_at_its_receiver() -> None:
    kept = record_of(sealed(referral_request("chc-east", "lead", "R7")))
    with pytest.raises(Rejection) as unknown:
        check_update(referral_update("lead", "chc-east:R0", "lead", "ACCEPTED"), None)
    assert unknown.value.code == "REFERRAL_UNKNOWN"
    with pytest.raises(Rejection) as elsewhere:
        check_update(referral_update("lead", "chc-east:R7", "mch", "ACCEPTED"), kept)
    assert elsewhere.value.code == "REFERRAL_RECEIVER_MISMATCH"
    assert check_update(referral_update("lead", "chc-east:R7", "lead", "ACCEPTED"),
                        kept) is kept


def test_intake_admits_referral_events_to_hub_referrals_keyed_by_the_receiver() -> None:
    now = datetime.now(UTC)
    request = referral_request("vp-hexi", "lead", "R1", at=now)
    admitted = admit(request, "vp-hexi", REGISTRY, b"secret", SEALER, now=now,
                     clock_skew=timedelta(minutes=5))
    assert (admitted.route.name, admitted.key) == ("hub.referrals", "lead")
    assert isinstance(admitted.event, ReferralRequest)
    assert admitted.event.patient.name is None and admitted.event.patient.sealed
    step = referral_update("lead", "vp-hexi:R1", "lead", "ACCEPTED", at=now)
    assert admit(step, "lead", REGISTRY, b"secret", SEALER, now=now,
                 clock_skew=timedelta(minutes=5)).key == "lead"
