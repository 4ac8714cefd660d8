"""The card page's side of reporting. A doctor's completion is checked on the spot (the
same pure rule the agent applies, so the page can name a wrong field at once), then
published as a CardCompletion on hub.card-completions, on the partition of the patient's
cases; this agent applies it to `reporting-cases` like a diagnosis (under the reporting
agents' lock, outputs before the state, the case's one INITIAL card id), so the card goes
to cdc.disease-reports. The topic keeps every completion: a crash before the state is
written replays it, and a repeat finds the card out and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from hub.agents import reporting
from hub.agents.base import Meta, hub_agent
from hub.rules.rejections import Reason, Rejection
from hub.rules.reporting import CardView, card_view
from hub.rules.reporting.completion import (
    CompletionRefused,
    Owed,
    complete_card,
    completion_id,
    owed_case,
)
from hub.rules.reporting.state import Case
from hub.runtime import channels, table_writes
from hub.runtime.emit import publish, take_unacknowledged
from hub.runtime.services import runtime
from schemas.models import CardCompletion, Event
from schemas.models.common import Patient
from schemas.reference.messages import Label

COMPLETIONS_AGENT = "reporting-completions"


def _seal(patient: Patient) -> str:
    return runtime.sealer.seal_patient(patient).decode("ascii")


def owed(key: str, case_id: str, member_id: str) -> tuple[Owed, CardView]:
    """The member's open case and what its card would say now (CompletionRefused if the
    member has no such case)."""
    ctx = reporting._context()
    found = owed_case(reporting._load(key), case_id, member_id, ctx)
    return found, card_view(found.case, ctx.catalogue, ctx.opener)


def check(key: str, case_id: str, member_id: str, form: Mapping[str, str]) -> None:
    """CompletionRefused if the agent would refuse this completion now."""
    complete_card(reporting._load(key), case_id, member_id, form, reporting._context(),
                  _seal, runtime.now())


async def submit(key: str, partition: int, case_id: str, member_id: str,
                 form: Mapping[str, str]) -> None:
    """Publish the completion on the case's partition, once Kafka has it."""
    event = CardCompletion(
        envelope=CardCompletion.new_envelope(member_id, event_id=completion_id(case_id)),
        case_id=case_id, patient=Patient(key=key),
        sealed_form=runtime.sealer.seal(json.dumps(dict(form), ensure_ascii=False).encode()),
    )
    await publish(channels.card_completions, key, event, partition=partition)
    await asyncio.gather(*take_unacknowledged())


async def sent_case(key: str, case_id: str, timeout: float) -> Case | None:
    """The case once its card is out (None if not within `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        state = reporting._load(key)
        case = next((c for c in state.cases if c.case_id == case_id), None) if state else None
        if case is not None and case.cards:
            return case
        await asyncio.sleep(0.1)
    return None


@hub_agent(channels.card_completions, name=COMPLETIONS_AGENT)
async def on_completion(event: Event, meta: Meta) -> None:
    if not isinstance(event, CardCompletion) or not event.patient.key:
        return
    key = event.patient.key
    form = json.loads(runtime.sealer.open(event.sealed_form))
    async with reporting._writing:
        try:
            out = complete_card(reporting._load(key), event.case_id, event.envelope.member_id,
                                form, reporting._context(), _seal, runtime.now())
        except CompletionRefused as refused:
            if refused.code == "already_reported":
                return  # a repeat, or the HIS completed it meanwhile: the card is out
            if refused.field:
                raise Rejection(Reason.INVALID_EVENT, f"card_page.refused.{refused.code}",
                                field=Label(refused.field)) from refused
            raise Rejection(Reason.INVALID_EVENT, f"card_page.{refused.code}") from refused
        await reporting._send(out)
        await table_writes.put(reporting.cases, meta.partition, key, out.state.dump())
