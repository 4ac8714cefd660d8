"""Delivering the hub's feedback for this member (recognition advice, reportability
responses, rejections, read from `out.<member>` with FeedbackReader) to the member's HIS:
as HL7 messages over MLLP (`connectors.member.hl7.feedback`) or FHIR resources POSTed to its
FHIR server (`connectors.member.fhir.feedback`).

Delivery is at least once: the reader's offsets are committed only after every event of a
poll was delivered (the HIS answered AA, or HTTP 2xx). A failed delivery is retried after
HUB_FEEDBACK_RETRY_SECONDS until it succeeds or the command stops; the next start then
delivers it again. Statuses in HUB_FEEDBACK_SKIP_STATUSES (default ACCEPTED: the HIS
already had an ACK when the event was written) are counted as skipped, not sent.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol
from zoneinfo import ZoneInfo

import aiohttp
from kafka.errors import KafkaError

from connectors import metrics
from connectors.member.fhir.feedback import render_fhir
from connectors.member.fhir.outcome import FHIR_JSON
from connectors.member.fhir.referral_out import REFERRAL_EVENTS, referral_exchange
from connectors.member.fhir.remote_read_out import READ_EVENTS, read_exchange
from connectors.member.hl7.feedback import render_hl7
from connectors.member.hl7.message import read_header
from connectors.member.hl7.referral_out import render_referral
from connectors.member.hl7.remote_read_out import REMOTE_READ_EVENTS, render_remote_read
from connectors.member.mllp.client import send_message
from connectors.member.mllp.framing import FramingError
from connectors.settings import ConnectorSettings, FeedbackTarget, SettingsError
from schemas.models import Event, Feedback, RecognitionAdvice
from schemas.models.referral import ReferralRequest, ReferralStatus
from schemas.models.remote_read import CriticalValueStatus, ReadRequest, ReadStatus

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The HIS did not take the feedback; it will be tried again."""


class Target(Protocol):
    name: str

    async def deliver(self, event: Event) -> None: ...


class MllpTarget:
    name = "mllp"

    def __init__(self, host: str, port: int, member_id: str, *, charset_label: str,
                 zone: ZoneInfo, timeout: float = 10.0) -> None:
        self.host, self.port, self.member_id = host, port, member_id
        self.charset_label, self.zone, self.timeout = charset_label, zone, timeout

    async def deliver(self, event: Event) -> None:
        # two-way referral: REF^I12 / RRI^I12 (connectors/member/hl7/referral_out.py)
        render = render_referral if isinstance(event, REFERRAL_EVENTS) else render_hl7
        if isinstance(event, REMOTE_READ_EVENTS):  # remote diagnosis: ORM^O01 / ORU^R01
            render = render_remote_read
        message = render(event, self.member_id, charset_label=self.charset_label, zone=self.zone)
        try:
            reply = await send_message(self.host, self.port, message, self.timeout)
        except (OSError, TimeoutError, FramingError) as exc:
            raise DeliveryError(f"HIS at {self.host}:{self.port}: {exc!r}") from exc
        header = read_header(reply)
        segments = reply.decode(header.encoding, errors="replace").split("\r")
        msa = next((s.split("|") for s in segments if s.startswith("MSA|")), None)
        code = msa[1] if msa and len(msa) > 1 else ""
        if code not in ("AA", "CA"):
            reason = msa[3] if msa and len(msa) > 3 else "no MSA in the reply"
            raise DeliveryError(f"HIS answered {code or 'nothing'}: {reason}")


class FhirTarget:
    name = "fhir"

    def __init__(self, base_url: str, *, zone: ZoneInfo, timeout: float = 10.0) -> None:
        if not base_url:
            raise SettingsError("no FHIR endpoint: set HUB_FEEDBACK_FHIR_URL")
        self.base_url, self.zone, self.timeout = base_url.rstrip("/"), zone, timeout

    async def deliver(self, event: Event) -> None:
        if isinstance(event, REFERRAL_EVENTS):  # a Bundle to [base], a Task PUT
            method, path, resource = referral_exchange(event, self.zone)
        elif isinstance(event, READ_EVENTS):  # remote diagnosis: a Bundle, a Task PUT, ...
            method, path, resource = read_exchange(event, self.zone)
        else:
            method, resource = "POST", render_fhir(event, self.zone)
            path = resource["resourceType"]
        url = f"{self.base_url}/{path}".rstrip("/")
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as session, session.request(method, url, json=resource,
                                          headers={"Content-Type": FHIR_JSON}) as reply:
                if reply.status >= 300:
                    text = (await reply.text())[:300]
                    raise DeliveryError(f"{url} answered {reply.status}: {text}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"{url}: {exc!r}") from exc


def describe(event: Event) -> str:
    """One line about a delivered event (ids and codes only, never personal data)."""
    if isinstance(event, RecognitionAdvice):
        return (f"互认提示 {event.envelope.event_id}，医嘱 {event.order_id}，"
                f"项目 {event.item_code}：{event.verdict.value}")
    if isinstance(event, Feedback):
        reason = f" {event.reason_code}" if event.reason_code else ""
        return (f"反馈 {event.envelope.event_id}：{event.status.value}{reason}，"
                f"回复事件 {event.in_reply_to or '-'}")
    if isinstance(event, ReferralStatus):
        return f"转诊 {event.referral_id}：{event.status.value}（{event.business_status}）"
    if isinstance(event, ReferralRequest):
        return f"转诊申请 {event.envelope.member_id}:{event.referral_ref}"
    if isinstance(event, ReadStatus):
        level = f"，第 {event.escalation_level} 级督办" if event.escalation_level else ""
        return f"阅片 {event.request_id}：{event.business_status}{level}"
    if isinstance(event, ReadRequest):
        return f"阅片申请 {event.envelope.member_id}:{event.accession}（{event.modality.value}）"
    if isinstance(event, CriticalValueStatus):
        return f"危急值 {event.critical_id}（阅片 {event.request_id}）：{event.state}"
    return f"{type(event).__name__} {event.envelope.event_id}"


class FeedbackDelivery:
    def __init__(self, target: Target, *, skip_statuses: frozenset[str] = frozenset(),
                 retry_seconds: float = 5.0) -> None:
        self.target = target
        self.skip_statuses = skip_statuses
        self.retry_seconds = retry_seconds

    def should_deliver(self, event: Event) -> bool:
        if isinstance(event, Feedback):
            return event.status.value not in self.skip_statuses
        if isinstance(event, REFERRAL_EVENTS):  # every referral step reaches the HIS
            return True
        if isinstance(event, REMOTE_READ_EVENTS):  # every remote-read step and critical value
            return True
        return isinstance(event, RecognitionAdvice)

    async def deliver(self, event: Event, stop: asyncio.Event | None = None) -> bool:
        """Deliver one event, retrying until it is taken; False if skipped or stopped."""
        if not self.should_deliver(event):
            metrics.FEEDBACK_DELIVERED.labels(self.target.name, "skipped").inc()
            return False
        while True:
            try:
                await self.target.deliver(event)
            except DeliveryError as exc:
                metrics.FEEDBACK_DELIVERED.labels(self.target.name, "failed").inc()
                log.warning("feedback %s not delivered (%s); retrying in %ss",
                            event.envelope.event_id, exc, self.retry_seconds)
                if stop is None:
                    await asyncio.sleep(self.retry_seconds)
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), self.retry_seconds)
                    return False
                except TimeoutError:
                    continue
            metrics.FEEDBACK_DELIVERED.labels(self.target.name, "delivered").inc()
            log.info("已送达 HIS（%s）：%s", self.target.name, describe(event))
            return True


async def deliver_from(
    poll: Callable[[float], list[Event]],
    commit: Callable[[], None],
    delivery: FeedbackDelivery,
    stop: asyncio.Event,
    poll_seconds: float = 1.0,
) -> None:
    """Poll, deliver every event, commit; until `stop` is set."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        events = await loop.run_in_executor(None, poll, poll_seconds)
        for event in events:
            await delivery.deliver(event, stop)
            if stop.is_set():
                return  # not committed: delivered again on the next start
        if events:
            try:
                await loop.run_in_executor(None, commit)
            except KafkaError as exc:  # a rebalance: the next poll rejoins, the next commit
                log.warning("feedback offsets not committed (%r); delivered again if this "
                            "reader loses the partition, else committed next time", exc)


def make_target(settings: ConnectorSettings) -> Target:
    zone = ZoneInfo(settings.local_timezone)
    if settings.feedback_target is FeedbackTarget.FHIR:
        return FhirTarget(settings.feedback_fhir_url, zone=zone, timeout=settings.feedback_timeout)
    return MllpTarget(settings.feedback_mllp_host, settings.feedback_mllp_port,
                      settings.require_member(), charset_label=settings.feedback_hl7_charset,
                      zone=zone, timeout=settings.feedback_timeout)


def run_delivery(settings: ConnectorSettings) -> None:
    """`hub-connector deliver-feedback`: run until SIGINT/SIGTERM."""
    from connectors.member.sdk import FeedbackReader
    from connectors.metrics import serve_metrics

    member_id = settings.require_member()
    delivery = FeedbackDelivery(make_target(settings),
                                skip_statuses=frozenset(settings.feedback_skip_statuses),
                                retry_seconds=settings.feedback_retry_seconds)
    try:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    except OSError as exc:
        raise SettingsError(f"指标端口 {settings.metrics_port} 无法打开（{exc.strerror or exc}）："
                            "用 HUB_METRICS_PORT 换一个") from exc
    try:
        reader = FeedbackReader(settings.broker_servers(), member_id, enable_auto_commit=False,
                                security=settings.kafka_client_config())
    except KafkaError as exc:
        raise SettingsError(f"无法连接 Kafka {settings.broker}（{type(exc).__name__}）："
                            "检查 HUB_BROKER 与网络") from exc

    where = (settings.feedback_fhir_url if settings.feedback_target is FeedbackTarget.FHIR
             else f"{settings.feedback_mllp_host}:{settings.feedback_mllp_port}")
    log.info("反馈投递已启动：成员 %s 的反馈以 %s 送往 HIS %s；指标端口 %d", member_id,
             settings.feedback_target.value, where, settings.metrics_port)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await deliver_from(reader.poll, reader.consumer.commit, delivery, stop)

    try:
        asyncio.run(run())
    finally:
        reader.close()
