"""The operators' page says whose figures it shows (issue 16): one worker's, which
partitions, and where the consortium-wide view is. No broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from hub.web.dashboard.scope import scope

STATIC = Path(__file__).resolve().parents[2] / "hub" / "web" / "dashboard" / "static"
STARTED = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)


class TP(NamedTuple):
    topic: str
    partition: int


INTERNAL = ("hub.results", "hub.orders", "hub.diagnoses", "hub.stock", "hub.referrals",
            "hub.remote-reads")


def test_a_worker_holding_half_the_partitions_says_it_shows_a_part() -> None:
    half = [TP(t, p) for t in INTERNAL for p in range(4)] + [TP("in.lead", 0),
                                                            TP("hub-tables-changelog", 1)]
    found = scope("host-a-6066", STARTED, half, 4, "")
    assert found["all_partitions"] is False
    stock = next(row for row in found["partitions"] if row["topic"] == "hub.stock")
    assert (stock["held"], stock["of"]) == ([0, 1, 2, 3], 8)
    ingress = next(row for row in found["partitions"] if row["topic"] == "in.*")
    assert (ingress["count"], ingress["of"]) == (1, 4)
    summary = found["summary"]
    assert "host-a-6066" in summary and "hub.stock 4/8" in summary
    assert "只是医联体的一部分" in summary and "Grafana（deploy/grafana）" in summary
    assert "2026-03-12 10:00 +08:00" in summary  # the start, in HUB_TIMEZONE


def test_a_worker_holding_everything_still_names_itself_and_grafana() -> None:
    everything = [TP(t, p) for t in INTERNAL for p in range(8)] + [TP("in.lead", p)
                                                                  for p in range(2)]
    url = "http://127.0.0.1:3000/d/consortium-hub"
    found = scope("host-b-6066", STARTED, everything, 2, url)
    assert found["all_partitions"] is True and found["grafana_url"] == url
    assert "持有全部分区" in found["summary"] and url in found["summary"]


def test_the_page_says_so_before_its_data_arrives() -> None:
    html = (STATIC / "dashboard.html").read_text("utf-8")
    assert 'id="scope"' in html and "deploy/grafana" in html
    script = (STATIC / "app.js").read_text("utf-8")
    assert "renderScope(data.scope)" in script
