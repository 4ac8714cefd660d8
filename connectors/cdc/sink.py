"""The CDC's side of notifiable disease reporting: follows cdc.disease-reports and files
every report card, and every revision, as two files in a folder:

- `<card number>_<INITIAL|REVISION>_<card id>.json`: the card as the hub sent it;
- `<card number>_<INITIAL|REVISION>_<card id>.txt`: the national exchange layout, two
  lines in UTF-8: the Chinese headers, then the values, separated by `|` (a `|` or a line
  break inside a value becomes a space). Columns follow the national card (传染病报告卡):

  卡片编号|报告类别|患者姓名|患儿家长姓名|证件类型|有效证件号|性别|出生日期|实足年龄|年龄单位|
  工作单位|联系电话|病人属于|现住址省|现住址市|现住址县区|现住址乡镇街道|现住址村居委|
  现住址门牌号|人群分类|病例分类|急性慢性|发病日期|诊断时间|死亡日期|疾病名称|疾病分型|
  传染病类别|ICD-10编码|订正病名|订正原因|报告单位|报告单位联系电话|报告医生|填卡日期|
  备注|原卡片ID|卡片ID|报告时限|迟报秒数

  Codes are written as the card's Chinese labels (男, 农民, 确诊病例, 乙类, ...); times in
  China Standard Time, `YYYY-MM-DD HH:MM`.

Late reports (cases past their limit without a complete card) go to `late/<case id>.json`.
Filing is idempotent: a card id (or case id) already in the folder is skipped, so a
redelivered message or a second sink over the same folder writes nothing twice. Files are
written whole (to a temporary name, then renamed), the .json last, as the mark of done.
This process holds identities in clear, as the CDC's own system does: the folder is the
CDC's. It never imports the hub; it reads the topic with kafka-python and the codec.

    hub-connector cdc-sink --broker 127.0.0.1:9092 --out /srv/cdc/cards [--group cdc-sink]
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from schemas.codec import AvroCodec, CodecError
from schemas.models import DiseaseReportCard, Event, LateReport
from schemas.models.outputs import CardKind
from schemas.reference.messages import DEFAULT_LOCALE, Locale, text
from schemas.topics import CDC_REPORTS

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8), "CST")
SEPARATOR = "|"

LABELS: dict[str, str] = {
    # kind, sex, age unit, chronicity
    "INITIAL": "初次报告", "REVISION": "订正报告", "DELETION": "删除报告", "MALE": "男",
    "FEMALE": "女",
    "UNKNOWN": "不详", "YEAR": "岁", "MONTH": "月", "DAY": "天", "ACUTE": "急性",
    "CHRONIC": "慢性",
    # ID documents
    "RESIDENT_ID": "居民身份证", "PASSPORT": "护照", "HK_MACAO_PERMIT": "港澳居民来往内地通行证",
    "TAIWAN_PERMIT": "台湾居民来往大陆通行证", "FOREIGN_PERMANENT_RESIDENT": "外国人永久居留身份证",
    "MEDICAL_RECORD_NUMBER": "病案号", "OTHER": "其他",
    # where the patient belongs
    "THIS_COUNTY": "本县区", "OTHER_COUNTY_THIS_CITY": "本市其他县区",
    "OTHER_CITY_THIS_PROVINCE": "本省其他地市", "OTHER_PROVINCE": "外省",
    "HK_MACAO_TAIWAN": "港澳台", "FOREIGN": "外籍",
    # occupation groups
    "NURSERY_CHILD": "幼托儿童", "SCATTERED_CHILD": "散居儿童", "STUDENT": "学生(大中小学)",
    "TEACHER": "教师", "CHILDCARE_WORKER": "保育员及保姆", "CATERING_FOOD": "餐饮食品业",
    "COMMERCIAL_SERVICE": "商业服务", "MEDICAL_STAFF": "医务人员", "WORKER": "工人",
    "MIGRANT_WORKER": "民工", "FARMER": "农民", "HERDSMAN": "牧民", "FISHERMAN": "渔(船)民",
    "CADRE_CLERK": "干部职员", "RETIRED": "离退人员", "HOUSEWORK_UNEMPLOYED": "家务及待业",
    # case classification, disease class
    "SUSPECTED": "疑似病例", "CLINICAL": "临床诊断病例", "CONFIRMED": "确诊病例",
    "CARRIER": "病原携带者", "EXCLUDED": "排除病例", "A": "甲类", "B_AS_A": "乙类(按甲类管理)",
    "B": "乙类", "C": "丙类",
    "FOODBORNE": "食源性疾病",
}

Getter = Callable[[DiseaseReportCard], Any]
COLUMNS: tuple[tuple[str, Getter], ...] = (
    ("卡片编号", lambda c: c.card_number), ("报告类别", lambda c: c.kind),
    ("患者姓名", lambda c: c.patient_name), ("患儿家长姓名", lambda c: c.parent_name),
    ("证件类型", lambda c: c.id_type), ("有效证件号", lambda c: c.id_number),
    ("性别", lambda c: c.sex), ("出生日期", lambda c: c.birth_date),
    ("实足年龄", lambda c: c.age_value), ("年龄单位", lambda c: c.age_unit),
    ("工作单位", lambda c: c.employer), ("联系电话", lambda c: c.phone),
    ("病人属于", lambda c: c.belonging), ("现住址省", lambda c: c.address.province),
    ("现住址市", lambda c: c.address.city), ("现住址县区", lambda c: c.address.county),
    ("现住址乡镇街道", lambda c: c.address.township),
    ("现住址村居委", lambda c: c.address.village),
    ("现住址门牌号", lambda c: c.address.house_number), ("人群分类", lambda c: c.occupation),
    ("病例分类", lambda c: c.case_classification), ("急性慢性", lambda c: c.chronicity),
    ("发病日期", lambda c: c.onset_date), ("诊断时间", lambda c: c.diagnosed_at),
    ("死亡日期", lambda c: c.death_date), ("疾病名称", lambda c: c.disease_name),
    ("疾病分型", lambda c: c.subtype), ("传染病类别", lambda c: c.disease_class),
    ("ICD-10编码", lambda c: c.icd10), ("订正病名", lambda c: c.revised_disease_name),
    ("订正原因", lambda c: c.revision_reason), ("报告单位", lambda c: c.reporting_unit_name),
    ("报告单位联系电话", lambda c: c.reporting_unit_phone),
    ("报告医生", lambda c: c.reporting_doctor), ("填卡日期", lambda c: c.filled_at),
    ("备注", lambda c: c.remarks), ("原卡片ID", lambda c: c.revision_of),
    ("卡片ID", lambda c: c.card_id), ("报告时限", lambda c: c.deadline),
    ("迟报秒数", lambda c: c.late_by_seconds),
)
HEADERS: tuple[str, ...] = tuple(header for header, _ in COLUMNS)


def cell(value: Any) -> str:
    """One value as the exchange layout writes it."""
    if value is None:
        return ""
    if isinstance(value, StrEnum):
        text = LABELS.get(value.value, value.value)
    elif isinstance(value, datetime):
        text = value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return " ".join(text.replace(SEPARATOR, " ").split())


def national_layout(card: DiseaseReportCard) -> str:
    values = (cell(get(card)) for _, get in COLUMNS)
    return SEPARATOR.join(HEADERS) + "\n" + SEPARATOR.join(values) + "\n"


def _write_whole(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


@dataclass
class Filed:
    """What a sink filed: cards, revisions and late reports, and the files written for
    them (two per card or revision, one per late report)."""

    initial: int = 0
    revisions: int = 0
    late: int = 0
    files: int = 0

    @property
    def events(self) -> int:
        return self.initial + self.revisions + self.late

    def since(self, before: Filed) -> Filed:
        return Filed(self.initial - before.initial, self.revisions - before.revisions,
                     self.late - before.late, self.files - before.files)

    def summary(self, seconds: float, at: datetime, locale: Locale = DEFAULT_LOCALE) -> str:
        return locale.render(text(
            "sink.filed", events=self.events, initial=self.initial, revisions=self.revisions,
            late=self.late, files=self.files, seconds=f"{seconds:.1f}", at=at,
        ))


class CardFolder:
    """The folder the CDC's cards are filed in; knows which card ids it already holds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filed = Filed()
        self.late_dir = root / "late"
        self.late_dir.mkdir(parents=True, exist_ok=True)
        self.card_ids = {p.stem.rsplit("_", 1)[-1] for p in root.glob("*.json")}
        self.late_ids = {p.stem for p in self.late_dir.glob("*.json")}

    def file(self, event: Event) -> Path | None:
        """File one event from the topic; None if it was filed before (or is not ours)."""
        if isinstance(event, DiseaseReportCard):
            if event.card_id in self.card_ids:
                return None
            stem = f"{event.card_number}_{event.kind.value}_{event.card_id}"
            _write_whole(self.root / f"{stem}.txt", national_layout(event))
            path = self.root / f"{stem}.json"
            _write_whole(path, _json(event))
            self.card_ids.add(event.card_id)
            if event.kind is not CardKind.INITIAL:  # a revision or a deletion
                self.filed.revisions += 1
            else:
                self.filed.initial += 1
            self.filed.files += 2
            return path
        if isinstance(event, LateReport):
            if event.case_id in self.late_ids:
                return None
            path = self.late_dir / f"{event.case_id}.json"
            _write_whole(path, _json(event))
            self.late_ids.add(event.case_id)
            self.filed.late += 1
            self.filed.files += 1
            return path
        return None


def _json(event: Event) -> str:
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def consume(
    bootstrap: str, folder: CardFolder, group_id: str, *, follow: bool = True,
    codec: AvroCodec | None = None, poll_ms: int = 1000,
    security: Mapping[str, str] | None = None,
) -> Filed:
    """File what the topic holds; with `follow`, keep going until interrupted, otherwise
    stop once caught up. Offsets are committed after each batch is on disk. Returns what
    this call filed (skipped duplicates not counted)."""
    codec = codec or AvroCodec()
    consumer = KafkaConsumer(
        CDC_REPORTS.name, bootstrap_servers=bootstrap, group_id=group_id,
        enable_auto_commit=False, auto_offset_reset="earliest", **(security or {}),
    )
    before = replace(folder.filed)
    try:
        while True:
            batches = consumer.poll(timeout_ms=poll_ms)
            for records in batches.values():
                for record in records:
                    try:
                        event = codec.decode(record.value)
                    except CodecError as exc:
                        log.warning("skipping undecodable message at offset %d: %s",
                                    record.offset, exc.code)
                        continue
                    folder.file(event)
            if batches:
                consumer.commit()
            elif not follow and _caught_up(consumer):
                return folder.filed.since(before)
    except KeyboardInterrupt:
        return folder.filed.since(before)
    finally:
        consumer.close()


def _caught_up(consumer: KafkaConsumer) -> bool:
    assigned = consumer.assignment()
    if not assigned:
        return False
    ends = consumer.end_offsets(list(assigned))
    return all(consumer.position(tp) >= ends[tp] for tp in assigned)


def run_sink(
    bootstrap: str, out_dir: Path, group_id: str, *, follow: bool = True,
    security: Mapping[str, str] | None = None, locale: Locale = DEFAULT_LOCALE,
) -> Filed:
    folder = CardFolder(out_dir)
    started = time.monotonic()
    log.info("%s", locale.render(text("sink.start", topic=CDC_REPORTS.name, folder=out_dir,
                                      group=group_id)))
    filed = consume(bootstrap, folder, group_id, follow=follow, security=security)
    log.info("%s", filed.summary(time.monotonic() - started, datetime.now(UTC), locale))
    return filed
