"""Delivering the hub's feedback to a member's HIS: HL7 over MLLP to a fake HIS listener and
FHIR resources to a fake FHIR server, both on 127.0.0.1; retries, skipped statuses, and
reading out.<member> on the embedded broker with offsets committed after delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest
from aiohttp import web
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.operationoutcome import OperationOutcome
from kafka import KafkaProducer
from kafka.errors import RebalanceInProgressError

from connectors.member.feedback_delivery import (
    DeliveryError,
    FeedbackDelivery,
    FhirTarget,
    MllpTarget,
    deliver_from,
)
from connectors.member.fhir.feedback import render_fhir
from connectors.member.hl7.feedback import advice_segments, render_hl7
from connectors.member.mllp.server import start_mllp_server
from connectors.member.sdk import FeedbackReader
from hub.brokers import BaseBroker, free_port
from schemas.codec import AvroCodec
from schemas.models import Event, Feedback, RecognitionAdvice
from schemas.models.outputs import FeedbackStatus, RecognisableResult, Verdict
from schemas.topics import feedback_topic

ZONE = ZoneInfo("Asia/Shanghai")
AT = datetime(2025, 3, 1, 2, 30, tzinfo=UTC)


def advice(member: str = "chc-east") -> RecognitionAdvice:
    return RecognitionAdvice(
        envelope=RecognitionAdvice.new_envelope(member, occurred_at=AT),
        order_id="ORD8001", order_event_id="5c1f9d7e-4b0e-5d55-9a3c-0d1f2e3a4b5c",
        item_code="K", item_name="钾", verdict=Verdict.RECOGNISABLE,
        message="3天前安县人民医院的钾结果可互认，无需重复检查。",
        results=[RecognisableResult(
            result_event_id="9a8b7c6d-0000-5000-8000-000000000001", member_id="lead",
            member_name="安县人民医院", item_code="K", item_name="钾", value_numeric=4.1,
            unit="mmol/L", reference_range="3.5-5.3", reported_at=AT - timedelta(days=3),
            valid_until=AT + timedelta(days=4), mark="AXHR")],
    )


def feedback(status: FeedbackStatus = FeedbackStatus.REJECTED,
             member: str = "chc-east") -> Feedback:
    return Feedback(
        envelope=Feedback.new_envelope(member, occurred_at=AT), in_reply_to="e-1",
        status=status, reason_code="UNMAPPED_CODE", reason="项目编码 K-OLD 未对照",
        missing_fields=["onset_date"], details={"topic": f"in.{member}"},
    )


def with_fake_his(replies: list[str], scenario: Callable[[int, list[bytes]], Awaitable[None]]
                  ) -> list[bytes]:
    """A fake HIS on 127.0.0.1 answering each message with the next code of `replies`
    (the last one repeats); returns what it received."""
    received: list[bytes] = []

    async def answer(message: bytes) -> bytes:
        received.append(message)
        code = replies[min(len(received), len(replies)) - 1]
        return f"MSH|^~\\&|HIS|EAST|HUB|CONSORTIUM|20250301||ACK|H{len(received)}|P|2.5\r" \
               f"MSA|{code}|X|{'busy' if code != 'AA' else ''}\r".encode()

    async def run() -> None:
        server = await start_mllp_server(answer, "127.0.0.1", 0)
        try:
            await asyncio.wait_for(scenario(server.port, received), 20)
        finally:
            await server.close()

    asyncio.run(run())
    return received


def parsed(message: bytes, charset: str = "utf-8") -> hl7.Message:
    return hl7.parse(message.decode(charset))


def unescape(message: hl7.Message, text: str) -> str:
    return str(message.unescape(text))


def test_advice_and_feedback_as_hl7() -> None:
    async def scenario(port: int, _: list[bytes]) -> None:
        target = MllpTarget("127.0.0.1", port, "chc-east", charset_label="UNICODE UTF-8",
                            zone=ZONE)
        await target.deliver(advice())
        await target.deliver(feedback())

    orr, ack = (parsed(m) for m in with_fake_his(["AA"], scenario))
    assert str(orr.segment("MSH")[9]) == "ORR^O02^ORR_O02" and str(orr["MSH.F6"]) == "chc-east"
    assert str(orr["MSA.F1"]) == "AA" and str(orr["MSA.F2"]) == "ORD8001"
    assert str(orr["ORC.F1"]) == "OK" and str(orr["ZRA.F2"]) == "RECOGNISABLE"
    assert str(orr["ZRA.F3.R1.C2"]) == "钾" and "无需重复检查" in str(orr["ZRA.F5"])
    assert str(orr["ZRR.F3.R1.C2"]) == "安县人民医院" and str(orr["ZRR.F4"]) == "4.1"
    assert str(orr["ZRR.F8"]) == "20250226103000+0800" and str(orr["ZRR.F10"]) == "AXHR"
    assert str(ack.segment("MSH")[9]) == "ACK^Z01^ACK" and str(ack["MSA.F1"]) == "AE"
    assert str(ack["MSA.F2"]) == "e-1" and str(ack["ZFB.F1"]) == "REJECTED"
    assert str(ack["ZFB.F4"]) == "onset_date"


def test_an_advice_withdrawn_names_the_retracted_result_in_zra_7() -> None:
    withdrawn = advice().model_copy(update={"verdict": Verdict.NONE_VALID, "results": [],
                                            "withdrawn_result_id": "r-retracted"})
    zra = next(s for s in advice_segments(withdrawn, ZONE) if s.startswith("ZRA|"))
    assert zra.split("|")[7] == "r-retracted"
    kept = next(s for s in advice_segments(advice(), ZONE) if s.startswith("ZRA|"))
    assert kept.split("|")[7] == ""


def test_gb18030_delivery_and_retry_until_the_his_takes_it() -> None:
    delivered: list[bool] = []

    async def scenario(port: int, _: list[bytes]) -> None:
        target = MllpTarget("127.0.0.1", port, "chc-east", charset_label="GB 18030-2000",
                            zone=ZONE)
        delivery = FeedbackDelivery(target, retry_seconds=0.05)
        delivered.append(await delivery.deliver(feedback()))

    received = with_fake_his(["AE", "AE", "AA"], scenario)
    assert delivered == [True] and len(received) == 3
    assert received[0] == received[2]  # the same message, control id included
    message = parsed(received[2], "gb18030")
    assert str(message["MSH.F18"]) == "GB 18030-2000" and "未对照" in str(message["MSA.F3"])


def test_unreachable_his_and_skipped_statuses() -> None:
    async def scenario() -> tuple[bool, str]:
        closed = free_port()  # nothing listens there
        target = MllpTarget("127.0.0.1", closed, "chc-east", charset_label="UNICODE UTF-8",
                            zone=ZONE, timeout=2)
        with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{closed}"):
            await target.deliver(feedback())
        stop = asyncio.Event()
        stop.set()
        delivery = FeedbackDelivery(target, skip_statuses=frozenset({"ACCEPTED"}),
                                    retry_seconds=0.01)
        skipped = await delivery.deliver(feedback(FeedbackStatus.ACCEPTED))
        return skipped, str(await delivery.deliver(feedback(), stop))

    assert asyncio.run(scenario()) == (False, "False")  # skipped; stopped while failing


def test_advice_and_feedback_as_fhir() -> None:
    posted: list[tuple[str, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        posted.append((request.match_info["type"], await request.json()))
        status = 500 if len(posted) == 3 else 201
        return web.json_response({}, status=status)

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/fhir/{type}", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        target = FhirTarget(f"http://127.0.0.1:{runner.addresses[0][1]}/fhir/", zone=ZONE)
        try:
            await target.deliver(advice())
            await target.deliver(feedback())
            with pytest.raises(DeliveryError, match="500"):
                await target.deliver(feedback())
        finally:
            await runner.cleanup()

    asyncio.run(run())
    (issue_type, issue), (outcome_type, outcome) = posted[:2]
    assert (issue_type, outcome_type) == ("DetectedIssue", "OperationOutcome")
    detected = DetectedIssue.model_validate(issue)
    assert detected.code.coding[0].code == "RECOGNISABLE" and detected.severity == "moderate"
    assert detected.implicated[0].identifier.value == "ORD8001"
    assert "安县人民医院" in detected.evidence[0].detail[0].display
    checked = OperationOutcome.model_validate(outcome)
    assert checked.issue[0].severity == "error"
    assert checked.issue[0].details.coding[0].code == "REJECTED"
    assert "onset_date" in checked.issue[0].diagnostics


def test_an_incomplete_card_carries_its_page_link_in_fhir_and_hl7() -> None:
    url = ("https://hub.consortium.example/reporting/cards/7d3c?member=mch&at=3%3Ak1"
           "&token=ab12")
    incomplete = Feedback(
        envelope=Feedback.new_envelope("mch", occurred_at=AT), in_reply_to="e-2",
        status=FeedbackStatus.INCOMPLETE, reason_code="MISSING_FIELDS",
        reason=f"报告卡缺少以下项目，无法报送：发病日期；可在报告卡页面补全后立即报送：{url}",
        missing_fields=["onset_date"], details={"case_id": "7d3c", "card_url": url},
    )
    outcome = OperationOutcome.model_validate(render_fhir(incomplete, ZONE))
    [extension] = outcome.issue[0].extension
    assert (extension.url, extension.valueUrl) == ("urn:consortium-hub:card-page", url)
    assert outcome.issue[0].severity == "error" and url in outcome.issue[0].details.text
    ack = parsed(render_hl7(incomplete, "mch", zone=ZONE))
    assert str(ack["MSA.F1"]) == "AE" and str(ack["ZFB.F1"]) == "INCOMPLETE"
    details = dict(d.split("=", 1) for d in unescape(ack, str(ack["ZFB.F6"])).split("~"))
    assert details["card_url"] == url
    assert unescape(ack, str(ack["MSA.F3"])).endswith(url)


@pytest.mark.integration
def test_feedback_from_the_broker_is_delivered_then_committed(broker: BaseBroker) -> None:
    member = "thc-river"
    events: list[Event] = [advice(member), feedback(FeedbackStatus.ACCEPTED, member),
                           feedback(member=member)]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    codec = AvroCodec()
    for event in events:
        producer.send(feedback_topic(member), key=b"k", value=codec.encode(event))
    producer.flush(10)
    producer.close()

    def reader() -> FeedbackReader:
        return FeedbackReader(broker.bootstrap, member, enable_auto_commit=False,
                              group_id="delivery-test")

    async def scenario(port: int, received: list[bytes]) -> None:
        source = reader()
        target = MllpTarget("127.0.0.1", port, member, charset_label="UNICODE UTF-8",
                            zone=ZONE)
        delivery = FeedbackDelivery(target, skip_statuses=frozenset({"ACCEPTED"}),
                                    retry_seconds=0.1)
        stop = asyncio.Event()
        task = asyncio.create_task(
            deliver_from(source.poll, source.consumer.commit, delivery, stop, 0.5))
        while len(received) < 2:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # let the poll's commit happen
        stop.set()
        await task
        source.close()

    received = with_fake_his(["AA"], scenario)
    assert sorted(str(parsed(m).segment("MSH")[9]) for m in received) == [
        "ACK^Z01^ACK", "ORR^O02^ORR_O02"]
    again = reader()
    try:
        assert again.poll(2.0) == []  # offsets were committed after delivery
    finally:
        again.close()


def test_each_delivery_is_said_and_the_settings_are_in_the_help(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from click.testing import CliRunner

    from connectors.cli import main
    from connectors.settings import ConnectorSettings

    async def scenario(port: int, _: list[bytes]) -> None:
        target = MllpTarget("127.0.0.1", port, "chc-east", charset_label="UNICODE UTF-8",
                            zone=ZONE)
        delivery = FeedbackDelivery(target, skip_statuses=frozenset({"ACCEPTED"}))
        for event in (advice(), feedback(), feedback(FeedbackStatus.ACCEPTED)):
            await delivery.deliver(event)

    logger = "connectors.member.feedback_delivery"
    with caplog.at_level(logging.INFO, logger=logger):
        with_fake_his(["AA"], scenario)
    said = [r.getMessage() for r in caplog.records if r.name == logger]
    assert len(said) == 2 and "ORD8001" in said[0] and "RECOGNISABLE" in said[0]
    assert "REJECTED UNMAPPED_CODE" in said[1] and "e-1" in said[1]

    shown = CliRunner().invoke(main, ["deliver-feedback", "--help"]).output
    for name in ConnectorSettings.model_fields:
        if name.startswith("feedback_"):
            assert f"HUB_{name.upper()}=" in shown, name


def test_a_commit_refused_during_a_rebalance_does_not_stop_delivery() -> None:
    """kafka-python refuses a commit while the reader's group rebalances (seen in the HL7
    referral loop): the loop goes on, and the next batch is delivered and committed."""
    batches = [[advice()], [feedback()], []]
    commits: list[str] = []

    def poll(_: float) -> list[Event]:
        batch = batches.pop(0) if batches else []
        if not batches:
            stop.set()
        return batch

    def commit() -> None:
        commits.append("refused" if not commits else "committed")
        if commits[-1] == "refused":
            raise RebalanceInProgressError("the group is rebalancing")

    async def scenario(port: int, received: list[bytes]) -> None:
        delivery = FeedbackDelivery(MllpTarget("127.0.0.1", port, "chc-east",
                                               charset_label="UNICODE UTF-8", zone=ZONE))
        await deliver_from(poll, commit, delivery, stop, 0.01)

    stop = asyncio.Event()
    delivered = with_fake_his(["AA"], scenario)
    assert len(delivered) == 2  # the advice, then the feedback after the refused commit
    assert commits == ["refused", "committed"]
