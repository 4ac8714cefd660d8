"""How any client of the consortium's Kafka authenticates: the hub's workers and tools, and
every member's connectors. A production cluster listens SASL_SSL with one SCRAM user per
member (see deploy/); the embedded broker is PLAINTEXT. Settings classes inherit this, so
both read the same `HUB_KAFKA_*` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings


class KafkaClientSecurity(BaseSettings):
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates"
    )

    def kafka_client_config(self) -> dict[str, str]:
        """Security options for kafka-python (and aiokafka) clients."""
        protocol = self.kafka_security_protocol.upper()
        config = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            config["sasl_mechanism"] = self.kafka_sasl_mechanism
            config["sasl_plain_username"] = self.kafka_sasl_username
            config["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if protocol.endswith("SSL") and self.kafka_ssl_cafile is not None:
            config["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return config
