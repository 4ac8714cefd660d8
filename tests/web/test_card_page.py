"""The card page on a worker and Kafka: a diagnosis the HIS sent without the occupation
group and the onset date gets an INCOMPLETE answer with a signed link; the link opens
that member's card only; a submission with an occupation the child's age rules out is
refused; a valid one sends the card to cdc.disease-reports at once (the case's INITIAL
card id); a headless Chromium fills the form of a second case like a doctor would.
Also the web port's credentials: operators, members, and /health open to all."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.member.sdk import MemberPublisher
from hub.ops.tokens import member_token
from hub.rules.reporting.outputs import card_id_for
from hub.settings import DEV_API_SECRET, DEV_OPERATOR_TOKEN
from schemas.models import DiseaseReportCard, Feedback
from schemas.models.clinical import CaseClassification
from schemas.models.common import Occupation
from schemas.models.outputs import CardKind, FeedbackStatus
from schemas.topics import CDC_REPORTS, feedback_topic
from tests.conftest import Decoded, WorkerProcess
from tests.factories import diagnosis, patient
from tests.web.test_dashboard import CHROMIUM

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
# Children of 2015 whose HIS sent neither the occupation group nor the onset date.
XIAOMING = patient("510726201503033457", name="王小明", parent_name="王建国",
                   birth_date=datetime(2015, 3, 3).date(), occupation=None)
XIAOHONG = patient("510726201604044568", name="李小红", parent_name="李刚",
                   birth_date=datetime(2016, 4, 4).date(), occupation=None)
NO_REDIRECT = urllib.request.build_opener(type("Keep", (urllib.request.HTTPRedirectHandler,), {
    "redirect_request": lambda *args, **kw: None}))


def http(url: str, form: dict[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with NO_REDIRECT.open(request, timeout=10) as reply:
            return int(reply.status), reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(), dict(exc.headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def patient_view(id_number: str) -> dict[str, Any]:
    """A CDS Hooks patient-view request as the spec's example has it (cds-hooks.org,
    "Calling a CDS Service"), its prefetched Patient carrying the resident ID."""
    return {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "http://his.mch.example/fhir", "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992", "identifier": [
            {"type": {"coding": [{"code": "RESIDENT_ID"}]}, "value": id_number}]}},
    }


def incomplete_link(publisher: Callable[[str], MemberPublisher],
                    read_topic: Callable[..., list[Decoded]], who: Any) -> tuple[str, Feedback]:
    event = diagnosis("mch", "B05.900", "麻疹", at=NOW, patient=who, onset_date=None,
                      case_classification=CaseClassification.CLINICAL)
    publisher("mch").publish(event)

    def answer(events: list[Decoded]) -> Feedback | None:
        return next((e for _, e in events if isinstance(e, Feedback)
                     and e.in_reply_to == event.envelope.event_id
                     and e.status is FeedbackStatus.INCOMPLETE), None)

    reply = answer(read_topic(feedback_topic("mch"), timeout=60,
                              until=lambda ev: answer(ev) is not None))
    assert reply is not None, "no INCOMPLETE answer"
    return reply.details["card_url"], reply


def test_a_doctor_completes_the_card_on_its_page(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
    tmp_path: Path,
) -> None:
    worker = start_worker()
    url, reply = incomplete_link(publisher, read_topic, XIAOMING)
    assert reply.missing_fields == ["occupation", "onset_date"]
    assert url.startswith(f"{worker.url}/reporting/cards/{reply.details['case_id']}?")
    assert reply.reason and reply.reason.startswith("报告卡缺少以下项目，无法报送：")
    assert reply.reason.endswith(url)
    path, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query))
    # no credential; a token of another member's link; another member's own token
    assert http(path + "?at=" + params["at"])[0] == 401
    forged = {**params, "member": "lead"}
    status, body, _ = http(f"{path}?{urllib.parse.urlencode(forged)}")
    assert status == 403 and "王小明" not in body
    assert http(url[:-1] + ("0" if url[-1] != "0" else "1"))[0] == 403
    status, body, _ = http(f"{path}?at={params['at']}",
                           headers=bearer(member_token(DEV_API_SECRET, "lead")))
    assert status == 404 and "王小明" not in body and "510726201503033457" not in body
    # the member's own bearer token opens it like the link does
    status, body, _ = http(f"{path}?at={params['at']}",
                           headers=bearer(member_token(DEV_API_SECRET, "mch")))
    assert status == 200 and "王小明" in body
    status, body, headers = http(url)
    assert status == 200 and "王小明" in body and "王建国" in body
    assert "人群分类（须与年龄相符）" in body and "发病日期" in body and "+08:00" in body
    assert headers["Referrer-Policy"] == "no-referrer"

    # the EHR's CDS Hooks patient-view shows the same link to mch's doctor, not to lead's
    for member, links in (("mch", [url]), ("lead", [])):
        status, cds = worker.request_json("/cds-services/reporting-patient-view",
                                          patient_view(XIAOMING.id_number or ""),
                                          bearer(member_token(DEV_API_SECRET, member)))
        assert status == 200 and [c["links"][0]["url"] for c in cds["cards"]] == links, cds
    [cds_card] = worker.request_json("/cds-services/reporting-patient-view",
                                     patient_view(XIAOMING.id_number or ""),
                                     bearer(member_token(DEV_API_SECRET, "mch")))[1]["cards"]
    assert cds_card["summary"].startswith("麻疹报告卡待补全") and cds_card["indicator"] == "warning"
    assert "人群分类（须与年龄相符）、发病日期" in cds_card["detail"]
    assert worker.request_json("/cds-services/reporting-patient-view",
                               patient_view(XIAOMING.id_number or ""))[0] == 401

    status, body, _ = http(url, {"occupation": "FARMER", "onset_date": "2026-01-01"})
    assert status == 422 and "人群分类与患者年龄不符" in body, body[-600:]
    onset = NOW.date().isoformat()
    status, body, _ = http(url, {"occupation": "STUDENT", "onset_date": onset})
    assert status == 200 and "已报送疾控中心" in body, body
    case_id = reply.details["case_id"]

    def card(events: list[Decoded]) -> DiseaseReportCard | None:
        return next((e for _, e in events if isinstance(e, DiseaseReportCard)
                     and e.card_id == card_id_for(case_id, CardKind.INITIAL, "")), None)

    sent = card(read_topic(CDC_REPORTS.name, timeout=30, until=lambda ev: card(ev) is not None))
    assert sent is not None and sent.kind is CardKind.INITIAL
    assert (sent.patient_name, sent.occupation) == ("王小明", Occupation.STUDENT)
    assert sent.onset_date.isoformat() == onset and sent.reporting_unit_id == "mch"
    assert http(url, {"occupation": "STUDENT", "onset_date": onset})[0] == 409

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `make browser` installs it")
    url, _ = incomplete_link(publisher, read_topic, XIAOHONG)
    page = asyncio.run(fill_in_chromium(url, {"occupation": "STUDENT", "onset_date": onset},
                                        tmp_path))
    assert re.fullmatch(r"-?\d+:\d\d:\d\d", page["countdown"]), page
    assert "李小红" in page["before"] and "已报送疾控中心" in page["confirmation"], page


async def _call(ws: aiohttp.ClientWebSocketResponse, ids: list[int], method: str,
                **params: Any) -> Any:
    ids.append(len(ids) + 1)
    await ws.send_json({"id": ids[-1], "method": method, "params": params})
    while True:
        message = await ws.receive_json(timeout=30)
        if message.get("id") == ids[-1]:
            return message.get("result", {})


async def _text(ws: aiohttp.ClientWebSocketResponse, ids: list[int], element: str) -> str:
    """The text of an element of the page, once it is there (within 20 s)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = await _call(ws, ids, "Runtime.evaluate", returnByValue=True, expression=(
            f"(e => e ? e.innerText : null)(document.getElementById({json.dumps(element)}))"))
        value = found.get("result", {}).get("value")
        if value is not None:
            return str(value)
        await asyncio.sleep(0.2)
    raise TimeoutError(element)


async def fill_in_chromium(url: str, fields: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Open the card page in headless Chromium (DevTools protocol), choose and type the
    values, press the submit button, and read the confirmation."""
    browser = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'profile'}", "about:blank"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        assert browser.stderr is not None
        line = ""
        while "DevTools listening on" not in line:
            line = browser.stderr.readline().decode()
            assert line or browser.poll() is None, "chromium exited"
        port = urllib.parse.urlsplit(line.split("listening on ")[1].strip()).port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
                target = next(t for t in await reply.json() if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"],
                                          max_msg_size=0) as ws:
                ids: list[int] = []
                await _call(ws, ids, "Page.navigate", url=url)
                await _text(ws, ids, "card-form")
                before = await _text(ws, ids, "known")
                countdown = await _text(ws, ids, "countdown")
                fill = ";".join(f"document.getElementById({json.dumps(k)}).value="
                                f"{json.dumps(v)}" for k, v in fields.items())
                await _call(ws, ids, "Runtime.evaluate", expression=(
                    f"{fill};document.getElementById('submit').click()"))
                confirmation = await _text(ws, ids, "confirmation")
        return {"before": before, "countdown": countdown, "confirmation": confirmation}
    finally:
        browser.terminate()
        browser.wait(10)



def test_the_web_port_asks_operators_and_members_for_their_credentials(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    worker = start_worker()
    # mch has an open measles case (a patient of its own: a new worker replays the topics,
    # completions included, so the first test's patient has her card by now)
    incomplete_link(publisher, read_topic, XIAOMING.model_copy(
        update={"id_number": "510726201408086782", "name": "孙小川"}))
    operator = bearer(DEV_OPERATOR_TOKEN)
    for path in ("/dashboard/data", "/dashboard/app.js", "/metrics", "/reporting/open-cases",
                 "/reporting/timeliness"):
        assert http(worker.url + path)[0] == 401, path
        assert http(worker.url + path, headers=bearer("not-the-token"))[0] == 401, path
        assert http(worker.url + path, headers=operator)[0] == 200, path
    assert http(worker.url + "/health")[0] == 200  # the probes'
    status, _, headers = http(worker.url + "/dashboard")
    assert (status, headers["Location"]) == (303, "/sign-in?next=/dashboard")
    # a member reads its own reporting rows only, whatever it asks for
    for member, expected in (("lead", set()), ("mch", {"mch"})):
        status, body, _ = http(worker.url + "/reporting/open-cases?member=mch",
                               headers=bearer(member_token(DEV_API_SECRET, member)))
        assert status == 200 and {c["member_id"] for c in json.loads(body)["cases"]} == expected
    assert http(worker.url + "/metrics", headers=bearer(member_token(DEV_API_SECRET, "mch")))[
        0] == 401
    # an operator signs in once; the cookie opens the page and its data
    form = {"token": "not-the-token", "next": "/dashboard"}
    assert http(worker.url + "/sign-in", form)[0] == 401
    status, _, headers = http(worker.url + "/sign-in", {**form, "token": DEV_OPERATOR_TOKEN})
    assert (status, headers["Location"]) == (303, "/dashboard")
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in headers["Set-Cookie"]
    for path in ("/dashboard", "/dashboard/data"):
        assert http(worker.url + path, headers={"Cookie": cookie})[0] == 200, path
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    assert http(worker.url + "/dashboard/data", headers={"Cookie": forged})[0] == 401
    # never sent on to another site after signing in
    for elsewhere in ("//elsewhere.example/", "/\\elsewhere.example/"):
        status, _, headers = http(worker.url + "/sign-in", {"token": DEV_OPERATOR_TOKEN,
                                                             "next": elsewhere})
        assert headers["Location"] == "/dashboard", elsewhere


def test_a_worker_that_does_not_own_the_case_forwards_the_card_page(
    start_worker: Callable[..., WorkerProcess],
    publisher: Callable[[str], MemberPublisher],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """Two workers share the partitions: the link, opened and submitted at the worker that
    does not own the case's partition, reaches the one that does (the ingress may send a
    doctor's click to any worker)."""
    first = start_worker()
    second = start_worker()
    first.wait_ready(60)  # the second's arrival moved partitions away from the first
    url, reply = incomplete_link(publisher, read_topic, XIAOHONG.model_copy(
        update={"id_number": "510726201705055679", "name": "赵小雨"}))
    path = url[len(url.split("/reporting/")[0]):]
    for worker in (first, second):  # one answers in place, the other forwards
        status, body, _ = http(worker.url + path)
        assert status == 200 and "赵小雨" in body, (worker.url, body[-400:])
    elsewhere = (second if url.startswith(first.url) else first).url + path
    status, body, _ = http(elsewhere, {"occupation": "STUDENT",
                                       "onset_date": NOW.date().isoformat()})
    assert status == 200 and "已报送疾控中心" in body, body[-400:]
    case_id = reply.details["case_id"]
    sent = read_topic(CDC_REPORTS.name, timeout=30, until=lambda ev: any(
        isinstance(e, DiseaseReportCard) and e.card_id == card_id_for(
            case_id, CardKind.INITIAL, "") for _, e in ev))
    assert [e.patient_name for _, e in sent if isinstance(e, DiseaseReportCard)
            and e.card_id == card_id_for(case_id, CardKind.INITIAL, "")] == ["赵小雨"]
