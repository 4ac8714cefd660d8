"""Every setting of a member's connectors, in one place. Environment variables carry the
`HUB_` prefix (HUB_BROKER, HUB_MEMBER_ID, HUB_MLLP_PORT, ...). One connector process runs
at one member, so one process has one `member_id`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.client_security import KafkaClientSecurity
from schemas.locale_settings import LocaleSettings
from schemas.reference.registry import load_registry


class SettingsError(RuntimeError):
    """A setting the command needs is missing or wrong: the command stops with this one
    line, before it connects to anything."""


class FeedbackTarget(StrEnum):
    MLLP = "mllp"
    FHIR = "fhir"


class ConnectorSettings(KafkaClientSecurity, LocaleSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    broker: str = Field(default="", description="Kafka bootstrap servers (host:port,...)")
    member_id: str = Field(default="", description="The member this connector runs at")
    registry_file: Path | None = Field(
        default=None, description="The consortium's member registry; None: the shipped one"
    )
    reference_wait_seconds: float = Field(
        default=5.0, gt=0, description="How long a connector waits at start to read the "
        "reference topic (hub.reference) before it maps with its packaged reference files"
    )
    publish_timeout: float = Field(
        default=15.0, description="Seconds to wait for Kafka to acknowledge a write"
    )
    clock_skew_seconds: float = Field(
        default=300.0, ge=0, description="How far an event time may be ahead of this "
        "connector's clock; later is refused at once (HL7 AE, FHIR 422), as the hub would "
        "refuse it (FUTURE_DATE)"
    )

    # HL7 v2 over MLLP
    mllp_host: str = "0.0.0.0"
    mllp_port: int = 2575
    mllp_max_message_bytes: int = Field(default=4 * 1024 * 1024, description="Larger: refused")
    mllp_idle_timeout: float = Field(
        default=600.0, description="Seconds a silent connection is kept open"
    )
    hl7_default_charset: str = Field(
        default="utf-8", description="Charset of messages whose MSH-18 is empty"
    )
    local_timezone: str = Field(
        default="Asia/Shanghai", description="Zone of HL7/CSV times that carry no offset"
    )

    # FHIR R4
    fhir_host: str = "0.0.0.0"
    fhir_port: int = 8080
    fhir_max_body_bytes: int = 8 * 1024 * 1024

    # Prometheus: the MLLP listener serves /metrics on this port; the FHIR app on its own.
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9465

    # Local state kept at the member (personal data in clear: never copy it off the machine)
    dead_letter_dir: Path = Field(
        default=Path(".hub-connector/dead-letter"),
        description="JSON-lines files of rejected messages, raw text included",
    )
    patient_cache_file: Path = Field(
        default=Path(".hub-connector/patients.sqlite3"),
        description="Demographics from ADT messages, keyed by PID-3 identifier",
    )
    connector_log_file: Path = Field(
        default=Path(".hub-connector/connector.log"),
        description="Where the libraries' logs go (Kafka client, HTTP); the console shows "
        "the connector's own lines",
    )
    local_diagnosis_codes_file: Path | None = Field(
        default=None, description="member,local_code,icd10,name CSV; default: the shipped one"
    )

    # Returning feedback to the member's HIS
    feedback_target: FeedbackTarget = Field(
        default=FeedbackTarget.MLLP, description="HIS 接收反馈的方式：mllp（HL7 v2）或 fhir"
    )
    feedback_mllp_host: str = Field(default="127.0.0.1", description="HIS 的 MLLP 监听地址")
    feedback_mllp_port: int = Field(default=2576, description="HIS 的 MLLP 监听端口")
    feedback_fhir_url: str = Field(
        default="", description="Base URL the FHIR resources are POSTed to"
    )
    feedback_hl7_charset: str = Field(
        default="UNICODE UTF-8", description="MSH-18 of the HL7 messages sent to the HIS"
    )
    feedback_skip_statuses: list[str] = Field(
        default_factory=lambda: ["ACCEPTED"],
        description="Feedback statuses not delivered (counted as skipped)",
    )
    feedback_timeout: float = Field(default=10.0, description="等待 HIS 应答的秒数")
    feedback_retry_seconds: float = Field(
        default=5.0, description="Wait before delivering again after the HIS failed"
    )

    def broker_servers(self) -> str:
        if not self.broker:
            raise SettingsError(
                "no broker: set HUB_BROKER to the hub's Kafka bootstrap servers")
        return self.broker.removeprefix("kafka://")

    def require_member(self) -> str:
        if not self.member_id:
            raise SettingsError("no member: set HUB_MEMBER_ID to this member's id")
        return self.member_id

    def require_known_member(self) -> str:
        """The member id, checked against the consortium's registry (as `hub token`
        does): a connector of a member the hub does not know would publish to no topic."""
        member_id = self.require_member()
        try:
            registry = load_registry(self.registry_file)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"无法读取成员注册表 {self.registry_file}：{exc}") from exc
        if registry.get(member_id) is None:
            known = ", ".join(registry.ids)
            raise SettingsError(
                f"成员注册表中没有成员 {member_id!r}（HUB_MEMBER_ID / --member）；"
                f"已登记的成员：{known}")
        return member_id


@lru_cache(maxsize=1)
def get_settings() -> ConnectorSettings:
    return ConnectorSettings()
