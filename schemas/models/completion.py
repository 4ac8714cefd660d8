"""A doctor's completion of an incomplete report card, from the card page
(hub/web/card_page.py) to the reporting agent, on the hub-internal topic
hub.card-completions, on the partition of the patient's cases."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.models.base import Event
from schemas.models.common import Patient


class CardCompletion(Event):
    """The fields a card lacked, as the doctor filled them in. They may hold identities
    (a name, an ID number), so they travel sealed like the patient block."""

    NAMESPACE: ClassVar[str] = "consortium.reporting"
    case_id: str
    patient: Patient = Field(description="The pseudonym only (`key`): whose cases")
    sealed_form: bytes = Field(description="The form's fields as JSON, sealed by the hub")
