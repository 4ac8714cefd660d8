"""The synchronous recognition API on a real worker: the lookup, the stats, and the CDS
Hooks service, for an authenticated member only; plus the token functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.member.sdk import MemberPublisher
from hub.ops.tokens import (
    authenticate,
    bearer_token,
    card_token,
    card_token_valid,
    is_operator,
    member_token,
    session_cookie,
    session_valid,
)
from tests.conftest import WorkerProcess, wait_for
from tests.factories import lab_result

SECRET = "recognition-api-secret"
ID_NUMBER = "110101199003074514"
NOW = datetime.now(UTC).replace(microsecond=0)
PATIENT = {"resourceType": "Patient", "id": "p-1", "identifier": [
    {"system": "urn:example:mrn", "value": "MRN-77"},
    {"type": {"coding": [{"code": "RESIDENT_ID"}]}, "value": ID_NUMBER},
]}


def bearer(member: str, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {member_token(secret, member)}"}


def call(worker: WorkerProcess, path: str, body: dict[str, Any] | None,
         headers: dict[str, str]) -> tuple[int, Any]:
    return worker.request_json(path, body, headers)


def lookup(worker: WorkerProcess, items: list[str], member: str = "chc-east") -> dict[str, Any]:
    status, body = call(worker, "/recognition/lookup", {
        "id_type": "RESIDENT_ID", "id_number": ID_NUMBER, "items": items}, bearer(member))
    assert status == 200, body
    return {a["item_code"]: a for a in body["answers"]} | {"unmapped": body["unmapped"]}


def cds_request(orders: list[tuple[str, str | None, str]]) -> dict[str, Any]:
    entries = [{"resource": {"resourceType": "ServiceRequest", "id": ref, "status": "draft",
                             "code": {"coding": [{"system": system, "code": code}]}}}
               for ref, system, code in orders]
    return {
        "hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/dr-li", "patientId": "p-1",
                    "selections": [f"ServiceRequest/{ref}" for ref, _, _ in orders],
                    "draftOrders": {"resourceType": "Bundle", "entry": entries}},
        "prefetch": {"patient": PATIENT},
    }


def test_tokens_are_per_member_and_need_the_secret() -> None:
    members = ["lead", "chc-east"]
    token = member_token(SECRET, "chc-east")
    assert len(token) == 64 and token != member_token(SECRET, "lead")
    assert authenticate(f"Bearer {token}", secret=SECRET, member_ids=members) == "chc-east"
    assert authenticate(f"bearer {token.upper()}", secret=SECRET, member_ids=members) == \
        "chc-east"
    assert authenticate(f"Bearer {token}", secret="other", member_ids=members) is None
    assert authenticate(f"Basic {token}", secret=SECRET, member_ids=members) is None
    assert authenticate(None, secret=SECRET, member_ids=members) is None
    assert bearer_token("Bearer ") is None and bearer_token("Bearer abc ") == "abc"


@pytest.mark.integration
def test_lookup_stats_and_cds_hooks(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
) -> None:
    worker = start_worker(HUB_API_SECRET=SECRET)
    lead = publisher("lead")
    lead.publish_many([
        lab_result("lead", item="K", reported_at=NOW - timedelta(days=10)),  # expired
        lab_result("lead", item_code=None, local_code="L0013", value=6.2, unit="mmol/L",
                   reference_range="3.9-6.1", abnormal_flag="HIGH",
                   reported_at=NOW - timedelta(days=2)),  # glucose, lead's own code
    ])
    assert wait_for(lambda: lookup(worker, ["GLU"])["GLU"]["verdict"] == "RECOGNISABLE"), \
        worker.log_tail()

    found = lookup(worker, ["GLU", "SH-K", "NOPE"])  # a consortium code, a local code
    glucose = found["GLU"]["results"][0]
    assert (glucose["member_id"], glucose["value_numeric"], glucose["mark"]) == \
        ("lead", 6.2, "AXHR")
    assert glucose["abnormal_flag"] == "HIGH"
    assert found["K"]["verdict"] == "NONE_VALID" and found["K"]["results"] == []
    assert found["unmapped"] == ["NOPE"]

    status, discovered = call(worker, "/cds-services", None, {})
    assert status == 200
    assert [(s["id"], s["hook"]) for s in discovered["services"]] == [
        ("recognition-order-select", "order-select"),
        ("reporting-patient-view", "patient-view")]
    status, reply = call(worker, "/cds-services/recognition-order-select", cds_request([
        ("sr-1", "http://loinc.org", "14749-6"),  # glucose, by LOINC
        ("sr-2", None, "SH-K"),                   # potassium, by chc-east's local code
    ]), bearer("chc-east"))
    assert status == 200, reply
    (card,) = reply["cards"]
    assert "GLU" in card["summary"] and card["indicator"] == "warning"
    assert "安县人民医院" in card["detail"] and "6.2 mmol/L" in card["detail"]
    assert {r["code"] for r in card["overrideReasons"]} >= {"EMERGENCY", "PATIENT_REQUEST"}
    no_identity = cds_request([("sr-1", "http://loinc.org", "14749-6")])
    no_identity["prefetch"] = {}
    assert call(worker, "/cds-services/recognition-order-select", no_identity,
                bearer("chc-east"))[0] == 400

    status, counts = call(worker, "/recognition/stats", None, bearer("chc-east"))
    assert status == 200 and counts == {"member_id": "chc-east", "items": {}}
    bad_id = {"id_type": "NOT_A_TYPE", "id_number": ID_NUMBER, "items": ["GLU"]}
    assert call(worker, "/recognition/lookup", bad_id, bearer("chc-east"))[0] == 400

    # no token, a token of another scheme, a token made with the wrong secret
    body = {"id_type": "RESIDENT_ID", "id_number": ID_NUMBER, "items": ["GLU"]}
    for path, payload in (("/recognition/lookup", body), ("/recognition/stats", None),
                          ("/cds-services/recognition-order-select", cds_request([]))):
        status, refused = call(worker, path, payload, {})
        assert status == 401 and "error" in refused, path
        assert call(worker, path, payload, {"Authorization": "Basic bGVhZDp4"})[0] == 401
        assert call(worker, path, payload, bearer("chc-east", "wrong-secret"))[0] == 403

    assert ID_NUMBER not in worker.log_path.read_text(errors="replace")


def test_card_links_and_operator_sessions_are_signed() -> None:
    where = "3:4f1c"
    token = card_token(SECRET, "mch", "case-1", where)
    assert card_token_valid(SECRET, "mch", "case-1", where, token.upper())
    for member, case, at, secret in (("lead", "case-1", where, SECRET),
                                     ("mch", "case-2", where, SECRET),
                                     ("mch", "case-1", "4:4f1c", SECRET),
                                     ("mch", "case-1", where, "other")):
        assert not card_token_valid(secret, member, case, at, token), (member, case, at)
    assert is_operator("Bearer op-token", token="op-token")
    assert not is_operator("Bearer op-token", token="other") and not is_operator(None)
    cookie = session_cookie("op-token", 2_000)
    assert session_valid(cookie, 1_999, token="op-token")
    assert not session_valid(cookie, 2_001, token="op-token")  # expired
    assert not session_valid(cookie, 1_999, token="other")  # the token was rotated
    assert not session_valid("3000." + cookie.split(".")[1], 1_999, token="op-token")
    assert not session_valid(None, 0, token="op-token")
