"""The FHIR endpoint publishing with the real MemberPublisher to the embedded broker: a
transaction Bundle lands whole on in.<member>, a refused one not at all."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.member.fhir.server import build_app
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.sdk import MemberPublisher
from connectors.settings import ConnectorSettings
from hub.brokers import BaseBroker, free_port
from schemas.models import (
    Diagnosis,
    DiseaseReportCard,
    Feedback,
    LabResult,
    ReferralRequest,
    StockEvent,
    TestOrder,
)
from schemas.models.clinical import CaseClassification
from schemas.models.common import Belonging, Occupation
from schemas.topics import CDC_REPORTS, feedback_topic, ingress_topic
from tests.conftest import Decoded, WorkerProcess
from tests.connectors.fhir_referral_examples import referral_bundle
from tests.connectors.test_fhir_resources import (
    COVID_ID,
    bundle,
    covid_bundle,
    medication_dispense,
    observation,
)

pytestmark = pytest.mark.integration
MEMBER = "chc-east"


def post_all(bootstrap: str, tmp_path: Path,
             calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    settings = ConnectorSettings(member_id=MEMBER, dead_letter_dir=tmp_path / "dead-letter")

    async def run() -> list[tuple[int, dict[str, Any]]]:
        with MemberPublisher(bootstrap, MEMBER) as publisher:
            runner = web.AppRunner(build_app(settings, publisher, patients=PatientCache(None)))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=30)
                ) as session:
                    replies = []
                    for path, body in calls:
                        async with session.post(base + path, json=body) as reply:
                            replies.append((reply.status, await reply.json(content_type=None)))
                    return replies
            finally:
                await runner.cleanup()

    return asyncio.run(asyncio.wait_for(run(), 90))


def for_member(resource: dict[str, Any]) -> dict[str, Any]:
    """The lead's examples recoded with chc-east's local codes."""
    text = json.dumps(resource, ensure_ascii=False)
    for lead, east in (("L0001", "SH-K"), ("L0013", "SH-GLU"), ("YP000123", "CE-0012")):
        text = text.replace(f'"{lead}"', f'"{east}"')
    recoded: dict[str, Any] = json.loads(text)
    return recoded


def test_bundle_is_published_whole_and_a_bad_one_not_at_all(
    broker: BaseBroker, tmp_path: Path, read_topic: Callable[..., list[Decoded]]
) -> None:
    bad = for_member(bundle())
    bad["entry"][3]["resource"]["code"]["coding"][0]["code"] = "NOT-AN-ITEM"
    replies = post_all(broker.bootstrap, tmp_path, [
        ("/fhir", for_member(bundle())),
        ("/fhir", bad),
        ("/fhir/MedicationDispense", for_member(medication_dispense())),
        ("/fhir", for_member(bundle())),  # resent: the same event ids again
        ("/fhir", referral_bundle()),
    ])
    assert [status for status, _ in replies] == [200, 422, 201, 200, 200]
    locations = [e["response"]["location"] for e in replies[0][1]["entry"]]
    assert locations == [e["response"]["location"] for e in replies[3][1]["entry"]]

    events = [e for _, e in read_topic(ingress_topic(MEMBER),
                                       until=lambda got: len(got) >= 8, timeout=30)]
    # in.<member> has two partitions: compare by id, not by order
    copies = Counter(e.envelope.event_id for e in events)
    by_id = {e.envelope.event_id: e for e in events}
    assert len(events) == 8 and sorted(copies.values()) == [1, 1, 2, 2, 2]
    assert sorted(type(by_id[i]).__name__ for i, n in copies.items() if n == 2) == [
        "Diagnosis", "LabResult", "TestOrder"]
    assert all(e.envelope.member_id == MEMBER for e in events)
    stock = next(e for e in events if isinstance(e, StockEvent))
    assert (stock.drug_code, stock.local_drug_code) == ("XJ01CAA040E001010101445", "CE-0012")
    lab = next(e for e in events if isinstance(e, LabResult))
    assert lab.item_code == "K" and lab.patient.name == "张三"
    assert any(isinstance(e, Diagnosis) and e.icd10 == "A15.000" for e in events)
    assert any(isinstance(e, TestOrder) and e.item_code == "GLU" for e in events)
    referral = next(e for e in events if isinstance(e, ReferralRequest))  # through Avro whole
    assert (referral.to_member, len(referral.documents), referral.patient.name) == (
        "lead", 3, "王秀英")
    assert referral.insurance is not None and referral.insurance.insured_number


def test_fhir_command_serves_resources_and_metrics(broker: BaseBroker, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HUB_BROKER": broker.bootstrap, "HUB_MEMBER_ID": MEMBER,
           "HUB_FHIR_HOST": "127.0.0.1", "HUB_FHIR_PORT": str(port),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log_path = tmp_path / "fhir.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "connectors.cli", "fhir"],
                                   cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            body = json.dumps(for_member(observation())).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/fhir/Observation",
                                             data=body, method="POST",
                                             headers={"Content-Type": "application/fhir+json"})
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=30) as reply:
                        status, location = reply.status, reply.headers["Location"]
                    break
                except urllib.error.URLError:
                    assert process.poll() is None and time.monotonic() < deadline, \
                        log_path.read_text()
                    time.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
        finally:
            process.terminate()
            process.wait(15)
    assert status == 201 and "/fhir/Observation/" in location
    assert 'connector_fhir_requests_total{resource="Observation",status="201"} 1.0' in text


def test_a_covid_bundle_reaches_the_cdc_as_a_complete_card(
    broker: BaseBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess],
    read_topic: Callable[..., list[Decoded]],
) -> None:
    """Patient + Condition U07.1 with onsetDateTime + the ODH occupation Observation
    (tests/connectors/test_fhir_resources.covid_bundle) through the FHIR endpoint and the hub."""
    start_worker()
    [(status, body)] = post_all(broker.bootstrap, tmp_path, [("/fhir", covid_bundle())])
    assert status == 200, body

    def covid(got: list[Decoded]) -> list[DiseaseReportCard]:
        return [e for _, e in got if isinstance(e, DiseaseReportCard) and e.id_number == COVID_ID]

    cards = covid(read_topic(CDC_REPORTS.name, until=lambda got: bool(covid(got)), timeout=90))
    if not cards:
        answers = [(e.status, e.reason) for _, e in read_topic(feedback_topic(MEMBER))
                   if isinstance(e, Feedback)]
        pytest.fail(f"no card; the hub answered {answers}")
    [card] = cards
    assert (card.disease_code, card.icd10, card.reporting_unit_id) == (
        "COVID-19", "U07.1", MEMBER)
    assert card.patient_name == "钱秀英" and card.belonging is Belonging.THIS_COUNTY
    assert card.occupation is Occupation.FARMER and card.onset_date == date(2026, 2, 27)
    assert card.case_classification is CaseClassification.CONFIRMED
