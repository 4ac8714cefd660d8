"""Every Prometheus metric of the hub is created here, in one registry served on the
worker's `/metrics`. (The connectors, which never import the hub, keep theirs in
`connectors/metrics.py`.)"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

EVENTS_IN = Counter(
    "hub_events_in_total", "Inputs consumed, readable or not, by topic and the member "
    "that sent them (an ingress topic's owner; past intake, the member it verified)",
    ["topic", "member"],
    registry=REGISTRY,
)
EVENTS_OUT = Counter(
    "hub_events_out_total", "Events produced, by topic and member", ["topic", "member"],
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "hub_rejections_total", "Inputs rejected (dead-lettered), by reason and agent",
    ["reason", "agent"], registry=REGISTRY,
)
INTAKE_PLACEMENT = Counter(
    "hub_intake_placement_total", "Events intake admitted, by member and where they were "
    "handled: in_place (they came on their home partition) or forwarded (to the internal "
    "topic's home partition: a producer that does not key by the SDK's ordering key)",
    ["member", "placement"], registry=REGISTRY,
)
DUPLICATES_DROPPED = Counter(
    "hub_duplicates_dropped_total", "Repeated event ids dropped, by agent", ["agent"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "hub_processing_seconds", "Time to handle one event, by agent", ["agent"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "hub_end_to_end_seconds", "From the event's occurred_at to its output, by agent",
    ["agent"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
COMMIT_REPAIRS = Counter(
    "hub_commit_repairs_total",
    "Input partitions whose stuck commits were repaired "
    "(hub/runtime/patches/commit_repair.py), by kind",
    ["kind"], registry=REGISTRY,
)
STORE_WRITES_UNDONE = Counter(
    "hub_store_writes_undone_total",
    "RocksDB table writes of a killed worker whose changelog records were never "
    "acknowledged, undone when the partition was opened (hub/runtime/patches/"
    "store_rollback.py), by table",
    ["table"], registry=REGISTRY,
)
FETCH_JUMPS = Counter(
    "hub_fetch_jumps_total",
    "Times an input partition's fetched offsets jumped over messages not delivered "
    "(hub/runtime/patches/commit_guard.py: not counted as processed; "
    "the hole is delivered again), by topic",
    ["topic"], registry=REGISTRY,
)
FETCH_SEEKS_BACK = Counter(
    "hub_fetch_seeks_back_total",
    "Times an input partition was fetched past its next offset and sought back to it "
    "(hub/runtime/patches/fetch_order.py), by topic",
    ["topic"], registry=REGISTRY,
)
BROKER_CONNECTION_ERRORS = Counter(
    "hub_broker_connection_errors_total", "Failed connections to a Kafka broker, logged or "
    "held back (hub/process/outages.py), by the Kafka client's logger", ["logger"],
    registry=REGISTRY,
)
BROKER_UNREACHABLE = Gauge(
    "hub_broker_unreachable", "1 while the worker's Kafka clients fail to reach a broker "
    "(an outage in the log: hub/process/outages.py), else 0", registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "hub_consumer_lag", "Messages not yet consumed, by topic", ["topic"], registry=REGISTRY
)
MEMBER_LAST_SEEN = Gauge(
    "hub_member_last_event_timestamp_seconds", "When each member last sent an event",
    ["member"], registry=REGISTRY,
)
# Recognition
RECOGNITION = Counter(
    "hub_recognition_total",
    "Recognition outcomes: orders, recognisable, recognised, retested (by reason)",
    ["member", "item", "outcome", "reason"], registry=REGISTRY,
)
RECOGNITION_RETRACTED = Counter(
    "hub_recognition_retractions_total",
    "Retracted results: removed from the index, kept as a tombstone (the original not yet "
    "seen), a late original refused, an ordering member's advice withdrawn",
    ["member", "outcome"], registry=REGISTRY,
)
RECOGNITION_INDEXED = Counter(
    "hub_recognition_results_indexed_total",
    "Results added to the recognition index, by producing member and item kind",
    ["member", "kind"], registry=REGISTRY,
)
RECOGNITION_LOOKUPS = Counter(
    "hub_recognition_lookups_total", "Synchronous recognition lookups, by endpoint and status",
    ["endpoint", "status"], registry=REGISTRY,
)
# Reporting
OPEN_CASES = Gauge(
    "hub_open_cases", "Open notifiable-disease cases by deadline state", ["state"],
    registry=REGISTRY,
)
CARDS = Counter(
    "hub_report_cards_total", "Report cards sent to the CDC, by kind and timeliness",
    ["kind", "timely"], registry=REGISTRY,
)
LATE_REPORTS = Counter(
    "hub_late_reports_total", "Cases reported late to the CDC", ["member", "disease"],
    registry=REGISTRY,
)
REPORTING_FEEDBACK = Counter(
    "hub_reporting_feedback_total",
    "Reporting answers to members (REPORTED, REVISED, DUPLICATE, INCOMPLETE, ...), by disease",
    ["status", "disease"], registry=REGISTRY,
)
# Pharmacy
OPEN_SHORTAGES = Gauge(
    "hub_open_shortages", "Open shortages (threshold and registered)", registry=REGISTRY
)
REPLENISHMENT_ORDERS = Counter(
    "hub_replenishment_orders_total", "Orders placed with the central pharmacy", ["member"],
    registry=REGISTRY,
)
TRANSFERS_SUGGESTED = Counter(
    "hub_transfers_suggested_total", "Transfers suggested between members", registry=REGISTRY
)
TRACE_DUPLICATES = Counter(
    "hub_trace_duplicates_total", "Packs dispensed twice", registry=REGISTRY
)
STOCK_MOVEMENTS = Counter(
    "hub_stock_movements_total", "Stock events applied to the ledgers, by kind", ["kind"],
    registry=REGISTRY,
)
SHORTAGES = Counter(
    "hub_shortages_total", "Shortages opened and closed, by source and status",
    ["source", "status"], registry=REGISTRY,
)
# Two-way referral (hub/agents/referral.py)
REFERRAL_STEPS = Counter(
    "hub_referral_steps_total", "Referral state transitions applied, by direction and step "
    "(OPENED: a new referral; the hub's own steps too)", ["direction", "step"],
    registry=REGISTRY,
)
REFERRALS_ARRIVED = Counter(
    "hub_referrals_arrived_total", "Referred patients who arrived, by direction (the office "
    "counts referrals by arrival, not by request)", ["direction"], registry=REGISTRY,
)
REFERRAL_ANSWERS = Counter(
    "hub_referral_answers_total", "Receivers' first answers (accepted, rejected, referred "
    "onward), in_time or late against the answer deadline", ["timeliness"],
    registry=REGISTRY,
)
REFERRALS_OPEN = Gauge(
    "hub_referrals_open", "Open referrals this worker owns, by direction (the watchdog's "
    "last pass)", ["direction"], registry=REGISTRY,
)
REFERRAL_ESCALATIONS = Counter(
    "hub_referral_escalations_total", "Missed referral deadlines escalated, by level "
    "(1: both parties; 2: the office)", ["level"], registry=REGISTRY,
)
REFERRAL_RESERVED_PLACES = Gauge(
    "hub_referral_reserved_places", "Reserved places of the current pools this worker owns, "
    "by member, resource code and state (booked, free)", ["member", "resource", "state"],
    registry=REGISTRY,
)
REFERRAL_SLOT_CONFLICTS = Counter(
    "hub_referral_slot_conflicts_total", "Bookings refused because another referral holds "
    "the slot, by receiving member", ["member"], registry=REGISTRY,
)
# Remote diagnosis (hub/agents/remote_read.py)
READ_REPORT_BUCKETS = (600.0, 1800.0, 3600.0, 2 * 3600.0, 4 * 3600.0, 6 * 3600.0,
                       24 * 3600.0, 2 * 86400.0, 4 * 86400.0, 7 * 86400.0)
REMOTE_READ_STEPS = Counter(
    "hub_remote_read_steps_total", "Read request steps applied, by modality and step "
    "(OPENED: a new request; the hub's own steps too)", ["modality", "step"],
    registry=REGISTRY,
)
REMOTE_READ_REPORT_SECONDS = Histogram(
    "hub_remote_read_report_seconds", "Images available to final report, by reading centre, "
    "modality and priority", ["centre", "modality", "priority"], buckets=READ_REPORT_BUCKETS,
    registry=REGISTRY,
)
REMOTE_READ_REPORTS = Counter(
    "hub_remote_read_reports_total", "Final reports, in_time or late against the report "
    "limit, by modality and priority", ["modality", "priority", "timeliness"],
    registry=REGISTRY,
)
REMOTE_READ_ESCALATIONS = Counter(
    "hub_remote_read_escalations_total", "Late reads escalated, by level (1: both members; "
    "2: re-routed to the backup centre, operators told)", ["level"], registry=REGISTRY,
)
REMOTE_READS_OPEN = Gauge(
    "hub_remote_reads_open", "Open read requests this worker owns, by reading centre and "
    "modality (the watchdog's last pass)", ["centre", "modality"], registry=REGISTRY,
)
REMOTE_READ_CLAIM_CONFLICTS = Counter(
    "hub_remote_read_claim_conflicts_total", "Claims refused because another reader holds "
    "the study, by reading centre", ["centre"], registry=REGISTRY,
)
CRITICAL_VALUE_STEPS = Counter(
    "hub_critical_value_steps_total", "Critical value steps applied, by step", ["step"],
    registry=REGISTRY,
)
CRITICAL_VALUE_ACKS = Counter(
    "hub_critical_value_acks_total", "Critical values acknowledged with a read-back, in_time "
    "or late against HUB_CRITICAL_ACK_MINUTES", ["timeliness"], registry=REGISTRY,
)
CRITICAL_VALUES_OPEN = Gauge(
    "hub_critical_values_open", "Critical values not yet resolved this worker owns",
    registry=REGISTRY,
)
# Process
GC_PAUSE_SECONDS = Histogram(
    "hub_gc_pause_seconds", "Python garbage collections (the whole process waits), by generation",
    ["generation"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
HEAP_TRIMS = Counter(
    "hub_heap_trims_total", "Times freed heap was handed back (hub/process/heap_trim.py)",
    registry=REGISTRY,
)
HEAP_TRIM_SECONDS = Histogram(
    "hub_heap_trim_seconds", "How long each heap trim held the C library's arenas",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
HEAP_TRIMMED_BYTES = Counter(
    "hub_heap_trimmed_bytes_total", "Resident bytes handed back by heap trims",
    registry=REGISTRY,
)
# Working calendar (schemas/reference/calendar/, hub.rules.worktime)
WORKING_CALENDAR_LAST_YEAR = Gauge(
    "hub_working_calendar_last_year",
    "The last year with a working calendar file (0: none); a year past it counts working "
    "days as Monday to Friday, without its holidays and make-up days",
    registry=REGISTRY,
)
