"""`hub-connector reference`: which reference version a running connector maps with (read
from its /metrics), beside what the hub published on `hub.reference`. A connector that
lags behind the topic (a refused version, or the topic unreachable) shows as ≠."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import click
from kafka.errors import KafkaError

from connectors.member.reference import read_to_end, reference_consumer
from connectors.settings import ConnectorSettings
from schemas.reference.published import PublishedFile

VERSION_LINE = re.compile(r'^connector_reference_version\{(?P<labels>[^}]*)\} 1\.0$', re.M)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def versions_in_use(metrics_text: str) -> dict[str, tuple[str, str]]:
    """kind -> (version, source) from a connector's metrics exposition."""
    used = {}
    for match in VERSION_LINE.finditer(metrics_text):
        labels = dict(LABEL.findall(match["labels"]))
        used[labels["kind"]] = (labels["version"], labels["source"])
    return used


def published_versions(settings: ConnectorSettings) -> dict[str, PublishedFile]:
    consumer = reference_consumer(settings.broker_servers(), settings.kafka_client_config(),
                                  settings.reference_wait_seconds)
    try:
        return read_to_end(consumer)
    finally:
        consumer.close()


def show_status(settings: ConnectorSettings, metrics_url: str) -> None:
    locale = settings.locale()
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as reply:
            used = versions_in_use(reply.read().decode("utf-8"))
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(locale.say("reference.connector_unreachable",
                                              url=metrics_url, error=exc)) from exc
    try:
        published = published_versions(settings) if settings.broker else {}
    except KafkaError:
        published = {}
    for kind in sorted(set(used) | set(published)):
        version, source = used.get(kind, ("-", "-"))
        file = published.get(kind)
        topic = file.version if file else locale.say("reference.not_published")
        when = locale.time(file.published_at) if file and file.published_at else ""
        mark = "=" if file and file.version == version else "≠"
        click.echo(f"{kind:28} {version:12} ({source})  {mark} hub.reference: {topic} {when}")
