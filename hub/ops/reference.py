"""Publishing the reference data to the connectors: `hub reference publish` writes each
file the hub is configured with (HUB_REGISTRY_FILE, HUB_ITEMS_FILE, HUB_FORMULARY_FILE,
HUB_DISEASES_FILE, HUB_LOCAL_DIAGNOSIS_CODES_FILE; the shipped file for the others) whose
content differs from what `hub.reference` holds; the worker does the same at start.
`hub reference status` shows the published versions. The whole set is loaded and checked
before anything is written: a file that does not load is never published."""

from __future__ import annotations

import getpass
import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from hub.ops.topic_admin import unreachable
from hub.settings import HubSettings, get_settings
from schemas.reference.formulary import catalogue_path
from schemas.reference.published import (
    DISEASES,
    DRUG_CATALOGUE,
    FORMULARY,
    ITEMS,
    LOCAL_DIAGNOSIS_CODES,
    MEMBERS,
    PublishedFile,
    ReferenceData,
    digest_of,
    packaged_files,
)
from schemas.topics import REFERENCE

log = logging.getLogger(__name__)


def configured_files(settings: HubSettings) -> dict[str, Path]:
    """The file of each kind this hub uses: its setting, else the shipped one."""
    files = packaged_files()
    chosen = {MEMBERS: settings.registry_file, ITEMS: settings.items_file,
              DISEASES: settings.diseases_file, FORMULARY: settings.formulary_file,
              LOCAL_DIAGNOSIS_CODES: settings.local_diagnosis_codes_file}
    if settings.formulary_file is not None:
        chosen[DRUG_CATALOGUE] = catalogue_path(settings.formulary_file)
    files.update({kind: path for kind, path in chosen.items() if path is not None})
    return files


def read_published(servers: str, settings: HubSettings) -> dict[str, PublishedFile]:
    """The newest record of each kind on the reference topic."""
    timeout_ms = int(settings.connect_timeout_s * 1000)
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                             bootstrap_timeout_ms=timeout_ms, client_id="hub-reference",
                             **settings.kafka_client_config())
    try:
        partitions = [TopicPartition(REFERENCE.name, p) for p in
                      sorted(consumer.partitions_for_topic(REFERENCE.name) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        published: dict[str, PublishedFile] = {}
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise KafkaError(f"{REFERENCE.name} not read to its end in 30 s")
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        file = PublishedFile.from_bytes(record.value)
                    except ValueError as exc:
                        log.warning("reference record at offset %d unreadable: %s",
                                    record.offset, exc)
                        continue
                    published[file.kind] = file
        return published
    finally:
        consumer.close()


def publisher_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "hub"
    return f"{user}@{socket.gethostname()}"


def publish_changed(servers: str, settings: HubSettings, by: str) -> list[PublishedFile]:
    """Publish every configured file whose digest differs from the topic's; ValueError if
    the configured set does not load (then nothing is written)."""
    paths = configured_files(settings)
    ReferenceData.from_paths(paths)
    published = read_published(servers, settings)
    now = datetime.now(UTC)
    changed = []
    for kind, path in paths.items():
        content = path.read_bytes()
        current = published.get(kind)
        if current is None or current.digest != digest_of(content):
            changed.append(PublishedFile.of(kind, content, by, now))
    if not changed:
        return []
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", client_id="hub-reference",
                             bootstrap_timeout_ms=int(settings.connect_timeout_s * 1000),
                             **settings.kafka_client_config())
    try:
        for file in changed:
            producer.send(REFERENCE.name, key=file.key, value=file.to_bytes()).get(30)
    finally:
        producer.close()
    for file in changed:
        log.info("reference %s version %s published by %s", file.kind, file.version, by)
    return changed


def publish_on_start(servers: str, settings: HubSettings) -> None:
    """At worker start: the topic follows the worker's files (a failure is logged; the
    worker still runs, the connectors keep the versions they have)."""
    try:
        publish_changed(servers, settings, f"worker {publisher_name()}")
    except (KafkaError, OSError, ValueError) as exc:
        log.error("reference data not published at start: %s", exc)


@click.group("reference")
def reference() -> None:
    """Reference data (members, items, formulary, diseases, local codes) for the connectors."""


@reference.command("publish")
def publish_command() -> None:
    """Publish the configured reference files that differ from the topic's."""
    settings = get_settings()
    say = settings.locale().say
    servers = settings.broker_servers()
    try:
        changed = publish_changed(servers, settings, publisher_name())
    except ValueError as exc:
        raise click.ClickException(say("reference.invalid", error=exc)) from exc
    except KafkaError as exc:
        raise click.ClickException(unreachable(servers, exc)) from exc
    for file in changed:
        assert file.published_at is not None
        click.echo(say("reference.published", kind=file.kind, version=file.version,
                       by=file.published_by, at=file.published_at))
    if not changed:
        click.echo(say("reference.current"))


@reference.command("status")
def status_command() -> None:
    """The published version of each reference file, beside the hub's configured file."""
    settings = get_settings()
    locale = settings.locale()
    servers = settings.broker_servers()
    try:
        published = read_published(servers, settings)
    except KafkaError as exc:
        raise click.ClickException(unreachable(servers, exc)) from exc
    for kind, path in sorted(configured_files(settings).items()):
        file = published.get(kind)
        local = digest_of(path.read_bytes())[:12]
        if file is None:
            click.echo(f"{kind:28} {locale.say('reference.not_published')}  hub: {local}")
            continue
        when = locale.time(file.published_at) if file.published_at else "-"
        mark = "=" if file.version == local else "≠"
        click.echo(f"{kind:28} {file.version}  {when}  {file.published_by}  "
                   f"{mark} hub: {local}")
