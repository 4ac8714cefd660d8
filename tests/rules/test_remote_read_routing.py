"""Remote diagnosis intake: who reads what comes from reading_centres.toml; a request
nobody reads is refused at once in Chinese; a request's events share its id as key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from hub.rules.admission import admit
from hub.rules.privacy import Sealer
from hub.rules.rejections import Reason, Rejection
from schemas.models.remote_read import ReadModality, ReadRequest
from schemas.reference.reading_centres import load_reading_centres, shipped_reading_centres
from schemas.reference.registry import load_registry
from tests.factories import critical_update, read_request, read_update

REGISTRY = load_registry()
SEALER = Sealer(Fernet.generate_key())
SKEW = timedelta(minutes=5)


def test_the_lead_reads_for_primary_care_with_a_backup_centre() -> None:
    centres = shipped_reading_centres()
    ct = centres.route_for("thc-river", ReadModality.CT)
    assert ct is not None and (ct.reading_member, ct.backup_member) == ("lead", "city-tcm")
    us = centres.route_for("chc-east", ReadModality.US)
    assert us is not None and us.backup_member == "mch"
    assert centres.route_for("vp-hexi", ReadModality.CT) is None
    assert centres.route_for("lead", ReadModality.CT) is None


def test_every_member_the_routes_name_is_registered() -> None:
    assert shipped_reading_centres().members_named() <= set(REGISTRY.ids)


def test_two_routes_for_one_member_and_modality_are_refused() -> None:
    twice = b"""
[[routes]]
reading_member = "lead"
modalities = ["CT"]
for_members = ["thc-river"]
[[routes]]
reading_member = "city-tcm"
modalities = ["CT", "MR"]
for_members = ["thc-river"]
"""
    with pytest.raises(ValueError, match="two routes read CT for thc-river"):
        load_reading_centres(twice)


def test_a_centre_is_not_its_own_backup() -> None:
    with pytest.raises(ValueError, match="own backup"):
        load_reading_centres(b'[[routes]]\nreading_member = "lead"\nbackup_member = "lead"\n'
                             b'modalities = ["CT"]\nfor_members = ["mch"]\n')


def test_intake_admits_a_read_request_sealed_and_keyed_by_its_id() -> None:
    now = datetime.now(UTC)
    request = read_request("thc-river", "CT20261207001", at=now)
    admitted = admit(request, "thc-river", REGISTRY, b"secret", SEALER, now=now,
                     clock_skew=SKEW)
    assert (admitted.route.name, admitted.key) == ("hub.remote-reads",
                                                   "thc-river:CT20261207001")
    assert isinstance(admitted.event, ReadRequest)
    assert admitted.event.patient.name is None and admitted.event.patient.sealed
    assert admitted.event.patient.key


def test_a_step_and_a_critical_value_are_keyed_by_the_request_id() -> None:
    now = datetime.now(UTC)
    step = read_update("lead", "thc-river:CT1", "CLAIMED", at=now)
    critical = critical_update("lead", "thc-river:CT1", "CV1", "RAISED", at=now)
    for event in (step, critical):
        assert admit(event, "lead", REGISTRY, b"secret", SEALER, now=now,
                     clock_skew=SKEW).key == "thc-river:CT1"


def test_a_modality_nobody_reads_for_the_member_is_refused_in_chinese() -> None:
    now = datetime.now(UTC)
    request = read_request("vp-hexi", "DR1", modality="DR", at=now)
    with pytest.raises(Rejection) as caught:
        admit(request, "vp-hexi", REGISTRY, b"secret", SEALER, now=now, clock_skew=SKEW)
    assert caught.value.code == Reason.READ_NO_CENTRE
    assert caught.value.reason == ("河西村卫生室 的X线（DR）检查没有登记的远程诊断中心阅片：请先在 "
                                   "reading_centres.toml 中登记，再申请远程诊断")
