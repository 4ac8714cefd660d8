"""The CDC sink: cards filed as JSON and in the national exchange layout, once each."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from connectors.cdc.sink import HEADERS, CardFolder, Filed, consume, national_layout
from hub.brokers import BaseBroker
from schemas.codec import AvroCodec
from schemas.models import DiseaseReportCard, LateReport
from schemas.models.clinical import CaseClassification
from schemas.models.common import Belonging, IdType, Occupation, Sex
from schemas.models.outputs import CardKind, DiseaseClass, ReportAddress
from schemas.reference.messages import Locale
from schemas.topics import CDC_REPORTS

DIAGNOSED = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)  # 10:30 in China


def card(kind: CardKind = CardKind.INITIAL, **overrides: Any) -> DiseaseReportCard:
    card_id = "11111111-1111-5111-8111-111111111111"
    fields: dict[str, Any] = {
        "envelope": DiseaseReportCard.new_envelope("lead", event_id=card_id),
        "card_id": card_id, "card_number": "20261126-ABCDEF12", "kind": kind,
        "patient_name": "李娜", "id_type": IdType.RESIDENT_ID, "id_number": "510726197505052345",
        "sex": Sex.FEMALE, "birth_date": date(1975, 5, 5), "phone": "13900000000",
        "belonging": Belonging.THIS_COUNTY, "occupation": Occupation.FARMER,
        "address": ReportAddress(province="四川省", city="绵阳市", county="安县",
                                 township="河口镇", village="山下村", house_number="1号"),
        "case_classification": CaseClassification.CONFIRMED, "onset_date": date(2026, 11, 24),
        "diagnosed_at": DIAGNOSED, "disease_code": "CHOLERA", "disease_name": "霍乱",
        "disease_class": DiseaseClass.A, "icd10": "A00.000", "reporting_unit_id": "lead",
        "reporting_unit_name": "安县人民医院", "reporting_unit_phone": "0816-4200120",
        "reporting_doctor": "李医生", "filled_at": DIAGNOSED, "deadline": DIAGNOSED,
        "remarks": "水样便|每日十余次\n发热",
    }
    fields.update(overrides)
    return DiseaseReportCard(**fields)


def revision() -> DiseaseReportCard:
    revision_id = "22222222-2222-5222-8222-222222222222"
    return card(CardKind.REVISION, card_id=revision_id, revision_of=card().card_id,
                envelope=DiseaseReportCard.new_envelope("lead", event_id=revision_id),
                revised_disease_name="霍乱", revision_reason="于 2026-11-27 死于霍乱",
                death_date=date(2026, 11, 27))


def late() -> LateReport:
    return LateReport(
        envelope=LateReport.new_envelope("vp-hexi"), case_id="case-1",
        reporting_unit_id="vp-hexi", disease_code="DYSENTERY", disease_name="细菌性和阿米巴性痢疾",
        disease_class=DiseaseClass.B, diagnosed_at=DIAGNOSED, deadline=DIAGNOSED,
        late_by_seconds=3600, missing_fields=["id_number"],
    )


def test_the_national_layout_has_chinese_headers_and_labels() -> None:
    header, values, end = national_layout(card()).split("\n")
    assert end == "" and header.split("|") == list(HEADERS)
    row = dict(zip(HEADERS, values.split("|"), strict=True))
    assert (row["卡片编号"], row["报告类别"]) == ("20261126-ABCDEF12", "初次报告")
    assert row["患者姓名"] == "李娜" and row["有效证件号"] == "510726197505052345"
    assert (row["性别"], row["证件类型"], row["病人属于"]) == ("女", "居民身份证", "本县区")
    assert (row["人群分类"], row["病例分类"], row["传染病类别"]) == ("农民", "确诊病例", "甲类")
    assert row["诊断时间"] == "2026-11-26 10:30" and row["发病日期"] == "2026-11-24"
    assert row["现住址乡镇街道"] == "河口镇" and row["报告单位"] == "安县人民医院"
    assert row["备注"] == "水样便 每日十余次 发热" and row["死亡日期"] == ""


def test_each_card_and_revision_is_filed_once(tmp_path: Path) -> None:
    folder = CardFolder(tmp_path)
    first = folder.file(card())
    assert first is not None and first.name == f"20261126-ABCDEF12_INITIAL_{card().card_id}.json"
    assert json.loads(first.read_text(encoding="utf-8"))["patient_name"] == "李娜"
    assert first.with_suffix(".txt").read_text(encoding="utf-8").startswith("卡片编号|报告类别|")
    assert folder.file(card()) is None
    assert CardFolder(tmp_path).file(card()) is None  # a new sink over the same folder
    again = folder.file(revision())
    assert again is not None and "_REVISION_" in again.name
    assert folder.file(late()) == tmp_path / "late" / "case-1.json"
    assert folder.file(late()) is None
    assert sorted(p.suffix for p in tmp_path.iterdir() if p.is_file()) == [
        ".json", ".json", ".txt", ".txt"]
    assert folder.filed == Filed(initial=1, revisions=1, late=1, files=5)


def test_the_sink_says_what_it_filed_in_chinese_with_the_file_count(tmp_path: Path) -> None:
    folder = CardFolder(tmp_path)
    for event in (card(), card(), revision(), late()):
        folder.file(event)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert folder.filed.files == len(written) == 5 and folder.filed.events == 3
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert folder.filed.summary(1.25, at) == (
        "新归档 3 份：初次报告卡 1 张、订正报告卡 1 张、迟报 1 份，共写入 5 个文件，"
        "用时 1.2 秒，截至 2026-12-06 17:00 +08:00")
    assert folder.filed.summary(1.25, at, Locale.of("en", "Asia/Shanghai")) == (
        "filed 3 new: 1 initial cards, 1 revisions, 1 late reports; 5 files written in 1.2 s,"
        " at 2026-12-06 17:00 +08:00")


@pytest.mark.integration
def test_the_sink_reads_the_topic_and_skips_what_it_filed(
    broker: BaseBroker, tmp_path: Path
) -> None:
    codec = AvroCodec()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for event in (card(), card(), revision(), late()):  # the card twice: a redelivery
        producer.send(CDC_REPORTS.name, key=b"case-1", value=codec.encode(event))
    producer.send(CDC_REPORTS.name, key=b"case-1", value=b"not avro")
    producer.flush()
    producer.close()

    folder = CardFolder(tmp_path / "cards")
    assert consume(broker.bootstrap, folder, "cdc-test", follow=False, poll_ms=200) == Filed(
        initial=1, revisions=1, late=1, files=5)
    assert consume(broker.bootstrap, folder, "cdc-test", follow=False, poll_ms=200) == Filed()
    fresh = CardFolder(tmp_path / "cards")
    assert consume(broker.bootstrap, fresh, "cdc-other", follow=False, poll_ms=200) == Filed()
    assert len(list((tmp_path / "cards").glob("*.json"))) == 2
