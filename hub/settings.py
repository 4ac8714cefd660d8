"""Every setting of the hub, in one place. Environment variables carry the `HUB_` prefix."""

from __future__ import annotations

import logging
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from hub.rules.worktime import DEFAULT_WORKING_HOURS, WorkingHours
from schemas.client_security import KafkaClientSecurity
from schemas.locale_settings import LocaleSettings
from schemas.reference.registry import Registry, load_registry

log = logging.getLogger(__name__)

# Development-only secrets: a worker started with them says so loudly.
DEV_PSEUDONYM_SECRET = "dev-only-pseudonym-secret-change-me"
DEV_SEALING_KEY = "ZGV2LW9ubHktc2VhbGluZy1rZXktY2hhbmdlLW1lISE="
DEV_API_SECRET = "dev-only-api-secret-change-me"
DEV_OPERATOR_TOKEN = "dev-only-operator-token-change-me"
BROKER_URL_FILE = "broker.url"
TOOL_LOG_FILE = "hub.log"  # in the data dir: the command-line tools' library logs
# The checkout (or install) the hub runs from: the default data dir is there, so `hub dlq`
# run from another folder finds the embedded broker that `hub dev` started.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """A setting a command needs is missing: it stops with this one line."""


class HubSettings(KafkaClientSecurity, LocaleSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    broker: str = Field(
        default="",
        description="Kafka bootstrap servers (host:port,...); empty: the embedded broker "
        "whose address `hub broker` wrote to <data_dir>/broker.url",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".hub", description="State, logs and the embedded broker's "
        "address (broker.url); default: .hub in the project's root, whatever the working "
        "directory"
    )
    broker_kind: Literal["auto", "kafka", "embedded"] = Field(
        default="auto", description="The broker `hub broker`, `hub dev`, the tests and the "
        "benchmarks start on this machine: Apache Kafka where Java 17+ and Maven are present "
        "(auto), or forced either way"
    )
    kafka_version: str = Field(default="4.1.1", description="Apache Kafka run on this machine")
    kafka_cache_dir: Path = Field(
        default=Path("~/.cache/consortium-hub"), description="Where Maven's copy of Kafka's "
        "jars is kept (deploy/kafka/runtime/pom.xml resolves them on first use)"
    )
    kafka_heap_mb: int = Field(default=512, ge=128, description="Heap of a local Kafka node")
    app_id: str = "consortium-hub"
    registry_file: Path | None = None
    items_file: Path | None = Field(default=None, description="Item catalogue; None: shipped")
    pseudonym_secret: SecretStr = SecretStr(DEV_PSEUDONYM_SECRET)
    sealing_key: SecretStr = Field(
        default=SecretStr(DEV_SEALING_KEY), description="Fernet key sealing personal fields"
    )
    api_secret: SecretStr = Field(
        default=SecretStr(DEV_API_SECRET), description="Derives members' API tokens"
    )
    operator_token: SecretStr = Field(
        default=SecretStr(DEV_OPERATOR_TOKEN), description="Operators' credential: the "
        "dashboard's sign-in password, and the bearer token for /metrics and the reporting "
        "figures (Prometheus sends it)"
    )
    public_url: str = Field(
        default="", description="The address members' doctors reach the workers' web port "
        "at (the ingress), for the card page link; empty: http://<web_host>:<web_port>"
    )
    store: str = Field(default="memory://", description="memory:// or rocksdb://")
    fault_kill_after_store_write: str = Field(
        default="", description="Tests only: SIGKILL the worker right after a local write to "
        "this table whose outputs are not yet acknowledged (tests/runtime/test_store_rollback.py)"
    )
    rocksdb_write_buffer_mb: int = Field(
        default=8, ge=1, description="RocksDB memtable per table partition (Faust: 64, x3)"
    )
    rocksdb_block_cache_mb: int = Field(
        default=16, ge=1, description="RocksDB read cache per table partition (Faust: 2,048)"
    )
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    grafana_url: str = Field(
        default="", description="The consortium-wide Grafana dashboard the operators' page "
        "links to (deploy/grafana; e.g. http://127.0.0.1:3000/d/consortium-hub)"
    )
    member_partitions: int = Field(
        default=8, ge=1, description="Partitions of each member's in. and out. topics. As "
        "many as the internal topics' (8): an event the SDK keys onto its home partition is "
        "handled where it lands, with no second hop; with any other count every event is "
        "forwarded through the internal topics"
    )
    session_timeout: float = Field(
        default=6.0, ge=6.0, description="Consumer group session timeout: how long a "
        "SIGKILLed worker keeps its partitions (static membership) before another takes "
        "over; 6 s is the least Kafka accepts (group.min.session.timeout.ms)"
    )
    table_standby_replicas: int = Field(
        default=1, ge=0, description="Standby copies of each table partition other workers "
        "keep up to date (Faust's table_standby_replicas): a worker taking over a dead one's "
        "partitions finds their tables already restored (the 7.8 s failover was measured "
        "with 1)"
    )
    ack_accepted: bool = Field(default=True, description="Send ACCEPTED feedback per event")
    dedup_retention_days: int = 7
    clock_skew_seconds: float = Field(
        default=300.0, ge=0, description="How far a member's clock may run ahead of the "
        "hub's: an event time or date later than the hub's clock by more is refused "
        "(FUTURE_DATE)"
    )
    clock_offset_seconds: float = Field(
        default=0.0, description="Shifts the hub's clock (tests and drills only)"
    )
    producer_linger_ms: int = Field(
        default=0, ge=0, description="aiokafka's linger: 5 ms cost the mix 12 ms at the "
        "median (two hops) and bought 5% throughput at saturation"
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="The worker's event loop (uvloop: less per-event cost)"
    )
    empty_fetch_backoff_ms: float = Field(
        default=0.0, description="Pause after an empty fetch: for the embedded broker only, "
        "which answers one at once (its launcher sets 5; see hub/runtime/patches/fetch_backoff.py)"
    )
    prefetch_backoff_ms: float = Field(
        default=10.0, gt=0, description="How long fetched records that wait to be taken "
        "hold back the next fetch from their broker "
        "(aiokafka: 100; hub/runtime/patches/fetch_backoff.py)"
    )
    fetch_max_wait_ms: int = Field(
        default=20, gt=0, description="How long Kafka may hold a fetch that finds no data "
        "(Faust: 1,500): a partition with a message arriving meanwhile waits that long "
        "(hub/runtime/patches/fetch_backoff.py)"
    )
    group_instance_id: str | None = Field(
        default=None,
        description="Static group membership (KIP-345): a restarted worker with the same id "
        "takes its predecessor's place at once instead of waiting for it to expire; "
        "default <host>-<web port>, stable across restarts, distinct side by side",
    )
    disabled_patches: set[
        Literal["fetch_backoff", "group_leave", "commit_guard", "fetch_order", "commit_repair",
                "topic_create_retry", "store_rollback", "table_start"]
    ] = Field(default_factory=set, description="Patches of Faust's and aiokafka's internals "
              'left out, as JSON (\'["fetch_order"]\'): to judge one on a broker, never in '
              "production (their verdicts: docs/architecture.md)")
    commit_interval: float = Field(default=2.8, description="Seconds between offset commits")
    heap_trim_interval_s: float = Field(
        default=10.0, ge=0, description="How often the worker looks whether to "
        "hand freed heap back (hub/process/heap_trim.py; 0: never)"
    )
    heap_trim_growth_mb: int = Field(
        default=64, ge=1, description="How far the resident size moves, up or down, from "
        "what the last trim left before the worker trims again (hub/process/heap_trim.py)"
    )
    producer_compression: str | None = Field(default=None, description="e.g. gzip, lz4")
    replication_factor: int = Field(default=1, description="3 on a production cluster")
    connect_timeout_s: float = Field(
        default=6.0, gt=0, description="How long the tools (`hub dlq`, `hub topics`) wait "
        "for an unreachable broker before they give up with one line"
    )
    log_json: bool | None = Field(default=None, description="None: JSON when not on a terminal")
    log_level: str = "INFO"
    log_outage_reminder_s: float = Field(
        default=30.0, gt=0, description="While a broker is unreachable, how often the "
        "worker's log repeats that it still is (hub/process/outages.py)"
    )
    log_outage_quiet_s: float = Field(
        default=5.0, gt=0, description="Seconds without a broker connection error after "
        "which the worker's log says the outage ended"
    )
    # Recognition (result index and decision counts)
    recognition_keep_per_item: int = Field(
        default=3, description="Newest results kept per patient and item"
    )
    recognition_late_order_days: int = Field(
        default=30, description="Results kept past their window, for orders uploaded late"
    )
    recognition_ledger_days: int = Field(
        default=90, description="How long an order is remembered for its decision"
    )
    # Pharmacy (ledgers, shortages, dispatch, trace codes)
    formulary_file: Path | None = Field(default=None, description="formulary.toml; None: shipped")
    pharmacy_use_window_days: int = Field(
        default=30, ge=1, description="Days of dispensing behind the average daily use"
    )
    pharmacy_transfer_hold_days: int = Field(
        default=3, ge=1, description="Days a donor's stock stays set aside for a suggested transfer"
    )
    pharmacy_trace_retention_days: int = Field(
        default=180, ge=1, description="How long dispensed trace codes are remembered"
    )
    pharmacy_utc_offset_hours: float = Field(
        default=8.0, description="Offset of the consortium's calendar day from UTC"
    )
    # Reporting (notifiable disease cards, deadline watchdog)
    diseases_file: Path | None = Field(default=None, description="diseases.toml; None: shipped")
    local_diagnosis_codes_file: Path | None = Field(
        default=None, description="Members' local diagnosis codes (CSV), published to the "
        "connectors with the other reference files; None: shipped"
    )
    reporting_watchdog_seconds: float = Field(
        default=30.0, gt=0, description="How often open cases are checked against deadlines"
    )
    reporting_case_retention_days: int = Field(
        default=1096, ge=1, description="How long a case is remembered after it was last seen"
    )
    # Two-way referral (deadline watchdog, closed referrals)
    referral_sweep_seconds: float = Field(
        default=60.0, gt=0, description="How often the open referrals a worker owns are "
        "checked against their deadlines and timed steps (escalation, no-show expiry)"
    )
    referral_closed_retention_days: int = Field(
        default=90, ge=1, description="How long a closed referral stays in the "
        "`referral-tasks` table after it closed: a quarter of the office's figures"
    )
    # Remote diagnosis (hub/agents/remote_read.py; docs/remote-diagnosis.md)
    read_limits_file: Path | None = Field(
        default=None, description="The report time limits per modality, priority and "
        "setting (a TOML file like schemas/reference/read_limits.toml); None: shipped"
    )
    critical_ack_minutes: int = Field(
        default=15, ge=1, description="How long the ordering member has to acknowledge a "
        "delivered critical value with its read-back before it escalates"
    )
    remote_read_sweep_seconds: float = Field(
        default=30.0, gt=0, description="How often the open read requests and critical "
        "values a worker owns are checked against their deadlines"
    )
    remote_read_closed_retention_days: int = Field(
        default=400, ge=1, description="How long a closed read request or critical value "
        "stays in its table: the register and the figures cover a year"
    )
    # Working time (schemas/reference/calendar/, hub.rules.worktime)
    calendar_dir: Path | None = Field(
        default=None, description="Folder of the working calendar's year files (2026.toml...); "
        "None: shipped"
    )
    working_hours: str = Field(
        default=DEFAULT_WORKING_HOURS, description="The periods of a working day that "
        "working-hours limits count, HH:MM-HH:MM separated by commas (lunch not counted)"
    )

    @field_validator("working_hours")
    @classmethod
    def _working_hours(cls, text: str) -> str:
        WorkingHours.parse(text)
        return text
    # Retention (docs/deployment.md, "Retention")
    state_sweep_interval_s: float = Field(
        default=6 * 3600.0, gt=0, description="How often a worker drops the expired results, "
        "orders and cases of the patients it owns (hub/agents/state_expiry.py); the rules "
        "also prune a patient whenever they write it"
    )

    def broker_servers(self) -> str:
        if self.broker:
            return self.broker.removeprefix("kafka://")
        url_file = self.data_dir / BROKER_URL_FILE
        if url_file.exists():
            return url_file.read_text().strip()
        raise SettingsError(
            "no broker: set HUB_BROKER or start the embedded one with `hub broker`"
        )

    def rocksdb_options(self) -> dict[str, int]:
        """Options for each table's RocksDB databases (one per partition). Faust's defaults
        allow 192 MB of memtables and a 2 GB block cache per partition: a worker holding
        eight partitions of a 10M-result index grew past 3 GB while recovering it."""
        mb = 1024 * 1024
        return {
            "write_buffer_size": self.rocksdb_write_buffer_mb * mb,
            "max_write_buffer_number": 2,
            "block_cache_size": self.rocksdb_block_cache_mb * mb,
            "block_cache_compressed_size": self.rocksdb_block_cache_mb * mb,
        }

    def consumer_instance_id(self) -> str:
        return self.group_instance_id or f"{socket.gethostname()}-{self.web_port}"

    def faust_broker_url(self) -> str:
        """Faust's broker URL; a placeholder when none is configured yet (the worker
        command checks `broker_servers()` before it starts)."""
        try:
            servers = self.broker_servers()
        except RuntimeError:
            servers = "127.0.0.1:9092"
        return ";".join(f"kafka://{s}" for s in servers.split(","))

    def web_url(self) -> str:
        """Where people reach the web port (the card page link's base)."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    def load_registry(self) -> Registry:
        return load_registry(self.registry_file)

    def warn_dev_secrets(self) -> None:
        dev = {
            "HUB_PSEUDONYM_SECRET": (
                self.pseudonym_secret.get_secret_value() == DEV_PSEUDONYM_SECRET
            ),
            "HUB_SEALING_KEY": self.sealing_key.get_secret_value() == DEV_SEALING_KEY,
            "HUB_API_SECRET": self.api_secret.get_secret_value() == DEV_API_SECRET,
            "HUB_OPERATOR_TOKEN": self.operator_token.get_secret_value() == DEV_OPERATOR_TOKEN,
        }
        for name, is_dev in dev.items():
            if is_dev:
                log.warning("%s is the development default: set it before real use", name)


@lru_cache(maxsize=1)
def get_settings() -> HubSettings:
    return HubSettings()
