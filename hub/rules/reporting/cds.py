"""The card page offered in the doctor's EHR as CDS Hooks (patient-view): when a doctor
opens a patient whose notifiable case still lacks card fields the member can fill in, a
card says which and links to the card page (hub.web.card_page). Pure rendering, in the
style of hub.rules.recognition.cds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.models import deterministic_id
from schemas.reference.messages import DEFAULT_LOCALE, Label, Locale, text

SERVICE_ID = "reporting-patient-view"
HOOK = "patient-view"
JsonDict = dict[str, Any]


def service() -> JsonDict:
    """This service's entry in the CDS Hooks discovery answer."""
    return {
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "Notifiable disease report card to complete (传染病报告卡待补全)",
        "description": "Tells the doctor that a report card of this patient lacks fields the "
                       "HIS did not send, with a link to complete it before its deadline.",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Bearer token of the calling member; the prefetched Patient "
                             "needs an identifier whose type code is a hub IdType.",
    }


def completion_card(case_id: str, disease_name: str, missing: list[str], deadline: datetime,
                    url: str, hook_instance: str, source_label: str,
                    locale: Locale = DEFAULT_LOCALE) -> JsonDict:
    """One card per case whose card the doctor can complete now."""
    summary = locale.render(text("report.cds_summary", disease=disease_name,
                                 deadline=deadline))
    detail = locale.render(text("report.missing_fields", fields=[Label(m) for m in missing],
                                deadline=deadline))
    return {
        "uuid": deterministic_id("cds-card", hook_instance, case_id),
        "summary": summary[:140],
        "indicator": "warning",
        "detail": detail,
        "source": {"label": source_label},
        "links": [{"label": locale.render(text("report.cds_link")), "url": url,
                   "type": "absolute"}],
    }
