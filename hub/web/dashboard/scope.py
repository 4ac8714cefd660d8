"""Whose figures the operators' page shows: this worker's, and the page says so.

Counters (events in and out, dead letters by reason, orders placed) are this process's
since it started; tables (open cases, shortages, transfers, orders) and the consumer lag
cover only the partitions it holds. With two workers each page shows about half. The
consortium-wide view is Grafana (deploy/grafana), which sums every worker's /metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from schemas.reference.messages import DEFAULT_LOCALE, Locale, text
from schemas.topics import INGRESS_PREFIX, INTERNAL_PARTITIONS, INTERNAL_ROUTES

JsonDict = dict[str, Any]
INTERNAL_NAMES = sorted({spec.name for spec in INTERNAL_ROUTES.values()})
GRAFANA_FILES = "deploy/grafana"


class TopicPartitionLike(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


def held_partitions(assigned: Iterable[TopicPartitionLike], ingress_total: int
                    ) -> list[JsonDict]:
    """Per internal topic, and for the members' ingress topics together, the partitions
    this worker holds and how many there are."""
    held: dict[str, set[int]] = {name: set() for name in INTERNAL_NAMES}
    ingress = 0
    for tp in assigned:
        if tp.topic in held:
            held[tp.topic].add(tp.partition)
        elif tp.topic.startswith(INGRESS_PREFIX):
            ingress += 1
    rows: list[JsonDict] = [
        {"topic": name, "held": sorted(parts), "count": len(parts), "of": INTERNAL_PARTITIONS}
        for name, parts in held.items()
    ]
    rows.append({"topic": f"{INGRESS_PREFIX}*", "held": [], "count": ingress,
                 "of": ingress_total})
    return rows


def scope(worker: str, started_at: datetime, assigned: Iterable[TopicPartitionLike],
          ingress_total: int, grafana_url: str, locale: Locale = DEFAULT_LOCALE) -> JsonDict:
    """The page's scope: which worker, since when, which partitions, and where the
    consortium-wide figures are."""
    partitions = held_partitions(assigned, ingress_total)
    whole = all(row["count"] == row["of"] for row in partitions)
    held = ", ".join(f"{row['topic']} {row['count']}/{row['of']}" for row in partitions)
    summary = locale.say("scope.summary", worker=worker, since=started_at, held=held,
                         part=text("scope.all" if whole else "scope.part"),
                         grafana=grafana_url or GRAFANA_FILES)
    return {
        "worker": worker, "started_at": started_at.isoformat(), "partitions": partitions,
        "all_partitions": whole, "grafana_url": grafana_url or None,
        "grafana_files": GRAFANA_FILES, "summary": summary,
    }
