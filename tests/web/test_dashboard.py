"""The operators' dashboard: a worker runs the demo morning and its referral loop (what
`hub dev` publishes) plus a doctor's recognition decision; /dashboard/data then holds the
live figures, and the page rendered by a real headless Chromium shows them. The screenshot
is kept in docs/."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from connectors.demo.referral_loop import BED_POOL, LIU, SLOT_POOL, referral_loop
from connectors.demo.script import LI, NO_ID, WANG, ZHANG, morning
from connectors.member.sdk import MemberPublisher
from hub import metrics
from hub.brokers import BaseBroker
from hub.settings import DEV_OPERATOR_TOKEN
from hub.web.dashboard.feeds import Sample, ThroughputHistory
from hub.web.dashboard.flows import case_row
from hub.web.dashboard.views import SILENT_AFTER_SECONDS, member_rows
from schemas.models import RecognitionDecision
from schemas.models.clinical import CaseClassification, Decision
from tests.conftest import WorkerProcess, wait_for
from tests.factories import patient
from tests.rules.test_reporting_rules import T0, Hub, dx

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1400, 1000
SCREENSHOT_COPY = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
PERSONAL = [text for p in (ZHANG, LI, WANG, NO_ID, LIU) for text in (p.name, p.id_number)
            if text]
Data = dict[str, Any]


def _data(worker: WorkerProcess) -> Data:
    status, body = worker.get("/dashboard/data")
    assert status == 200, body
    data: Data = json.loads(body)
    return data


def _reasons(data: Data) -> dict[str, int]:
    return {row["reason"]: row["count"] for row in data["dead_letters"]["by_reason"]}


def _recognition(data: Data, member: str, item: str) -> Data:
    return next((r for r in data["recognition"] if (r["member"], r["item"]) == (member, item)),
                {})


def _referral_states(data: Data) -> dict[str, str]:
    return {row["referral_id"]: row["state"] for member in data["referrals"]["members"]
            for row in member["rows"]}


def _settled(data: Data) -> bool:
    return (_recognition(data, "chc-east", "K").get("recognised") == 1
            and "followed-up" in _referral_states(data).values()
            and {"MEMBER_MISMATCH", "MALFORMED", "DUPLICATE_EVENT"} <= set(_reasons(data))
            and len(data["dead_letters"]["recent"]) >= 3
            and data["reporting"]["cards"]["on_time"] >= 2
            and data["pharmacy"]["open_total"] >= 1
            and data["lag"]["total"] == 0 and len(data["throughput"]["series"]) >= 3)


@pytest.fixture(scope="module")
def demo(broker: BaseBroker, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[WorkerProcess, dict[str, int]]]:
    """A worker that has handled the demo morning; and each member's inputs."""
    data_dir = tmp_path_factory.mktemp("dashboard-worker")
    worker = WorkerProcess(broker.bootstrap, data_dir, {
        "HUB_APP_ID": f"hub-test-{data_dir.name}", "HUB_SESSION_TIMEOUT": "6"}).start()
    publishers: dict[str, MemberPublisher] = {}
    sent: dict[str, int] = {}
    try:
        now = datetime.now(UTC)
        decision = RecognitionDecision(
            envelope=RecognitionDecision.new_envelope("chc-east", occurred_at=now),
            patient=ZHANG, order_id="E-1001", item_code="K", decision=Decision.RECOGNISED)
        last = None
        steps = [(s.member, s.event, s.raw, s.after) for s in morning(now)] + [
            ("chc-east", decision, None, None)] + [
            (s.member, s.event, s.raw, s.after) for s in referral_loop(now)]
        for member, event, raw, after in steps:
            pub = publishers.setdefault(member, MemberPublisher(broker.bootstrap, member))
            if after is not None and member != last:  # another member's topic: wait for it
                wait_for(lambda after=after: _referral_states(_data(worker)).get(
                    after[0]) == after[1])
            last = member
            if raw is not None:
                pub.send_bytes(raw)  # counted in even when it is not an event
            else:
                assert event is not None
                pub.publish(event)
            sent[member] = sent.get(member, 0) + 1
        wait_for(lambda: _settled(_data(worker)), timeout=60)
        yield worker, sent
    finally:
        for pub in publishers.values():
            pub.close()
        worker.kill()


def test_an_open_case_shows_what_its_card_lacks() -> None:
    hub = Hub()
    no_id = patient(id_type=None, id_number=None, name="赵强")
    out = hub.send(dx("vp-hexi", "A15.000", CaseClassification.CLINICAL, patient=no_id))
    [case] = out.state.cases
    row = case_row(case, {"TB": "肺结核"}, T0)
    assert (row["missing"], row["lacks"]) == (["id_number"], ["有效证件号"])
    assert "赵强" not in json.dumps(row, ensure_ascii=False)


def test_member_status_and_throughput_rates() -> None:
    now = 1_900_000_000.0
    metrics.MEMBER_LAST_SEEN.labels("city-tcm").set(now - SILENT_AFTER_SECONDS - 1)
    metrics.MEMBER_LAST_SEEN.labels("vp-dongjie").set(now - 5)
    rows = {row["id"]: row for row in member_rows(now)}
    assert (rows["city-tcm"]["status"], rows["city-tcm"]["seconds_since"]) == (
        "silent", SILENT_AFTER_SECONDS + 1)
    assert (rows["vp-dongjie"]["status"], rows["vp-dongjie"]["seconds_since"]) == ("ok", 5)
    assert rows["vp-shanxia"]["status"] == "never"

    history = ThroughputHistory(keep=2)
    for at, events_in, events_out in ((0.0, 0, 0), (2.0, 10, 4), (4.0, 10, 4), (8.0, 14, 12)):
        history.record(Sample(at, events_in, events_out))
    assert history.rates() == [{"at": 4.0, "in": 0.0, "out": 0.0},
                               {"at": 8.0, "in": 1.0, "out": 2.0}]  # the oldest fell off


@pytest.mark.integration
def test_data_has_the_live_figures(demo: tuple[WorkerProcess, dict[str, int]]) -> None:
    worker, sent = demo
    data = _data(worker)
    assert _settled(data), json.dumps(data, ensure_ascii=False, indent=1)
    members = {m["id"]: m for m in data["members"]}
    assert {m: members[m]["events_in"] for m in sent} == sent
    assert all(members[m]["status"] == "ok" for m in sent)
    assert members["chc-west"]["status"] == "never"  # in the registry, sent nothing
    assert members["chc-west"]["last_event_at"] is None
    assert data["throughput"]["events_in_total"] == sum(sent.values())
    assert data["throughput"]["events_out_total"] > 0
    assert any(p["in"] > 0 for p in data["throughput"]["series"])

    reasons = _reasons(data)
    assert reasons["MEMBER_MISMATCH"] == reasons["MALFORMED"] == 1
    assert data["dead_letters"]["total"] == sum(reasons.values())
    mismatch = next(r for r in data["dead_letters"]["recent"]
                    if r["reason_code"] == "MEMBER_MISMATCH")
    assert mismatch["source_topic"] == "in.vp-hexi" and mismatch["claimed_member"] == "lead"

    assert _recognition(data, "chc-east", "K") | {"item_name": ""} == {
        "member": "chc-east", "item": "K", "item_name": "", "orders": 1, "recognisable": 1,
        "recognised": 1, "retested": 0, "recognisable_rate": 1.0, "recognition_rate": 1.0}
    hba1c = _recognition(data, "chc-east", "HBA1C")
    assert (hba1c["orders"], hba1c["recognisable"], hba1c["recognition_rate"]) == (1, 0, None)

    reporting = data["reporting"]
    assert reporting["open_total"] == sum(reporting["open_by_state"].values())
    assert reporting["open_total"] == len(reporting["open_cases"])
    for case in reporting["open_cases"]:
        assert case["seconds_left"] > 0 and case["state"] == "in_time"
    tb = [c for c in reporting["open_cases"] if c["member"] == "vp-hexi"]
    assert [c["lacks"] for c in tb] == [["有效证件号"]]  # Zhao's TB card has no ID number
    shortage = next(s for s in data["pharmacy"]["open_shortages"] if s["member"] == "thc-river")
    assert shortage["drug_code"] and shortage["short"] > 0 and shortage["on_hand"] >= 0
    ordered = [(s["member"], s["drug_code"], s["order_quantity"])
               for s in data["pharmacy"]["open_shortages"] if s["order_quantity"] > 0]
    assert ordered and sorted((o["member"], o["drug_code"], o["quantity"])
                              for o in data["pharmacy"]["pending_orders"]) == sorted(ordered)
    assert all(o["order"] for o in data["pharmacy"]["pending_orders"])  # its number, not –
    referrals = data["referrals"]  # the demo's loop, closed: nothing open, nothing overdue
    sections = {m["member"]: m for m in referrals["members"]}
    assert sorted(sections) == ["lead", "vp-hexi"]
    assert sorted(r["state_name"] for r in sections["vp-hexi"]["rows"]) == ["已完成", "已随访"]
    assert (referrals["open_total"], referrals["overdue_total"], referrals["escalations"]) == (
        0, 0, [])
    assert [(p["pool_id"], p["below_minimum"], p["booked"]) for p in referrals["pools"]] == [
        (BED_POOL, True, 0), (SLOT_POOL, False, 1)]
    figures = referrals["figures"]
    assert sum(f["upward_arrived"] for f in figures) == sum(
        f["downward_arrived"] for f in figures) == 1
    assert [f["closed_loop_rate"] for f in figures if f["downward_arrived"]] == [1.0]
    reads = data["remote_reads"]  # no read in this story: the board is there, empty
    assert (reads["open_total"], reads["criticals_open"], reads["members"]) == (0, 0, [])
    assert set(reads["figures"]) == {"per_centre", "compliance", "criticals_in_time"}
    scope = data["scope"]  # one worker: it holds every partition, and says whose figures
    assert scope["all_partitions"] is True and scope["worker"] in scope["summary"]
    body = worker.get("/dashboard/data")[1].decode()
    assert [p for p in PERSONAL if p in body] == []


class Dom(HTMLParser):
    """The dumped DOM as (tag, attributes, text) of every element, text included of its
    descendants."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text: list[str] = []
        self.elements.append((tag, {k: v or "" for k, v in attrs}, text))
        if tag not in ("meta", "link", "br", "img", "input"):
            self._open.append(text)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for text in self._open:
            text.append(data)

    def texts(self, tag: str | None = None, **attrs: str) -> list[str]:
        """The text of every element with this tag and these attributes (data_x: data-x)."""
        return ["".join(text).strip() for name, found, text in self.elements
                if tag in (None, name)
                and all(found.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def png_pixels(png: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the set of colours of an 8-bit RGB(A) PNG, decoded with zlib."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    idat, pos = b"", 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    assert len(raw) == height * (stride + 1)
    previous, colours = bytearray(stride), set[bytes]()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 255
        colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp * 7))
        previous = line
    return width, height, colours


def _chromium(tmp_path: Path, *args: str) -> str:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `make browser` installs it with apt-get "
                    "(Debian, as root); it was not installed here")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'chromium-profile'}",
               f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=8000", *args]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


@pytest.mark.integration
def test_page_in_headless_chromium(
    demo: tuple[WorkerProcess, dict[str, int]], tmp_path: Path
) -> None:
    worker, sent = demo
    data = _data(worker)
    assert "sign-in" in _chromium(tmp_path, "--dump-dom", worker.url + "/dashboard")
    # the link `hub dev` prints signs the browser in and goes on to the page
    signed_in = worker.sign_in_url(DEV_OPERATOR_TOKEN) + "&next=/dashboard"
    html = _chromium(tmp_path, "--dump-dom", signed_in)
    dom = Dom(html)
    assert dom.texts(tag="body", data_loaded="1"), "the page never rendered its data"
    for member, count in sent.items():
        assert dom.texts(tag="tr", data_member=member, **{"class": "ok"}), member
        assert dom.texts(tag="td", data_member=member) == [str(count)], member
    assert dom.texts(tag="tr", data_member="chc-west", **{"class": "never"})
    assert dom.texts(id="kpi-dlq") == [str(data["dead_letters"]["total"])]
    assert dom.texts(tag="g", data_reason="MEMBER_MISMATCH") == ["MEMBER_MISMATCH1"]
    [letter] = dom.texts(tag="tr", data_reason="MEMBER_MISMATCH")
    assert "in.vp-hexi" in letter and "成员单位为 lead" in letter  # the reason, in Chinese
    [recognised] = dom.texts(tag="tr", data_recognition="chc-east/K")
    assert recognised.endswith("100%")
    for case in data["reporting"]["open_cases"]:
        [row] = dom.texts(tag="tr", data_case=case["case"])
        assert case["disease_name"] in row and case["member"] in row
        assert all(lacking in row for lacking in case["lacks"])
    for shortage in data["pharmacy"]["open_shortages"]:
        assert any(shortage["drug_name"] in row
                   for row in dom.texts(tag="tr", data_shortage=shortage["member"]))
    names = {m["id"]: m["name"] for m in data["members"]}
    for member in data["referrals"]["members"]:  # each section headed by the member's name
        [head] = dom.texts(tag="tr", data_referral_member=member["member"])
        assert head.startswith(f"{names[member['member']]} {member['member']}"), head
        for referral in member["rows"]:
            assert any(referral["state_name"] in row and referral["direction_name"] in row
                       for row in dom.texts(tag="tr", data_referral=referral["referral_id"]))
    [beds] = dom.texts(tag="tr", data_pool=f"lead/{BED_POOL}")
    assert "预留 5%，低于 20%" in beds
    assert dom.texts(id="kpi-referrals") == ["0"]
    assert dom.texts(id="kpi-criticals") == ["0"]
    assert any("暂无阅片申请" in row for row in dom.texts(tag="tr"))
    assert [p for p in PERSONAL if p in html] == []

    shot = tmp_path / "dashboard.png"
    _chromium(tmp_path, f"--screenshot={shot}", signed_in)
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(colours) > 20, "the screenshot is (nearly) one colour"
    assert bytes((0x1F, 0x4E, 0x79)) in colours, "the header's colour is missing"
    if os.environ.get("HUB_UPDATE_DOCS"):  # refresh the README's screenshot on request
        shutil.copyfile(shot, SCREENSHOT_COPY)
