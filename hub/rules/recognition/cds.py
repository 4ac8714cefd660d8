"""The synchronous answer in the two shapes the web API gives: plain JSON for the lookup,
and CDS Hooks (order-select) for an EHR that calls the hub while the doctor orders.

Pure translation: requests are parsed into items and an identity, answers rendered into
JSON and cards. The identity is only read here, never kept.
"""

from __future__ import annotations

from typing import Any

from hub.rules.recognition.advice import RETEST_EXPLANATIONS, Answer
from schemas.models import deterministic_id
from schemas.models.common import NATIONAL_ID_TYPES, IdType
from schemas.models.outputs import Verdict
from schemas.reference.items import Item, ItemCatalogue
from schemas.reference.messages import DEFAULT_LOCALE, Locale, text

SERVICE_ID = "recognition-order-select"
HOOK = "order-select"
ITEM_SYSTEM = "urn:consortium-hub:item"
LOINC_SYSTEM = "http://loinc.org"
RETEST_REASON_SYSTEM = "urn:consortium-hub:retest-reason"
JsonDict = dict[str, Any]


def discovery() -> JsonDict:
    return {"services": [{
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "Mutual result recognition (检查检验结果互认)",
        "description": "Tells the ordering doctor that a recognisable result of the ordered "
                       "item already exists at a consortium member.",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Bearer token of the calling member; the prefetched Patient "
                             "needs an identifier whose type code is a hub IdType "
                             "(e.g. RESIDENT_ID).",
    }]}


def resolve_item(catalogue: ItemCatalogue, member_id: str, code: str,
                 system: str | None = None) -> Item | None:
    """An item from a consortium code, a LOINC code or the member's local code."""
    if system == LOINC_SYSTEM:
        return catalogue.by_loinc(code)
    if system == ITEM_SYSTEM:
        return catalogue.get(code.strip().upper())
    return catalogue.resolve(member_id, code) or catalogue.get(code.strip().upper())


def patient_identity(request: JsonDict) -> tuple[IdType, str] | None:
    """The ID type and number of the prefetched Patient, if it carries one we know: a
    national ID before a record number, which matches only the asking member's patients."""
    patient = (request.get("prefetch") or {}).get("patient") or {}
    found: list[tuple[IdType, str]] = []
    for identifier in patient.get("identifier") or []:
        value = identifier.get("value")
        for coding in (identifier.get("type") or {}).get("coding") or []:
            if value and coding.get("code") in IdType.__members__:
                found.append((IdType(coding["code"]), str(value)))
    return min(found, key=lambda ident: ident[0] not in NATIONAL_ID_TYPES, default=None)


def selected_orders(request: JsonDict) -> list[tuple[str, list[tuple[str | None, str]]]]:
    """(resource reference, codings) of each selected draft order (all when none is
    selected)."""
    context = request.get("context") or {}
    selections = set(context.get("selections") or [])
    orders = []
    for entry in (context.get("draftOrders") or {}).get("entry") or []:
        resource = entry.get("resource") or {}
        ref = f"{resource.get('resourceType', '')}/{resource.get('id', '')}"
        if selections and ref not in selections:
            continue
        codings = [(c.get("system"), str(c["code"]))
                   for c in (resource.get("code") or {}).get("coding") or [] if c.get("code")]
        orders.append((ref, codings))
    return orders


def answer_json(answer: Answer) -> JsonDict:
    return {
        "item_code": answer.item.code,
        "item_name": answer.item.name,
        "verdict": answer.verdict.value,
        "retest_reason": answer.retest_reason.value if answer.retest_reason else None,
        "message": answer.message,
        "results": [r.model_dump(mode="json") for r in answer.results],
    }


def _detail(answer: Answer, locale: Locale) -> str:
    lines = []
    for r in answer.results:
        shown = (f"{r.value_numeric:g} {r.unit or ''}".strip() if r.value_numeric is not None
                 else r.value_text or r.conclusion or f"report {r.report_ref}")
        flag = f" ({r.abnormal_flag.value})" if r.abnormal_flag else ""
        lines.append(locale.render(text(
            "advice.cds_result_line", member=r.member_name, mark=r.mark,
            shown=f"{shown}{flag}", reported_at=r.reported_at, valid_until=r.valid_until,
        )))
    return "\n".join(lines)


def card(answer: Answer, order_ref: str, hook_instance: str, source_label: str,
         locale: Locale = DEFAULT_LOCALE) -> JsonDict:
    """One card per ordered item that has a recognisable result; the doctor may override
    it with one of the re-test reasons (which the decision loop then counts)."""
    said = {"item": answer.item.name, "code": answer.item.code}
    summary = locale.render(text(
        "advice.cds_summary" if answer.verdict is Verdict.RECOGNISABLE else "advice.cds_retest",
        **said,
    ))
    return {
        "uuid": deterministic_id("cds-card", hook_instance, order_ref, answer.item.code),
        "summary": summary[:140],
        "indicator": "warning" if answer.verdict is Verdict.RECOGNISABLE else "info",
        "detail": f"{answer.message}\n\n{_detail(answer, locale)}",
        "source": {"label": source_label},
        "overrideReasons": [
            {"system": RETEST_REASON_SYSTEM, "code": reason.value,
             "display": locale.render(why)}
            for reason, why in RETEST_EXPLANATIONS.items()
        ],
    }
