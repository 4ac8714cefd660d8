"""The card page's side of reporting: what an open case's card lacks, and a doctor's
completion applied to the `reporting-cases` table like an event would be (under the same
lock, outputs before the state, the case's one INITIAL card id), so the card goes to
cdc.disease-reports at once. Called by hub.web.card_page on the worker that owns the
patient's partition (it forwards there first)."""

from __future__ import annotations

from collections.abc import Mapping

from hub.agents import reporting
from hub.rules.reporting import CardView, card_view
from hub.rules.reporting.completion import Owed, complete_card, owed_case
from hub.rules.reporting.outputs import Outcome
from hub.runtime import table_writes
from hub.runtime.services import runtime
from schemas.models.common import Patient


def _seal(patient: Patient) -> str:
    return runtime.sealer.seal_patient(patient).decode("ascii")


def owed(key: str, case_id: str, member_id: str) -> tuple[Owed, CardView]:
    """The member's open case and what its card would say now (CompletionRefused if the
    member has no such case)."""
    ctx = reporting._context()
    found = owed_case(reporting._load(key), case_id, member_id, ctx)
    return found, card_view(found.case, ctx.catalogue, ctx.opener)


async def complete(key: str, case_id: str, member_id: str, form: Mapping[str, str]) -> Outcome:
    """Complete the card and send it; CompletionRefused names a wrong field."""
    async with reporting._writing:
        state = reporting._load(key)
        out = complete_card(state, case_id, member_id, form, reporting._context(), _seal,
                            runtime.now())
        await reporting._send(out)
        await table_writes.put(reporting.cases, out.state.partition, key, out.state.dump())
    return out
