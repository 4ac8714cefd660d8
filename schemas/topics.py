"""The topic catalogue: every topic the consortium uses, its key, schemas, partitions and
cleanup policy. No other module spells a topic name.

Data flows one way: members write `in.<member>`; the hub's intake forwards to the internal
`hub.*` topics; the flow agents write `out.<member>`, `cdc.*`, `pharmacy.*` and `hub.*`
operator topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.models import (
    CapacityPool,
    CardCompletion,
    CriticalValueStatus,
    CriticalValueUpdate,
    DeadLetter,
    Diagnosis,
    DiseaseReportCard,
    Event,
    Feedback,
    ImagingReport,
    LabResult,
    LateReport,
    OperatorAlert,
    ReadRequest,
    ReadStatus,
    ReadUpdate,
    RecognitionAdvice,
    RecognitionDecision,
    ReferralRequest,
    ReferralStatus,
    ReferralUpdate,
    ReplenishmentOrder,
    Shortage,
    ShortageRegistration,
    StockEvent,
    StockLevel,
    TestOrder,
)

INGRESS_PREFIX = "in."
FEEDBACK_PREFIX = "out."
DAY_MS = 24 * 3600 * 1000


class Audience(StrEnum):
    MEMBER_WRITES = "member-writes"
    MEMBER_READS = "member-reads"
    HUB_INTERNAL = "hub-internal"
    CDC = "cdc"
    PHARMACY = "pharmacy"
    OPERATORS = "operators"
    EVERY_MEMBER_READS = "every-member-reads"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    schemas: tuple[type[Event], ...]
    audience: Audience
    partitions: int
    cleanup_policy: str = "delete"
    # None only for a compacted topic (kept until a newer value of the key replaces it);
    # every topic that deletes says how long (docs/deployment.md, "Retention")
    retention_ms: int | None = None
    carries_identities: bool = False

    def __post_init__(self) -> None:
        if self.retention_ms is None and "delete" in self.cleanup_policy:
            raise ValueError(f"topic {self.name}: a deleting topic needs its retention_ms")

    @property
    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


# Reference data (schemas/reference/published.py): one JSON record per file, the newest
# kept forever by compaction; the hub writes it, every connector reads it from the start.
REFERENCE_PARTITIONS = 1


INTERNAL_PARTITIONS = 8
# Events in transit (ingress, internal, answers): the workers take them in seconds; a week
# lets a stopped hub or an offline member's connector catch up, and intake's dedup window
# (HUB_DEDUP_RETENTION_DAYS, 7) covers a replay of all of it.
TRANSIT_RETENTION_MS = 7 * DAY_MS
RESULTS = TopicSpec(
    "hub.results", "patient pseudonym", (LabResult, ImagingReport), Audience.HUB_INTERNAL,
    INTERNAL_PARTITIONS, retention_ms=TRANSIT_RETENTION_MS,
)
ORDERS = TopicSpec(
    "hub.orders", "patient pseudonym", (TestOrder, RecognitionDecision), Audience.HUB_INTERNAL,
    INTERNAL_PARTITIONS, retention_ms=TRANSIT_RETENTION_MS,
)
DIAGNOSES = TopicSpec(
    "hub.diagnoses", "patient pseudonym", (Diagnosis,), Audience.HUB_INTERNAL, INTERNAL_PARTITIONS,
    retention_ms=TRANSIT_RETENTION_MS,
)
STOCK = TopicSpec(
    "hub.stock", "drug code (all members of a drug together, so dispatch sees them)",
    (StockEvent, ShortageRegistration), Audience.HUB_INTERNAL, INTERNAL_PARTITIONS,
    retention_ms=TRANSIT_RETENTION_MS,
)
REFERRALS = TopicSpec(
    "hub.referrals", "receiving member (its referrals and reserved pools together)",
    (ReferralRequest, ReferralUpdate, CapacityPool), Audience.HUB_INTERNAL,
    INTERNAL_PARTITIONS, retention_ms=TRANSIT_RETENTION_MS,
)
REMOTE_READS = TopicSpec(
    "hub.remote-reads", "read request id (a study's claims, reports and critical values together)",
    (ReadRequest, ReadUpdate, CriticalValueUpdate), Audience.HUB_INTERNAL,
    INTERNAL_PARTITIONS, retention_ms=TRANSIT_RETENTION_MS,
)
CARD_COMPLETIONS = TopicSpec(
    "hub.card-completions", "patient pseudonym (sent to the partition of the patient's cases)",
    (CardCompletion,), Audience.HUB_INTERNAL, INTERNAL_PARTITIONS,
    retention_ms=TRANSIT_RETENTION_MS,
)
DEAD_LETTER = TopicSpec(
    "hub.dead-letter", "source topic", (DeadLetter,), Audience.OPERATORS, 1,
    retention_ms=30 * DAY_MS,
)
ALERTS = TopicSpec(
    "hub.alerts", "alert kind", (OperatorAlert,), Audience.OPERATORS, 1, retention_ms=30 * DAY_MS
)
CDC_REPORTS = TopicSpec(
    "cdc.disease-reports", "case id (a card and its revisions stay in order)",
    (DiseaseReportCard, LateReport), Audience.CDC, 4, retention_ms=3 * 365 * DAY_MS,
    carries_identities=True,
)
PHARMACY_SHORTAGES = TopicSpec(
    "pharmacy.shortages", "member and drug", (Shortage,), Audience.PHARMACY, 4,
    retention_ms=90 * DAY_MS,
)
PHARMACY_ORDERS = TopicSpec(
    "pharmacy.orders", "member and drug", (ReplenishmentOrder,), Audience.PHARMACY, 4,
    retention_ms=90 * DAY_MS,
)
PHARMACY_STOCK_LEVELS = TopicSpec(
    "pharmacy.stock-levels", "member and drug", (StockLevel,), Audience.PHARMACY, 4,
    retention_ms=90 * DAY_MS,
)
REFERENCE = TopicSpec(
    "hub.reference", "reference file kind (items.toml, members.toml, ...)", (),
    Audience.EVERY_MEMBER_READS, REFERENCE_PARTITIONS, cleanup_policy="compact",
    retention_ms=-1,
)

FIXED_TOPICS: tuple[TopicSpec, ...] = (
    RESULTS, ORDERS, DIAGNOSES, STOCK, DEAD_LETTER, ALERTS, CDC_REPORTS,
    PHARMACY_SHORTAGES, PHARMACY_ORDERS, PHARMACY_STOCK_LEVELS, CARD_COMPLETIONS, REFERENCE,
    REFERRALS, REMOTE_READS,
)

# The raw Kafka passthrough the benchmarks measure the hub against (never used by the hub).
BASELINE_IN = TopicSpec(
    "bench.passthrough-in", "as written", (LabResult,), Audience.HUB_INTERNAL, INTERNAL_PARTITIONS,
    retention_ms=TRANSIT_RETENTION_MS,
)
BASELINE_OUT = TopicSpec(
    "bench.passthrough-out", "as read", (LabResult,), Audience.HUB_INTERNAL, INTERNAL_PARTITIONS,
    retention_ms=TRANSIT_RETENTION_MS,
)

# Where intake forwards each accepted ingress schema.
INTERNAL_ROUTES: dict[type[Event], TopicSpec] = {
    schema: spec
    for spec in (RESULTS, ORDERS, DIAGNOSES, STOCK, REFERRALS, REMOTE_READS)
    for schema in spec.schemas
}


def ingress_topic(member_id: str) -> str:
    return f"{INGRESS_PREFIX}{member_id}"


def feedback_topic(member_id: str) -> str:
    return f"{FEEDBACK_PREFIX}{member_id}"


def member_of_topic(topic: str) -> str | None:
    for prefix in (INGRESS_PREFIX, FEEDBACK_PREFIX):
        if topic.startswith(prefix):
            return topic[len(prefix):]
    return None


def member_topics(
    member_id: str, partitions: int = INTERNAL_PARTITIONS
) -> tuple[TopicSpec, TopicSpec]:
    ingress = TopicSpec(
        ingress_topic(member_id), "ordering key: patient hash, drug code, referral receiver",
        tuple(INTERNAL_ROUTES), Audience.MEMBER_WRITES, partitions,
        retention_ms=TRANSIT_RETENTION_MS, carries_identities=True,
    )
    feedback = TopicSpec(
        feedback_topic(member_id), "event answered",
        (Feedback, RecognitionAdvice, ReferralRequest, ReferralStatus, ReadRequest, ReadStatus,
         CriticalValueStatus), Audience.MEMBER_READS,
        partitions,
        retention_ms=TRANSIT_RETENTION_MS, carries_identities=True,
    )
    return ingress, feedback


def catalogue(
    member_ids: list[str], member_partitions: int = INTERNAL_PARTITIONS
) -> list[TopicSpec]:
    """Every topic for a consortium with these members."""
    specs = list(FIXED_TOPICS)
    for member_id in member_ids:
        specs.extend(member_topics(member_id, member_partitions))
    return specs
