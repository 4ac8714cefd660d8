"""Publishing as a member: validated, idempotent, acknowledged by all in-sync replicas."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from schemas.codec import AvroCodec
from schemas.models import Event
from schemas.partitioning import ordering_key
from schemas.topics import ingress_topic

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The event was not durably written: the caller must not acknowledge it upstream."""


class MemberPublisher:
    def __init__(
        self,
        bootstrap: str,
        member_id: str,
        *,
        codec: AvroCodec | None = None,
        timeout: float = 15.0,
        security: Mapping[str, str] | None = None,
        connect: bool = True,
        **producer_config: Any,
    ) -> None:
        self.member_id = member_id
        self.topic = ingress_topic(member_id)
        self.codec = codec or AvroCodec()
        self.timeout = timeout
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 2,
            # A write is retried (a partition's leader moving to another broker takes a
            # few seconds) until `timeout`, not five times (0.5 s, less than a failover);
            # nor does a send wait longer for the topic's metadata (kafka-python: 60 s).
            "delivery_timeout_ms": int(timeout * 1000),
            "request_timeout_ms": min(30_000, int(timeout * 1000) - 100),
            "max_block_ms": int(timeout * 1000),
            "client_id": f"member-{member_id}",
            # A broker that is down is waited for as long as a write, not kafka-python's 30 s.
            "bootstrap_timeout_ms": int(timeout * 1000),
        }
        config.update(security or {})
        config.update(producer_config)
        self._config = config
        self._producer: KafkaProducer | None = None
        self._connecting = threading.Lock()
        if connect:
            self.connect()

    def connect(self) -> bool:
        """Connect to the broker now; False (and a warning) if it is unreachable. A
        listener still starts then, and refuses writes until the broker answers."""
        try:
            self._ensure_producer()
        except PublishError as exc:
            log.warning("Kafka 不可达（%s）：%s；写入前会重试，在此之前写入一律失败",
                        self._config["bootstrap_servers"], exc.__cause__ or exc)
            return False
        return True

    def _ensure_producer(self) -> KafkaProducer:
        with self._connecting:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(**self._config)
                except KafkaError as exc:
                    raise PublishError(f"not written to {self.topic}: {exc}") from exc
            return self._producer

    @property
    def producer(self) -> KafkaProducer:
        """The Kafka producer, connected now if the broker was unreachable before."""
        return self._ensure_producer()

    def encode(self, event: Event) -> bytes:
        if event.envelope.member_id != self.member_id:
            raise PublishError(
                f"publisher of {self.member_id!r} cannot publish as {event.envelope.member_id!r}"
            )
        try:
            checked = type(event).model_validate(event.model_dump())
        except ValidationError as exc:
            raise PublishError(f"{event.avro_name()} is invalid: {exc}") from exc
        return self.codec.encode(checked)

    def publish(self, event: Event) -> None:
        """Write one event and wait until the broker has it."""
        self.publish_many([event])

    def publish_many(self, events: Iterable[Event]) -> int:
        """Write several events, then wait for all; raises if any was not written."""
        encoded = [(ordering_key(e), self.encode(e)) for e in events]
        try:
            futures = [self.producer.send(self.topic, key=key, value=value)
                       for key, value in encoded]
            self.producer.flush(self.timeout)
            for future in futures:
                future.get(timeout=self.timeout)
        except KafkaError as exc:
            raise PublishError(f"not written to {self.topic}: {exc}") from exc
        return len(futures)

    def send_bytes(self, value: bytes, key: bytes | None = None) -> None:
        """Write pre-encoded bytes unchecked (replaying a dead letter, testing the hub)."""
        try:
            self.producer.send(self.topic, key=key, value=value).get(timeout=self.timeout)
        except KafkaError as exc:
            raise PublishError(f"not written to {self.topic}: {exc}") from exc

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.timeout)

    def __enter__(self) -> MemberPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
