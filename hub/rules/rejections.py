"""Why the hub refuses an input. A handler raises `Rejection`; the agent base turns it into
a dead letter for operators and a REJECTED feedback for the member.

The reason is a `Text` (schemas/reference/messages.toml), rendered where it is sent, in
the language and time zone of the settings; the code stays machine-readable."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from schemas.reference.messages import DEFAULT_LOCALE, Locale, Text

# Kafka header `hub dlq replay` puts on an original it writes back: the replayed letter's
# id. A replay refused again is dead-lettered as the result of that letter, and the member,
# already told of this input, is not answered a second time.
REPLAY_HEADER = "hub-replay-of"


class Reason(StrEnum):
    MALFORMED = "MALFORMED"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    NOT_ACCEPTED_ON_INGRESS = "NOT_ACCEPTED_ON_INGRESS"
    ENVELOPE_MISMATCH = "ENVELOPE_MISMATCH"
    MEMBER_MISMATCH = "MEMBER_MISMATCH"
    UNKNOWN_MEMBER = "UNKNOWN_MEMBER"
    DUPLICATE_EVENT = "DUPLICATE_EVENT"
    INVALID_EVENT_ID = "INVALID_EVENT_ID"
    FUTURE_DATE = "FUTURE_DATE"
    IMPLAUSIBLE_DATE = "IMPLAUSIBLE_DATE"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"
    MISSING_PATIENT_IDENTITY = "MISSING_PATIENT_IDENTITY"
    PSEUDONYM_FROM_MEMBER = "PSEUDONYM_FROM_MEMBER"
    UNMAPPED_CODE = "UNMAPPED_CODE"
    UNKNOWN_DRUG = "UNKNOWN_DRUG"
    NEGATIVE_BALANCE = "NEGATIVE_BALANCE"
    INVALID_EVENT = "INVALID_EVENT"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    # two-way referral (hub/rules/referral; a refused step also carries the coordination
    # machine's own codes: NOT_A_PARTY, ROLE_NOT_ALLOWED, TASK_CLOSED, STEP_NOT_ALLOWED...)
    REFERRAL_UNKNOWN_RECEIVER = "REFERRAL_UNKNOWN_RECEIVER"
    REFERRAL_TO_SELF = "REFERRAL_TO_SELF"
    REFERRAL_DIRECTION = "REFERRAL_DIRECTION"
    REFERRAL_RETURN_MISMATCH = "REFERRAL_RETURN_MISMATCH"
    REFERRAL_ID_REUSED = "REFERRAL_ID_REUSED"
    REFERRAL_UNKNOWN = "REFERRAL_UNKNOWN"
    REFERRAL_RECEIVER_MISMATCH = "REFERRAL_RECEIVER_MISMATCH"
    REFERRAL_ONWARD_INVALID = "REFERRAL_ONWARD_INVALID"
    REFERRAL_BOOKING_REQUIRED = "REFERRAL_BOOKING_REQUIRED"
    REFERRAL_UNKNOWN_POOL = "REFERRAL_UNKNOWN_POOL"
    REFERRAL_UNKNOWN_SLOT = "REFERRAL_UNKNOWN_SLOT"
    REFERRAL_SLOT_REQUIRED = "REFERRAL_SLOT_REQUIRED"
    SLOT_TAKEN = "SLOT_TAKEN"
    RESERVED_PLACES_FULL = "RESERVED_PLACES_FULL"
    # remote diagnosis (hub/rules/remote_read; refused steps also carry the machine's codes)
    READ_NO_CENTRE = "READ_NO_CENTRE"
    READ_UNKNOWN = "READ_UNKNOWN"
    READ_ID_REUSED = "READ_ID_REUSED"
    READ_CLAIMED_BY_OTHER = "READ_CLAIMED_BY_OTHER"
    READ_NOT_CLAIMANT = "READ_NOT_CLAIMANT"
    READ_READER_REQUIRED = "READ_READER_REQUIRED"
    READ_REPORT_REQUIRED = "READ_REPORT_REQUIRED"
    READ_REVIEWER_IS_WRITER = "READ_REVIEWER_IS_WRITER"
    READ_REPORT_LOCKED = "READ_REPORT_LOCKED"
    CRITICAL_UNKNOWN = "CRITICAL_UNKNOWN"
    CRITICAL_NOT_READER = "CRITICAL_NOT_READER"
    CRITICAL_READ_BACK_REQUIRED = "CRITICAL_READ_BACK_REQUIRED"
    CRITICAL_SAME_CHECKER = "CRITICAL_SAME_CHECKER"


class Rejection(Exception):
    """An input the hub will not process, with a reason the member can act on:
    `Rejection(code, "rejection.<message>", **params)`."""

    def __init__(self, code: Reason | str, message: str, /, **params: Any) -> None:
        self.code = str(code)
        self.text = Text(message, params)
        super().__init__(f"{self.code}: {self.reason_in(DEFAULT_LOCALE)}")

    def reason_in(self, locale: Locale) -> str:
        return locale.render(self.text)

    @property
    def reason(self) -> str:
        """The reason in the default language (zh) and zone."""
        return self.reason_in(DEFAULT_LOCALE)
