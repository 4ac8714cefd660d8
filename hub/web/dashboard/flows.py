"""The three flows' state as the operators' dashboard shows it, read from the flows' own
Faust tables and stats functions (read only: nothing here writes a table).

Reporting and pharmacy state are read as stored (plain JSON documents); only the few
entries the page lists are parsed into the flows' models. Every figure covers the
partitions this worker holds: with one worker, everything. No patient data leaves here:
a case is shown by a short case id, its disease, its unit and its deadline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub import metrics
from hub.agents import pharmacy, recognition, reporting
from hub.rules.pharmacy.dispatch import order_id_for
from hub.rules.pharmacy.ledger import MemberLedger, OpenShortage
from hub.rules.reporting import Case, DeadlineState, deadline_state, lacks
from hub.runtime.app import app
from hub.runtime.services import runtime
from hub.web.dashboard.feeds import counter_values
from schemas import topics
from schemas.reference.formulary import Formulary, StockParams

JsonDict = dict[str, Any]
LISTED = 12  # rows per list on the page; the counts cover all of them


def _owned_patient_partitions() -> set[int]:
    """Partitions of the patient topics this worker answers for (not its standbys)."""
    try:
        assigned = app.assignor.assigned_actives()
    except Exception:  # no assignment yet
        return set()
    return {tp.partition for tp in assigned if tp.topic == topics.DIAGNOSES.name}


def _stored_cases() -> Iterable[dict[str, Any]]:
    owned = _owned_patient_partitions()
    for value in list(reporting.cases.values()):
        if value and value.get("partition") in owned:
            yield from value.get("cases", ())


def case_row(case: Case, names: dict[str, str], now: datetime) -> JsonDict:
    return {
        "case": case.case_id[:8],
        "disease_code": case.disease_code,
        "disease_name": names.get(case.disease_code, case.disease_code),
        "member": case.basis.member_id,
        "opened_at": case.opened_at.isoformat(),
        "deadline": case.deadline.isoformat(),
        "seconds_left": round((case.deadline - now).total_seconds()),
        "state": deadline_state(case, now).value,
        "missing": list(case.missing),
        "lacks": lacks(case.missing, runtime.locale),
        "late_by_seconds": case.late_by_seconds,
    }


def reporting_figures(now: datetime) -> JsonDict:
    """Open cases, soonest deadline first; cases reported late to the CDC, latest first;
    and the cases whose card was sent, on time or late."""
    names = {d.code: d.name for d in reporting.catalogue.diseases}
    open_cases: list[Case] = []
    late: list[Case] = []
    cards = {"on_time": 0, "late": 0}
    for raw in _stored_cases():
        if raw.get("cards"):  # the first card decides whether the case was reported in time
            cards["on_time" if raw["cards"][0].get("late_by_seconds") is None else "late"] += 1
        is_open = not raw.get("cards") and not raw.get("reported_elsewhere") \
            and not raw.get("withdrawn")
        if is_open or raw.get("late_reported_at"):
            case = Case.model_validate(raw)
            if is_open:
                open_cases.append(case)
            if case.late_reported_at is not None:
                late.append(case)
    open_cases.sort(key=lambda c: c.deadline)
    late.sort(key=lambda c: c.late_reported_at or c.deadline, reverse=True)
    by_state = {state.value: 0 for state in DeadlineState}
    for case in open_cases:
        by_state[deadline_state(case, now).value] += 1
    return {
        "open_total": len(open_cases),
        "open_by_state": by_state,
        "open_cases": [case_row(c, names, now) for c in open_cases[:LISTED]],
        "late_total": len(late),
        "late_reports": [case_row(c, names, now) for c in late[:LISTED]],
        "cards": cards,
    }


def _order_number(ledger: MemberLedger, shortage: OpenShortage,
                  params: StockParams | None) -> str | None:
    """The number of the order placed for the shortage: as the ledger keeps it, else
    derived as it was made (a shortage stored before the ledger kept it: TOP_UP orders
    have their own, and a requisition's cycle may since have rolled over)."""
    if shortage.order_id:
        return shortage.order_id[:8]
    if params is None:
        return None
    return order_id_for(ledger.member_id, ledger.drug_code, shortage.shortage_id,
                        shortage.opened_on, params)[:8]


def _transfer_rows(ledger: MemberLedger, drug_name: str, unit: str) -> list[JsonDict]:
    return [{"transfer": key[:8], "from": t.from_member, "to": ledger.member_id,
             "drug_code": ledger.drug_code, "drug_name": drug_name, "unit": unit,
             "quantity": t.quantity, "state": t.state.value}
            for key, t in sorted(ledger.incoming.items())]


def pharmacy_board(values: Iterable[Any], formulary: Formulary, orders_placed: float
                   ) -> JsonDict:
    """Open shortages (largest first), the orders placed for them (pending while the
    shortage is open: closing needs the stock received), and the transfers not yet
    received, from the stored ledgers."""
    shortages: list[JsonDict] = []
    orders: list[JsonDict] = []
    transfers: list[JsonDict] = []
    for value in values:
        if not value or not (value.get("open_shortage") or value.get("incoming")):
            continue
        ledger = MemberLedger.from_json(value)
        found = formulary.get(ledger.drug_code)
        drug_name, unit = (found.name, found.unit) if found else (ledger.drug_code, "")
        transfers.extend(_transfer_rows(ledger, drug_name, unit))
        shortage = ledger.open_shortage
        if shortage is None:
            continue
        incoming = ledger.incoming.get(shortage.shortage_id)
        shortages.append({
            "member": ledger.member_id, "drug_code": ledger.drug_code, "drug_name": drug_name,
            "unit": unit, "on_hand": ledger.on_hand, "short": shortage.quantity_short,
            "received": shortage.received, "source": shortage.source.value,
            "opened_on": shortage.opened_on.isoformat(), "transfer_from": shortage.transfer_from,
            "transfer_quantity": shortage.transfer_quantity,
            "transfer_state": incoming.state.value if incoming is not None else None,
            "order_quantity": shortage.order_quantity,
        })
        if shortage.order_quantity > 0:  # ordered for this shortage, not all received yet
            orders.append({
                "order": _order_number(ledger, shortage, formulary.stock_params(
                    ledger.member_id, ledger.drug_code)),
                "member": ledger.member_id, "drug_code": ledger.drug_code,
                "drug_name": drug_name, "unit": unit, "quantity": shortage.order_quantity,
                "received": shortage.received, "since": shortage.opened_on.isoformat(),
            })
    shortages.sort(key=lambda row: (-row["short"], row["member"]))
    orders.sort(key=lambda row: (row["since"], row["member"]))
    transfers.sort(key=lambda row: (row["state"], row["to"], row["transfer"]))
    return {
        "open_total": len(shortages), "open_shortages": shortages[:LISTED],
        "pending_total": len(orders), "pending_orders": orders[:LISTED],
        "transfers_total": len(transfers), "transfers": transfers[:LISTED],
        "orders_placed": int(orders_placed),
    }


def pharmacy_figures() -> JsonDict:
    placed = sum(value for _, value in counter_values(metrics.REPLENISHMENT_ORDERS))
    return pharmacy_board(list(pharmacy.ledgers.values()), pharmacy.formulary(), placed)


def recognition_figures() -> list[JsonDict]:
    """Per member and item: orders, how many a valid result could replace (recognisable),
    how many the doctor recognised, and the two rates."""
    rows = []
    for member_id, items in recognition.recognition_stats().items():
        for item_code, counts in items.items():
            item = recognition.catalogue.get(item_code)
            orders, recognisable = counts["orders"], counts["recognisable"]
            rows.append({
                "member": member_id, "item": item_code,
                "item_name": item.name if item else item_code,
                "orders": orders, "recognisable": recognisable,
                "recognised": counts["recognised"], "retested": counts["retested"],
                "recognisable_rate": round(recognisable / orders, 4) if orders else None,
                "recognition_rate": counts["recognition_rate"],
            })
    return rows
