"""Reading a member's own feedback topic: advice, reportability responses, rejections."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaConsumer

from schemas.codec import AvroCodec, CodecError
from schemas.models import Event
from schemas.topics import feedback_topic


class FeedbackReader:
    """Follows `out.<member>` in a consumer group of the member's own, so a restarted
    reader resumes where it stopped. Event ids already seen are dropped."""

    def __init__(
        self,
        bootstrap: str,
        member_id: str,
        *,
        group_id: str | None = None,
        from_beginning: bool = True,
        codec: AvroCodec | None = None,
        security: Mapping[str, str] | None = None,
        metadata_wait: float = 30.0,
        **consumer_config: Any,
    ) -> None:
        self.member_id = member_id
        self.codec = codec or AvroCodec()
        self._seen: set[str] = set()
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": group_id or f"member-{member_id}-feedback",
            "auto_offset_reset": "earliest" if from_beginning else "latest",
            "enable_auto_commit": True,
            "client_id": f"member-{member_id}-feedback",
        }
        config.update(security or {})
        config.update(consumer_config)
        self.consumer = KafkaConsumer(**config)
        # Learn the topic's partitions before joining: a group leader whose metadata lacks
        # them (a topic just created) assigns nothing, and kafka-python may never rejoin.
        topic = feedback_topic(member_id)
        deadline = time.monotonic() + metadata_wait
        while not self.consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.consumer.subscribe([topic])

    def poll(self, timeout: float = 1.0) -> list[Event]:
        batches = self.consumer.poll(timeout_ms=int(timeout * 1000))
        events: list[Event] = []
        for records in batches.values():
            for record in records:
                try:
                    event = self.codec.decode(record.value)
                except CodecError:
                    continue  # written by a newer hub: upgrade the SDK to read it
                if event.envelope.event_id in self._seen:
                    continue
                self._seen.add(event.envelope.event_id)
                events.append(event)
        return events

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield from self.poll()

    def close(self) -> None:
        self.consumer.close()
