"""The demo `make run` shows: a few members publish a realistic morning's events, and the
console shows what the hub did with each — acknowledgements, rejections with reasons,
recognition advice, report cards for the CDC, shortages and orders for the pharmacy.

Then one two-way referral goes round its loop (connectors/demo/referral_loop.py), and a
township's head CT is read remotely with a critical value (connectors/demo/remote_read_loop.py):
each party's step waits until the hub has told both parties the step before it, and the
console shows every status as each party receives it on its own topic. After that a gentle
trickle keeps the dashboards alive.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import chain

import click
from kafka import KafkaConsumer
from rich.console import Console
from rich.markup import escape

from connectors.demo.referral_loop import referral_loop
from connectors.demo.remote_read_loop import remote_read_loop
from connectors.demo.script import Step, morning, trickle
from connectors.member.sdk import MemberPublisher
from connectors.settings import get_settings
from schemas.codec import AvroCodec, CodecError
from schemas.models import (
    DeadLetter,
    DiseaseReportCard,
    Event,
    Feedback,
    LateReport,
    OperatorAlert,
    RecognitionAdvice,
    ReferralRequest,
    ReferralStatus,
    ReplenishmentOrder,
    Shortage,
)
from schemas.models.referral import ReferralAction
from schemas.models.remote_read import CriticalValueStatus, ReadStatus
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, text
from schemas.topics import (
    ALERTS,
    CDC_REPORTS,
    DEAD_LETTER,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    feedback_topic,
)

DEMO_MEMBERS = ("lead", "chc-east", "thc-river", "mch", "vp-hexi")
BOOKING_ACTIONS = frozenset({ReferralAction.BOOKED, ReferralAction.REBOOKED})
STEP_WAIT_SECONDS = 20.0  # at most, for the hub to tell the parties a referral's last step
console = Console(highlight=False)


def _word(locale: Locale, group: str, code: str) -> str:
    try:
        return locale.say(f"referral_view.{group}.{code}")
    except KeyError:
        return code


def _state_word(locale: Locale, state: str) -> str:
    """A state a step waits for: a referral's, else a read request's or critical value's."""
    for name in (f"remote_read_view.state.{state}", f"remote_read_view.critical.{state}"):
        if locale.label(name) != name:
            return locale.label(name)
    return _word(locale, "state", state)


def referral_status_line(event: ReferralStatus, locale: Locale) -> str:
    """A referral's status as the party whose topic it is on reads it."""
    say = locale.say
    role = "referrer" if event.envelope.member_id == event.referrer_id else "receiver"
    parts = [say("console.referral", referral=event.referral_id,
                 direction=_word(locale, "direction", event.direction.value),
                 priority=_word(locale, "priority", event.priority.value),
                 state=_word(locale, "state", event.business_status),
                 role=_word(locale, "role", role), by=event.by_member, at=event.at)]
    if event.escalation_level:
        parts.append(say("console.referral_escalated", level=event.escalation_level))
    if event.action in BOOKING_ACTIONS and event.booking is not None \
            and event.booking.starts_at is not None:
        parts.append(say("console.referral_booking", slot=event.booking.slot_id or "-",
                         starts_at=event.booking.starts_at))
    if event.encounter_ref:
        parts.append(say("console.referral_encounter", encounter=event.encounter_ref))
    if event.downward_plan:
        parts.append(say("console.referral_plan", plan=event.downward_plan))
    if event.returns_referral:
        parts.append(say("console.referral_returns", referral=event.returns_referral))
    if event.due_at is not None:
        parts.append(say("console.referral_due", due_at=event.due_at))
    if event.reason and event.action is None:
        parts.append(event.reason)
    return locale.clauses(parts)


def read_status_line(event: ReadStatus, locale: Locale) -> str:
    """A read request's status as the member whose topic it is on reads it."""
    say = locale.say
    role = "reading" if event.envelope.member_id == event.reading_member else "examining"
    reader = event.by_reader.name or event.by_reader.reader_id if event.by_reader else ""
    parts = [say("console.remote_read", role=locale.label(f"remote_read_view.role.{role}"),
                 request=event.request_id,
                 modality=locale.label(f"remote_read.modality.{event.modality.value}"),
                 priority=locale.label(f"remote_read.priority.{event.priority.value}"),
                 state=locale.label(f"remote_read_view.state.{event.business_status}"),
                 by=f"{event.by_member} {reader}".strip(), at=event.at)]
    if event.escalation_level:
        parts.append(say("console.referral_escalated", level=event.escalation_level))
    if event.report is not None and event.report.impression:
        parts.append(say("console.remote_read_report", report=event.report.report_ref,
                         impression=event.report.impression))
    if event.due_at is not None:
        parts.append(say("console.referral_due", due_at=event.due_at))
    if event.reason and event.action is None:
        parts.append(event.reason)
    return locale.clauses(parts)


def critical_status_line(event: CriticalValueStatus, locale: Locale) -> str:
    """A critical value's register line as the member whose topic it is on reads it."""
    say = locale.say
    role = "reading" if event.envelope.member_id == event.reading_member else "examining"
    reader = event.by.name or event.by.reader_id if event.by else ""
    parts = [say("console.critical_value", role=locale.label(f"remote_read_view.role.{role}"),
                 critical=event.critical_id, request=event.request_id,
                 state=locale.label(f"remote_read_view.critical.{event.state}"),
                 by=f"{event.by_member} {reader}".strip(), at=event.at)]
    if event.escalation_level:
        parts.append(say("console.referral_escalated", level=event.escalation_level))
    if event.finding:
        parts.append(event.finding)
    if event.read_back:
        parts.append(say("console.critical_read_back", text=event.read_back))
    if event.due_at is not None:
        parts.append(say("console.referral_due", due_at=event.due_at))
    return locale.clauses(parts)


class ReferralProgress:
    """The referral, read request and critical value states the parties have been told,
    for the steps that wait on them."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._changed = threading.Condition()

    def saw(self, event: ReferralStatus | ReadStatus | CriticalValueStatus) -> None:
        match event:
            case ReferralStatus():
                seen = (event.referral_id, event.business_status)
            case ReadStatus():
                seen = (event.request_id, event.business_status)
            case CriticalValueStatus():
                seen = (f"{event.request_id}|{event.critical_id}", event.state)
        with self._changed:
            self._seen.add(seen)
            self._changed.notify_all()

    def wait_for(self, state: tuple[str, str], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: state in self._seen, timeout)


def _line(event: Event, locale: Locale) -> str | None:
    """What one output says, in the locale; None for an event the console does not know."""
    say = locale.say
    match event:
        case Feedback(status=status) if status.value == "ACCEPTED":
            return say("console.accepted", event=(event.in_reply_to or "")[:8])
        case Feedback():
            lacking = say("console.missing", fields=[Label(f) for f in event.missing_fields]) \
                if event.missing_fields else ""
            card = say("console.card_ref", card=event.card_id[:8]) if event.card_id else ""
            return " ".join(part for part in (event.status.value, event.reason_code or "",
                                              event.reason or "", lacking, card) if part)
        case RecognitionAdvice():
            results = [say("console.advice_result", member=r.member_id, item=r.item_code,
                           value=r.value_numeric or r.conclusion, valid_until=r.valid_until)
                       for r in event.results]
            return say("console.advice", order=event.order_id, verdict=event.verdict.value,
                       results=results)
        case DiseaseReportCard():
            return say("console.card", kind=event.kind.value, number=event.card_number,
                       disease=event.disease_name, disease_class=event.disease_class.value,
                       unit=event.reporting_unit_name, deadline=event.deadline)
        case LateReport():
            return say("console.late", disease=event.disease_name, seconds=event.late_by_seconds,
                       deadline=event.deadline)
        case Shortage():
            via = say("console.via", quantity=event.transfer_quantity,
                      donor=event.transfer_from) if event.transfer_from else ""
            return say("console.shortage", status=event.status.value, drug=event.drug_name,
                       member=event.member_id, on_hand=event.on_hand,
                       reorder_point=event.reorder_point, via=via)
        case ReplenishmentOrder():
            return say("console.order", quantity=event.quantity, unit=event.unit,
                       drug=event.drug_name, member=event.member_id)
        case DeadLetter():
            return say("console.dead_letter", code=event.reason_code, reason=event.reason)
        case OperatorAlert():
            return say("console.alert", kind=event.kind, summary=event.summary)
        case ReferralStatus():
            return referral_status_line(event, locale)
        case ReadStatus():
            return read_status_line(event, locale)
        case CriticalValueStatus():
            return critical_status_line(event, locale)
        case ReferralRequest():
            return say("console.referral_request", referral=event.referral_ref,
                       sender=event.envelope.member_id, patient=event.patient.name or "-",
                       diagnosis=event.diagnosis_name or event.icd10, icd10=event.icd10,
                       reason=event.reason, documents=len(event.documents))
    return None


STYLES = {Feedback: "yellow", RecognitionAdvice: "green", DiseaseReportCard: "red",
          LateReport: "red", Shortage: "magenta", ReplenishmentOrder: "magenta",
          DeadLetter: "bright_black", OperatorAlert: "bright_black", ReferralStatus: "blue",
          ReferralRequest: "blue", ReadStatus: "cyan", CriticalValueStatus: "red"}


def describe(topic: str, event: Event, locale: Locale = DEFAULT_LOCALE) -> str | None:
    """One console line per output (Rich markup), in the locale's language and zone."""
    line = _line(event, locale)
    if line is None:
        return f"{topic} {event.avro_name()}"
    if isinstance(event, Feedback) and event.status.value == "ACCEPTED":
        return f"[bright_black]{topic} {escape(line)}[/]"
    return f"[{STYLES[type(event)]}]{topic}[/] {escape(line)}"


def follow(bootstrap: str, stop: threading.Event, locale: Locale,
           progress: ReferralProgress) -> None:
    topics = [feedback_topic(m) for m in DEMO_MEMBERS] + [
        CDC_REPORTS.name, PHARMACY_SHORTAGES.name, PHARMACY_ORDERS.name, DEAD_LETTER.name,
        ALERTS.name,
    ]
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                             group_id=f"demo-console-{time.time():.0f}")
    codec = AvroCodec()
    while not stop.is_set():
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                try:
                    event = codec.decode(record.value)
                    line = describe(tp.topic, event, locale)
                    if isinstance(event, ReferralStatus | ReadStatus | CriticalValueStatus):
                        progress.saw(event)
                except CodecError as exc:
                    line = f"{tp.topic} " + locale.render(text("console.undecodable",
                                                               detail=str(exc)))
                if line:
                    console.print(line)
    consumer.close()


def play(steps: Iterable[Step], publishers: dict[str, MemberPublisher],
         progress: ReferralProgress, locale: Locale) -> None:
    for step in steps:
        if step.after is not None and not progress.wait_for(step.after, STEP_WAIT_SECONDS):
            console.print(escape(locale.say("console.referral_not_yet", referral=step.after[0],
                                            state=_state_word(locale, step.after[1]))))
        console.print(f"[cyan]{step.member} ->[/] {escape(locale.render(step.label))}")
        if step.raw is not None:
            publishers[step.member].send_bytes(step.raw)
        else:
            assert step.event is not None
            publishers[step.member].publish(step.event)
        time.sleep(0.3)


@click.command()
@click.option("--bootstrap", required=True)
@click.option("--trickle-seconds", default=5.0, help="Pause between trickle events (0: none)")
def main(bootstrap: str, trickle_seconds: float) -> None:
    stop = threading.Event()
    locale = get_settings().locale()
    progress = ReferralProgress()
    follower = threading.Thread(target=follow, args=(bootstrap, stop, locale, progress),
                                daemon=True)
    follower.start()
    time.sleep(2.0)  # let the follower join before the first outputs
    publishers = {m: MemberPublisher(bootstrap, m) for m in DEMO_MEMBERS}
    now = datetime.now(UTC)
    try:
        play(chain(morning(now), referral_loop(now), remote_read_loop(now)), publishers,
             progress, locale)
        rng = random.Random(7)
        while trickle_seconds > 0:
            time.sleep(trickle_seconds)
            step = trickle(rng, datetime.now(UTC) - timedelta(seconds=1))
            publishers[step.member].publish(step.event)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for pub in publishers.values():
            pub.close()


if __name__ == "__main__":
    main()
