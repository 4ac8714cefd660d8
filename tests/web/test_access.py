"""The hub's own access enforcement on the embedded broker (production adds SASL/SCRAM over
TLS and topic ACLs, see deploy/): an event on in.A claiming member B is refused and B never
hears of it; the synchronous lookup, stats and CDS Hooks endpoints refuse a caller without
a valid member token; one member's token never shows another member's counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.member.sdk import MemberPublisher, PublishError
from hub.brokers import BaseBroker
from hub.ops.tokens import member_token
from schemas.codec import AvroCodec
from schemas.models import Event, Feedback
from schemas.models.outputs import FeedbackStatus
from schemas.topics import CDC_REPORTS, DIAGNOSES, ORDERS, RESULTS, feedback_topic
from tests.conftest import Decoded, WorkerProcess, wait_for
from tests.factories import diagnosis, lab_result, patient
from tests.factories import test_order as make_order

pytestmark = pytest.mark.integration
CODEC = AvroCodec()
SECRET = "access-test-api-secret"
IMPOSTOR_PATIENT = "510726199912120011"
HONEST_PATIENT = "510726199912120022"
NOW = datetime.now(UTC).replace(microsecond=0)
PATHS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("/recognition/lookup", {"id_type": "RESIDENT_ID", "id_number": HONEST_PATIENT,
                             "items": ["K"]}),
    ("/recognition/stats", None),
    ("/cds-services/recognition-order-select", {
        "hook": "order-select", "hookInstance": "h-1", "context": {"selections": []},
        "prefetch": {"patient": {"resourceType": "Patient", "identifier": [
            {"type": {"coding": [{"code": "RESIDENT_ID"}]}, "value": HONEST_PATIENT}]}}}),
)


@pytest.fixture(scope="module")
def worker(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One worker for the module's tests (a new one would only replay the same topics)."""
    started = WorkerProcess(broker.bootstrap, tmp_path_factory.mktemp("access"), {
        **broker.worker_env(), "HUB_APP_ID": "hub-test-access", "HUB_SESSION_TIMEOUT": "6",
        "HUB_LOG_LEVEL": "info", "HUB_API_SECRET": SECRET})
    yield started.start()
    started.kill()


def call(worker: WorkerProcess, path: str, body: dict[str, Any] | None,
         headers: dict[str, str]) -> tuple[int, Any]:
    return worker.request_json(path, body, headers)


def bearer(member: str, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {member_token(secret, member)}"}


def verdict(worker: WorkerProcess, member: str, id_number: str) -> str:
    status, body = call(worker, "/recognition/lookup", {
        "id_type": "RESIDENT_ID", "id_number": id_number, "items": ["K"]}, bearer(member))
    assert status == 200, body
    return str(body["answers"][0]["verdict"])


def mentions(events: list[Decoded], ids: set[str]) -> list[Event]:
    """Events that answer or derive from any of these event ids."""
    return [e for _, e in events if {e.envelope.event_id, e.envelope.correlation_id,
                                     getattr(e, "in_reply_to", None),
                                     getattr(e, "order_event_id", None)} & ids]


def test_an_event_claiming_another_member_is_refused_and_that_member_never_hears_of_it(
    worker: WorkerProcess,
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    east, lead = publisher("chc-east"), publisher("lead")
    impostor = patient(IMPOSTOR_PATIENT, name="冒名")
    forged = [  # all claim to be the lead hospital, all arrive on chc-east's topic
        lab_result("lead", patient=impostor, reported_at=NOW - timedelta(days=1)),
        make_order("lead", patient=impostor, order_id="FORGED-1"),
        diagnosis("lead", "A00.000", "霍乱", patient=impostor),  # would be a class A card
    ]
    with pytest.raises(PublishError):  # the SDK itself refuses to publish as another member
        east.publish(forged[0])
    for event in forged:
        east.send_bytes(CODEC.encode(event))
    honest = lab_result("lead", patient=patient(HONEST_PATIENT),
                        reported_at=NOW - timedelta(days=1))
    lead.publish(honest)  # processed after the forgeries: a positive control
    assert wait_for(lambda: verdict(worker, "chc-west", HONEST_PATIENT) == "RECOGNISABLE"), \
        worker.log_tail()
    forged_ids = {e.envelope.event_id for e in forged}

    east_out = read_topic(feedback_topic("chc-east"),
                          until=lambda got: len(mentions(got, forged_ids)) >= 3)
    refused = mentions(east_out, forged_ids)
    assert sorted((f.in_reply_to, f.status, f.reason_code) for f in refused
                  if isinstance(f, Feedback)) == sorted(
        (i, FeedbackStatus.REJECTED, "MEMBER_MISMATCH") for i in forged_ids)
    assert len(refused) == 3

    lead_out = read_topic(feedback_topic("lead"), until=lambda got: any(
        isinstance(e, Feedback) and e.in_reply_to == honest.envelope.event_id for _, e in got))
    assert mentions(lead_out, {honest.envelope.event_id})  # lead hears of its own event
    assert mentions(lead_out, forged_ids) == []  # and never of the forgeries
    for internal in (RESULTS, ORDERS, DIAGNOSES, CDC_REPORTS):
        assert mentions(read_topic(internal.name), forged_ids) == [], internal.name
    cards = read_topic(CDC_REPORTS.name)
    assert IMPOSTOR_PATIENT not in repr([e.model_dump() for _, e in cards])
    assert verdict(worker, "chc-west", IMPOSTOR_PATIENT) == "NONE_VALID"  # never indexed


def test_endpoints_refuse_a_caller_without_a_valid_member_token(
    worker: WorkerProcess,
) -> None:
    refusals = {
        401: [{}, {"Authorization": "Basic bGVhZDpsZWFk"}, {"Authorization": "Bearer "},
              {"X-Hub-Routed": "1"}],  # the routing header is no credential
        403: [{"Authorization": "Bearer " + "0" * 64}, bearer("lead", "another-secret"),
              bearer("nobody"), {**bearer("lead", "another-secret"), "X-Hub-Routed": "1"}],
    }
    for path, body in PATHS:
        for status, header_sets in refusals.items():
            for headers in header_sets:
                got, reply = call(worker, path, body, headers)
                assert (got, set(reply)) == (status, {"error"}), (path, headers, reply)
        assert call(worker, path, body, bearer("chc-east"))[0] == 200, path


def test_a_member_token_never_shows_another_members_counts(
    worker: WorkerProcess,
    publisher: Callable[[str], MemberPublisher],
) -> None:
    publisher("chc-west").publish_many([
        make_order("chc-west", item="K", order_id="W-ACCESS-1"),
        make_order("chc-west", item="GLU", order_id="W-ACCESS-2"),
    ])
    publisher("thc-river").publish(make_order("thc-river", item="NA", order_id="R-ACCESS-1"))

    def items(member: str, query: str = "") -> dict[str, Any]:
        status, body = call(worker, "/recognition/stats" + query, None, bearer(member))
        assert status == 200 and body["member_id"] == member, body
        return dict(body["items"])

    assert wait_for(lambda: set(items("chc-west")) == {"K", "GLU"}), worker.log_tail()
    assert wait_for(lambda: set(items("thc-river")) == {"NA"})
    assert items("lead") == {}
    assert set(items("thc-river", "?member=chc-west")) == {"NA"}  # the query changes nothing


def test_table_data_is_not_served_without_a_token(
    worker: WorkerProcess,
    publisher: Callable[[str], MemberPublisher],
) -> None:
    publisher("chc-west").publish(make_order("chc-west", item="K", order_id="W-TABLE-1"))
    assert wait_for(lambda: call(worker, "/recognition/stats", None, bearer("chc-west"))[1]
                    .get("items")), worker.log_tail()
    served = [call(worker, f"/table/recognition-order-ledger/counts|chc-west|K|{p}/", None, {})
              for p in range(8)]
    assert all(status in (401, 403, 404) for status, _ in served), served
    assert call(worker, "/table/", None, {})[0] in (401, 403, 404)
