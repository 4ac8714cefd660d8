"""The reference data a connector maps with (items and local codes, formulary, local
diagnosis codes, members, diseases), following `hub.reference`: a background thread reads
the topic from its beginning, then keeps following it, and swaps the whole set at once when
a new version arrives (`current` is one immutable `ReferenceData`; a message is mapped with
the set it started with). A version that does not load is refused: the connector keeps the
one it has, logs it and counts it. Until the topic answers, the packaged files are used
(HUB_REGISTRY_FILE and HUB_LOCAL_DIAGNOSIS_CODES_FILE where set), and the metric says so:

    connector_reference_version{kind="items.toml",version="3f2a…",source="topic"} 1
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from connectors import metrics
from connectors.settings import ConnectorSettings
from schemas.reference.messages import DEFAULT_LOCALE, Locale
from schemas.reference.published import (
    LOCAL_DIAGNOSIS_CODES,
    MEMBERS,
    PublishedFile,
    ReferenceData,
    packaged_files,
)
from schemas.topics import REFERENCE

log = logging.getLogger(__name__)
TOPIC, LOCAL = "topic", "local"


def local_reference(settings: ConnectorSettings) -> ReferenceData:
    """The packaged files, with this connector's own registry and diagnosis codes if set."""
    paths = packaged_files()
    for kind, path in ((MEMBERS, settings.registry_file),
                       (LOCAL_DIAGNOSIS_CODES, settings.local_diagnosis_codes_file)):
        if path is not None:
            paths[kind] = path
    return ReferenceData.from_paths(paths)


def _decode(values: Iterable[bytes | None]) -> list[PublishedFile]:
    files = []
    for value in values:
        if value is None:
            continue
        try:
            files.append(PublishedFile.from_bytes(value))
        except ValueError as exc:
            metrics.REFERENCE_REFUSED.labels("?").inc()
            log.error("参考数据主题上有无法解析的记录，已忽略：%s", exc)
    return files


class ReferenceFollower:
    """The current reference set of one connector process."""

    def __init__(self, local: ReferenceData, bootstrap: str | None = None,
                 security: Mapping[str, str] | None = None, *, retry_seconds: float = 5.0,
                 connect_timeout: float = 5.0, locale: Locale = DEFAULT_LOCALE) -> None:
        self._current = local
        self.locale = locale
        self._from_topic: set[str] = set()
        self.bootstrap = bootstrap
        self.security = dict(security or {})
        self.retry_seconds = retry_seconds
        self.connect_timeout = connect_timeout
        self.connected = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._show()

    @property
    def current(self) -> ReferenceData:
        """The set in use; while a started follower has not yet read the topic (or found it
        unreachable), a caller waits for that, at most `connect_timeout`."""
        if self._thread is not None and not self._ready.is_set():
            self._ready.wait(self.connect_timeout)
        return self._current

    def source(self, kind: str) -> str:
        return TOPIC if kind in self._from_topic else LOCAL

    def apply(self, files: Iterable[PublishedFile]) -> list[str]:
        """Take these versions (all at once if the set loads so, else one by one); the
        kinds swapped. A version that does not load is refused and the old one kept."""
        files = [f for f in files if self._current.files.get(f.kind) != f]
        if not files:
            return []
        with self._lock:
            before = self._current
            try:
                self._current = before.build({**before.files, **{f.kind: f for f in files}})
            except ValueError:
                self._refuse(self._apply_each(files))
            swapped = [k for k, f in self._current.files.items() if before.files.get(k) != f]
            self._from_topic.update(swapped)
        for kind in swapped:
            new, old = self._current.files[kind], before.files.get(kind)
            if old is not None and old.digest == new.digest:
                log.info("参考数据 %s 版本 %s 与 %s 上发布的一致", kind, new.version,
                         REFERENCE.name)
                continue
            log.info("参考数据 %s 已切换到版本 %s（%s 发布，%s），原版本 %s", kind, new.version,
                     new.published_by,
                     self.locale.time(new.published_at) if new.published_at else "-",
                     old.version if old else "-")
        self._show()
        return swapped

    def _apply_each(self, files: list[PublishedFile]) -> dict[PublishedFile, ValueError]:
        """Take what loads, file by file, again while one more loads; what never did."""
        failed: dict[PublishedFile, ValueError] = {}
        pending = files
        while pending:
            failed = {}
            for file in pending:
                try:
                    self._current = self._current.with_file(file)
                except ValueError as exc:
                    failed[file] = exc
            if len(failed) == len(pending):
                break
            pending = list(failed)
        return failed

    def _refuse(self, failed: Mapping[PublishedFile, ValueError]) -> None:
        for file, exc in failed.items():
            metrics.REFERENCE_REFUSED.labels(file.kind).inc()
            kept = self._current.files.get(file.kind)
            log.error("参考数据 %s 版本 %s（%s 发布）无法加载，继续使用版本 %s：%s", file.kind,
                      file.version, file.published_by, kept.version if kept else "-", exc)

    def _show(self) -> None:
        metrics.REFERENCE_VERSION.clear()
        for kind, version in self._current.versions().items():
            metrics.REFERENCE_VERSION.labels(kind, version, self.source(kind)).set(1)
        metrics.REFERENCE_TOPIC_CONNECTED.set(1 if self.connected else 0)

    # Following the topic
    def start(self) -> ReferenceFollower:
        self._thread = threading.Thread(target=self._run, name="reference", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the topic was read to its end, or found unreachable (then the local
        files stay in use); True if read."""
        self._ready.wait(timeout)
        self._ready.set()  # waited enough: from now on `current` never waits
        if not self.connected:
            log.warning("参考数据主题 %s 不可达，使用随连接器安装的参考数据（版本 %s）",
                        REFERENCE.name,
                        ", ".join(f"{k}={v}" for k, v in self._current.versions().items()))
        return self.connected

    def stop(self) -> None:
        self._stop.set()
        self._ready.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as exc:  # whatever it is, the connector maps on with what it has
                if not warned or not isinstance(exc, KafkaError):
                    log.warning("参考数据主题 %s 不可达：%s；%s 秒后重试", REFERENCE.name, exc,
                                self.retry_seconds)
                    warned = True
            self.connected = False
            self._show()
            self._ready.set()
            self._stop.wait(self.retry_seconds)

    def _follow(self) -> None:
        assert self.bootstrap is not None
        consumer = reference_consumer(self.bootstrap, self.security, self.connect_timeout)
        try:
            latest = read_to_end(consumer)
            self.connected = True
            self.apply(latest.values())
            self._show()
            self._ready.set()
            log.info("参考数据主题 %s 已读到末尾，继续跟随", REFERENCE.name)
            while not self._stop.is_set():
                batch = consumer.poll(500)
                self.apply(_decode(r.value for rs in batch.values() for r in rs))
        finally:
            consumer.close()


def reference_consumer(bootstrap: str, security: Mapping[str, str],
                       connect_timeout: float) -> KafkaConsumer:
    """A consumer of the reference topic (no group: every connector reads all of it)."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap, "enable_auto_commit": False,
        "client_id": "connector-reference", "bootstrap_timeout_ms": int(connect_timeout * 1000),
    }
    return KafkaConsumer(**config, **security)


def read_to_end(consumer: KafkaConsumer, timeout: float = 30.0) -> dict[str, PublishedFile]:
    """Read the reference topic from its beginning to its end: the newest of each kind.
    The consumer stays assigned, to follow on."""
    deadline = time.monotonic() + timeout
    ids = consumer.partitions_for_topic(REFERENCE.name)
    if not ids:
        raise KafkaError(f"no topic {REFERENCE.name}")
    partitions = [TopicPartition(REFERENCE.name, p) for p in sorted(ids)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    backlog: list[PublishedFile] = []
    while any(consumer.position(tp) < end for tp, end in ends.items()):
        if time.monotonic() > deadline:
            raise KafkaError(f"{REFERENCE.name} not read to its end in {timeout:g} s")
        backlog += _decode(r.value for rs in consumer.poll(500).values() for r in rs)
    return {f.kind: f for f in backlog}


def follow_reference(settings: ConnectorSettings) -> ReferenceFollower:
    """The follower of a connector command (the broker is HUB_BROKER), not yet started."""
    return ReferenceFollower(local_reference(settings), settings.broker_servers(),
                             settings.kafka_client_config(),
                             connect_timeout=settings.reference_wait_seconds,
                             locale=settings.locale())
