"""The demo `make run` shows: a few members publish a realistic morning's events, and the
console shows what the hub did with each — acknowledgements, rejections with reasons,
recognition advice, report cards for the CDC, shortages and orders for the pharmacy.

After the scripted morning it keeps a gentle trickle going, so dashboards stay alive.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import click
from kafka import KafkaConsumer
from rich.console import Console

from connectors.demo_script import morning, trickle
from connectors.sdk import MemberPublisher
from schemas.codec import AvroCodec, CodecError
from schemas.models import (
    DeadLetter,
    DiseaseReportCard,
    Event,
    Feedback,
    LateReport,
    OperatorAlert,
    RecognitionAdvice,
    ReplenishmentOrder,
    Shortage,
)
from schemas.topics import (
    ALERTS,
    CDC_REPORTS,
    DEAD_LETTER,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    feedback_topic,
)

DEMO_MEMBERS = ("lead", "chc-east", "thc-river", "mch", "vp-hexi")
console = Console(highlight=False)


def describe(topic: str, event: Event) -> str | None:
    """One console line per output."""
    match event:
        case Feedback(status=status) if status.value == "ACCEPTED":
            return f"[bright_black]{topic} accepted {(event.in_reply_to or '')[:8]}[/]"
        case Feedback():
            extra = f" missing={','.join(event.missing_fields)}" if event.missing_fields else ""
            card = f" card={event.card_id[:8]}" if event.card_id else ""
            return (f"[yellow]{topic}[/] {event.status.value} {event.reason_code or ''} "
                    f"{event.reason or ''}{extra}{card}")
        case RecognitionAdvice():
            names = ", ".join(f"{r.member_id} {r.item_code}={r.value_numeric or r.conclusion} "
                              f"valid until {r.valid_until:%m-%d}" for r in event.results)
            return (f"[green]{topic}[/] advice for order {event.order_id}: "
                    f"{event.verdict.value} {names}")
        case DiseaseReportCard():
            return (f"[red]{topic}[/] {event.kind.value} card {event.card_number} "
                    f"{event.disease_name} ({event.disease_class.value}) from "
                    f"{event.reporting_unit_name}, deadline {event.deadline:%H:%M}")
        case LateReport():
            return f"[red]{topic}[/] LATE {event.disease_name} by {event.late_by_seconds}s"
        case Shortage():
            via = f", transfer {event.transfer_quantity:g} from {event.transfer_from}" \
                if event.transfer_from else ""
            return (f"[magenta]{topic}[/] {event.status.value} shortage {event.drug_name} at "
                    f"{event.member_id}: on hand {event.on_hand:g}, reorder point "
                    f"{event.reorder_point:g}{via}")
        case ReplenishmentOrder():
            return (f"[magenta]{topic}[/] order {event.quantity:g} {event.unit} "
                    f"{event.drug_name} for {event.member_id}")
        case DeadLetter():
            return f"[bright_black]{topic}[/] dead letter {event.reason_code}: {event.reason}"
        case OperatorAlert():
            return f"[bright_black]{topic}[/] alert {event.kind}: {event.summary}"
    return f"{topic} {event.avro_name()}"


def follow(bootstrap: str, stop: threading.Event) -> None:
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
                    line = describe(tp.topic, codec.decode(record.value))
                except CodecError as exc:
                    line = f"{tp.topic} undecodable: {exc}"
                if line:
                    console.print(line)
    consumer.close()


@click.command()
@click.option("--bootstrap", required=True)
@click.option("--trickle-seconds", default=5.0, help="Pause between trickle events (0: none)")
def main(bootstrap: str, trickle_seconds: float) -> None:
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(bootstrap, stop), daemon=True)
    follower.start()
    time.sleep(2.0)  # let the follower join before the first outputs
    publishers = {m: MemberPublisher(bootstrap, m) for m in DEMO_MEMBERS}
    now = datetime.now(UTC)
    try:
        for step in morning(now):
            console.print(f"[cyan]{step.member} ->[/] {step.label}")
            if step.raw is not None:
                publishers[step.member].send_bytes(step.raw)
            else:
                assert step.event is not None
                publishers[step.member].publish(step.event)
            time.sleep(0.3)
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
