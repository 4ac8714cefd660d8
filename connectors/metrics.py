"""Every Prometheus metric of the connectors, in one registry served on `/metrics` by each
connector (the MLLP listener on its metrics port, the FHIR app on its own port)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

MLLP_ACKS = Counter(
    "connector_mllp_acks_total", "HL7 acknowledgements sent, by acknowledgement code (AA/AE/AR)",
    ["code"], registry=REGISTRY,
)
MLLP_FRAMING_ERRORS = Counter(
    "connector_mllp_framing_errors_total", "MLLP connections closed on a framing error",
    registry=REGISTRY,
)
MLLP_SECONDS = Histogram(
    "connector_mllp_message_seconds", "From a message read to its ACK written",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
FHIR_REQUESTS = Counter(
    "connector_fhir_requests_total", "FHIR requests, by resource type and HTTP status",
    ["resource", "status"], registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "connector_events_published_total", "Events acknowledged by Kafka, by channel and event",
    ["channel", "event"], registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "connector_dead_letters_total", "Rejected inputs written to the local dead-letter file",
    ["channel", "reason"], registry=REGISTRY,
)
CSV_ROWS = Counter(
    "connector_csv_rows_total", "CSV rows imported, by outcome (accepted/rejected)",
    ["outcome"], registry=REGISTRY,
)
FEEDBACK_DELIVERED = Counter(
    "connector_feedback_delivered_total",
    "Feedback delivered to the member's HIS, by target and outcome",
    ["target", "outcome"], registry=REGISTRY,
)

REFERENCE_VERSION = Gauge(
    "connector_reference_version", "1 for the version (content digest) of each reference "
    "file in use; source: topic (hub.reference) or local (packaged with the connector)",
    ["kind", "version", "source"], registry=REGISTRY,
)
REFERENCE_REFUSED = Counter(
    "connector_reference_refused_total", "Published reference versions refused (did not "
    "load): the previous version stays in use", ["kind"], registry=REGISTRY,
)
REFERENCE_TOPIC_CONNECTED = Gauge(
    "connector_reference_topic_connected", "1 while the reference topic is followed",
    registry=REGISTRY,
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Serve `/metrics` from a background thread (for connectors without a web app)."""
    start_http_server(port, addr=host, registry=REGISTRY)


def render_metrics() -> tuple[bytes, str]:
    """The exposition text and its content type, for a web app's own `/metrics`."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
