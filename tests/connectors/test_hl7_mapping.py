"""HL7 v2 parsing and mapping to hub events, without a network: charsets, structure
checks, patients, lab and imaging results, orders, admissions, and every kind of refusal
with the location it names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.member.hl7.ack import build_ack
from connectors.member.hl7.card import card_fields
from connectors.member.hl7.context import MappingContext
from connectors.member.hl7.handler import map_message
from connectors.member.hl7.message import decode, parse_timestamp
from connectors.member.hl7.patient_cache import PatientCache
from connectors.member.mapping import CodeMapper, Rejected, RejectReason
from schemas.models import Diagnosis, Event, ImagingReport, LabResult, TestOrder
from schemas.models.clinical import (
    AbnormalFlag,
    CaseClassification,
    Modality,
    OrderPriority,
    ResultStatus,
)
from schemas.models.common import Address, IdType, Occupation, Sex
from schemas.reference.local_diagnosis_codes import load_local_diagnosis_codes
from tests.connectors.test_hl7_messages import (
    CHILD_ID,
    PATIENT_ID,
    PID,
    TYPHOID_ID,
    admission_adt,
    imaging_oru,
    lab_oru,
    mdm_report,
    message,
    order_oml,
    order_orm,
    seg,
    typhoid_adt,
    wrong_patient_oru,
)

ZONE = ZoneInfo("Asia/Shanghai")
CODES = CodeMapper.load("lead")


@pytest.fixture
def ctx() -> MappingContext:
    return MappingContext("lead", CODES, ZONE, PatientCache(None))


def mapped(ctx: MappingContext, text: str, charset: str = "utf-8") -> list[Event]:
    return map_message(ctx, decode(text.encode(charset)))


def refused(ctx: MappingContext, text: str | bytes) -> Rejected:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(Rejected) as caught:
        map_message(ctx, decode(raw))
    return caught.value


def test_lab_oru_gives_one_lab_result_per_obx(ctx: MappingContext) -> None:
    events = mapped(ctx, lab_oru())
    assert [type(e) for e in events] == [LabResult] * 3
    k, na, cl = events
    assert isinstance(k, LabResult) and isinstance(na, LabResult) and isinstance(cl, LabResult)
    assert (k.item_code, k.local_code, k.loinc, k.value_numeric, k.unit) == (
        "K", "L0001", "2823-3", 4.1, "mmol/L")
    assert (k.reference_range, k.abnormal_flag, k.status) == (
        "3.5-5.3", AbnormalFlag.NORMAL, ResultStatus.FINAL)
    assert na.abnormal_flag is AbnormalFlag.HIGH and na.value_numeric == 150
    assert (cl.item_code, cl.local_code, cl.loinc) == ("CL", "2075-0", "2075-0")
    assert k.order_ref == "ACC20250301-17" and k.specimen == "血清"
    assert k.reported_at == datetime(2025, 3, 1, 1, 15, tzinfo=UTC)  # OBR-22, +08:00
    assert k.envelope.member_id == "lead" and k.envelope.occurred_at == k.reported_at
    patient = k.patient
    assert (patient.id_type, patient.id_number, patient.name) == (
        IdType.RESIDENT_ID, PATIENT_ID, "张三")
    assert patient.sex is Sex.MALE and patient.birth_date == date(1985, 6, 12)
    assert patient.address is not None and patient.address.county == "安县"
    assert len({e.envelope.event_id for e in events}) == 3


def test_event_ids_are_deterministic_from_the_message(ctx: MappingContext) -> None:
    first = [e.envelope.event_id for e in mapped(ctx, lab_oru())]
    resent = [e.envelope.event_id for e in mapped(ctx, lab_oru())]
    other = [e.envelope.event_id for e in mapped(ctx, lab_oru(control="LAB20250301002"))]
    assert first == resent
    assert not set(first) & set(other)


@pytest.mark.parametrize(("status", "value"), [("W", ""), ("D", ""), ("W", "4.1")])
def test_a_result_posted_as_wrong_is_a_retraction_of_the_original(
    ctx: MappingContext, status: str, value: str
) -> None:
    original = mapped(ctx, lab_oru())[0]
    [retraction] = mapped(ctx, wrong_patient_oru(status=status, value=value))
    assert isinstance(original, LabResult) and isinstance(retraction, LabResult)
    assert retraction.status is ResultStatus.RETRACTED
    assert (retraction.order_ref, retraction.item_code, retraction.patient.id_number) == (
        original.order_ref, original.item_code, original.patient.id_number)
    assert retraction.envelope.event_id != original.envelope.event_id
    assert retraction.reported_at > original.reported_at  # OBR-22: when it was taken back
    no_order = wrong_patient_oru().replace("|ORD7781|ACC20250301-17|", "|||")
    assert refused(ctx, no_order).code is RejectReason.MISSING_FIELD


def test_an_imaging_report_whose_observations_are_all_wrong_is_retracted(
    ctx: MappingContext,
) -> None:
    original = mapped(ctx, imaging_oru())[0]
    # OBX-11 W on each text OBX (OBR-25 C: the report changed)
    withdrawn = imaging_oru(control="RIS20250301031").replace("|F\r", "|W\r") \
        .replace("|CT|W\r", "|CT|C\r")
    [retraction] = mapped(ctx, withdrawn)
    assert isinstance(original, ImagingReport) and isinstance(retraction, ImagingReport)
    assert original.status is ResultStatus.FINAL
    assert retraction.status is ResultStatus.RETRACTED
    assert (retraction.report_ref, retraction.order_ref) == (original.report_ref,
                                                             original.order_ref)


def test_imaging_oru_gives_an_imaging_report(ctx: MappingContext) -> None:
    [report] = mapped(ctx, imaging_oru())
    assert isinstance(report, ImagingReport)
    assert (report.item_code, report.local_code, report.modality) == ("CT-CHEST", "CT005",
                                                                      Modality.CT)
    assert report.report_ref == "1.2.156.112605.14038010.20250301.42"  # ZDS study UID
    assert report.findings == "双肺纹理清晰，右肺上叶见一约5mm结节影。"
    assert report.conclusion == "右肺上叶小结节，建议随访。"
    assert report.order_ref == "RAD5521"


def test_single_unlabelled_text_is_the_impression(ctx: MappingContext) -> None:
    text = message(PID, seg("OBR", {1: "1", 2: "X1", 3: "DR-88", 4: "DR001^胸片^L", 24: "RAD"}),
                   seg("OBX", {1: "1", 2: "TX", 3: "RPT^报告^L", 5: "心肺未见异常。", 11: "F"}))
    [report] = mapped(ctx, text)
    assert isinstance(report, ImagingReport)
    assert (report.findings, report.conclusion, report.report_ref) == (None, "心肺未见异常。",
                                                                       "DR-88")


def test_mdm_t02_gives_an_imaging_report(ctx: MappingContext) -> None:
    [report] = mapped(ctx, mdm_report())
    assert isinstance(report, ImagingReport)
    assert (report.item_code, report.modality, report.report_ref) == (
        "US-ABD", Modality.ULTRASOUND, "US20250301-0007")
    assert report.conclusion == "腹部超声未见异常。" and report.findings == "肝胆胰脾未见明显异常。"
    assert report.reported_at == datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # TXA-4


def test_orders_give_test_orders_with_priority(ctx: MappingContext) -> None:
    potassium, glucose = mapped(ctx, order_orm())
    assert isinstance(potassium, TestOrder) and isinstance(glucose, TestOrder)
    assert (potassium.order_id, potassium.item_code, potassium.priority) == (
        "ORD8001", "K", OrderPriority.EMERGENCY)
    assert (glucose.order_id, glucose.item_code, glucose.priority) == (
        "ORD8002", "GLU", OrderPriority.ROUTINE)
    assert potassium.ordering_doctor == "李医生" and potassium.department == "内科"
    assert potassium.ordered_at == datetime(2025, 3, 1, 2, 15, tzinfo=UTC)
    [chest] = mapped(ctx, order_oml())
    assert isinstance(chest, TestOrder)
    assert (chest.item_code, chest.priority) == ("CXR", OrderPriority.URGENT)  # TQ1-9 A


def test_only_new_orders_are_accepted(ctx: MappingContext) -> None:
    rejection = refused(ctx, order_orm(order_control="CA"))
    assert rejection.code is RejectReason.UNSUPPORTED and rejection.location == "ORC-1"
    assert "只接收新医嘱（NW）" in rejection.reason


def test_admission_diagnoses_and_patient_cache(ctx: MappingContext) -> None:
    local, measles = mapped(ctx, admission_adt())
    assert isinstance(local, Diagnosis) and isinstance(measles, Diagnosis)
    assert (local.icd10, local.diagnosis_name) == ("A15.000", "肺结核")  # ZD0101, local map
    assert local.case_classification is CaseClassification.SUSPECTED
    assert (measles.icd10, measles.diagnosis_name) == ("B05.900", "麻疹")
    assert measles.case_classification is CaseClassification.CLINICAL
    assert measles.encounter_ref == "V20250301-88" and local.doctor == "孙医生"
    assert local.patient.parent_name == "欧阳大明" and local.patient.sex is Sex.FEMALE
    # A later message naming the child by record number only is completed from the cache.
    by_record = seg("PID", {1: "1", 3: "MR0099^^^LEAD^MR"})
    later = message(seg("EVN", {1: "A08"}), by_record,
                    seg("DG1", {1: "1", 3: "J10.100^流行性感冒^I10", 6: "F"}),
                    type_="ADT^A08^ADT_A01", control="HIS20250302001", app="HIS")
    [flu] = mapped(ctx, later)
    assert isinstance(flu, Diagnosis)
    assert (flu.patient.id_type, flu.patient.id_number) == (IdType.RESIDENT_ID, CHILD_ID)
    assert flu.patient.name == "欧阳小明" and flu.patient.birth_date == date(2018, 3, 5)


def test_unknown_diagnosis_code_is_refused(ctx: MappingContext) -> None:
    rejection = refused(ctx, admission_adt(dg1_code="XX99^某病^L"))
    assert rejection.code is RejectReason.UNMAPPED_CODE and rejection.location == "DG1[1]-3"
    assert "'XX99'" in rejection.reason


@pytest.mark.parametrize(("text", "code", "location"), [
    (lab_oru(potassium_code="L9999"), RejectReason.UNMAPPED_CODE, "OBX[1]-3"),
    (lab_oru().replace("|4.1|", "|4,1|"), RejectReason.INVALID_VALUE, "OBX[1]-5"),
    (lab_oru().replace("|N|||F|||2025", "|ZZ|||F|||2025", 1), RejectReason.UNMAPPED_CODE,
     "OBX[1]-8"),
    (lab_oru().replace("|N|||F|||2025", "|N|||X|||2025", 1), RejectReason.UNSUPPORTED,
     "OBX[1]-11"),
    (lab_oru().replace("20250301091500+0800", "2025-03-01"), RejectReason.INVALID_VALUE,
     "OBR-22"),
    (lab_oru().replace(f"{PATIENT_ID}^^^LEAD^ID", "510725198506123010^^^LEAD^ID"),
     RejectReason.INVALID_VALUE, "PID-3[1]"),
    (message(seg("OBR", {1: "1", 4: "BMP"})), RejectReason.MISSING_FIELD, "PID"),
    (message(PID, seg("OBR", {1: "1", 4: "BMP"})), RejectReason.MISSING_FIELD, "OBR[1]"),
    (message(PID, type_="SIU^S12"), RejectReason.UNSUPPORTED, "MSH-9"),
    (message(PID, type_="ADT^A03"), RejectReason.UNSUPPORTED, "MSH-9"),
    (lab_oru(control=""), RejectReason.MISSING_FIELD, "MSH-10"),
])
def test_refusals_say_what_and_where(ctx: MappingContext, text: str, code: RejectReason,
                                     location: str) -> None:
    rejection = refused(ctx, text)
    assert (rejection.code, rejection.location) == (code, location), rejection.message


def test_broken_segment_is_refused_with_its_position(ctx: MappingContext) -> None:
    # A findings text with a raw line break: the second line becomes a "segment".
    broken = imaging_oru().replace("结节影。", "结节影。\r纵隔淋巴结未见肿大。")
    rejection = refused(ctx, broken)
    assert rejection.code is RejectReason.MALFORMED and rejection.location == "segment 6"
    assert "纵隔淋巴结" in rejection.reason


def test_structured_and_coded_values(ctx: MappingContext) -> None:
    text = message(PID, seg("OBR", {1: "1", 3: "A1", 4: "HBV^乙肝^L"}),
                   seg("OBX", {1: "1", 2: "SN", 3: "L0013^葡萄糖^L", 5: "<^2.2", 11: "F"}),
                   seg("OBX", {1: "2", 2: "CE", 3: "L0032^乙肝表面抗原^L",
                               5: "POS^阳性^HL70078", 8: "POS", 11: "C"}))
    glucose, hbsag = mapped(ctx, text)
    assert isinstance(glucose, LabResult) and isinstance(hbsag, LabResult)
    assert (glucose.value_numeric, glucose.value_text) == (None, "<2.2")
    assert (hbsag.value_text, hbsag.abnormal_flag, hbsag.status) == (
        "阳性", AbnormalFlag.POSITIVE, ResultStatus.CORRECTED)


def test_gb18030_message_is_decoded_as_declared(ctx: MappingContext) -> None:
    text = lab_oru(charset="GB 18030-2000").replace("张^三", "欧阳^娜娜")
    raw = text.encode("gb18030")
    assert "欧阳".encode() not in raw
    events = map_message(ctx, decode(raw))
    assert isinstance(events[0], LabResult) and events[0].patient.name == "欧阳娜娜"


def test_charset_problems_are_refused() -> None:
    undeclared_gb = lab_oru().encode("utf-8").replace("张".encode(), "张".encode("gb18030"))
    with pytest.raises(Rejected) as bad_bytes:
        decode(undeclared_gb)
    assert (bad_bytes.value.code, bad_bytes.value.location) == (RejectReason.MALFORMED, "MSH-18")
    with pytest.raises(Rejected) as unknown:
        decode(lab_oru(charset="EBCDIC").encode())
    assert unknown.value.code is RejectReason.UNSUPPORTED


def test_line_feeds_between_segments_are_accepted(ctx: MappingContext) -> None:
    assert len(mapped(ctx, lab_oru().replace("\r", "\r\n"))) == 3


def test_patient_identifier_types_and_fallbacks(ctx: MappingContext) -> None:
    only_record = lab_oru().replace(f"{PATIENT_ID}^^^LEAD^ID~MR0012345^^^LEAD^MR",
                                    "MR0012345^^^LEAD")
    first = mapped(ctx, only_record)[0]
    assert isinstance(first, LabResult)
    assert first.patient.id_type is IdType.MEDICAL_RECORD_NUMBER
    national = lab_oru().replace("|19850612|M|", "|||").replace("^^^LEAD^ID", "^^^LEAD^NNCHN")
    result = mapped(ctx, national)[0]
    assert isinstance(result, LabResult)
    patient = result.patient
    assert (patient.id_type, patient.birth_date, patient.sex) == (
        IdType.RESIDENT_ID, date(1985, 6, 12), Sex.MALE)  # taken from the ID number


def test_timestamps_without_offset_are_local_time() -> None:
    assert parse_timestamp("202503010800", ZONE, "x") == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    assert parse_timestamp("20250301080000.5+0000", ZONE, "x") == datetime(
        2025, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)
    assert parse_timestamp("", ZONE, "x") is None


def test_ack_escapes_delimiters_and_keeps_the_declared_charset() -> None:
    header = decode(lab_oru(charset="GB 18030-2000").encode("gb18030")).header
    rejection = Rejected(RejectReason.UNMAPPED_CODE, "code 'A|B^C' 不在目录", "OBX[2]-3")
    ack = build_ack(header, "AE", rejection.message, rejection, zone=ZONE,
                    now=datetime(2025, 3, 1, 9, 30, tzinfo=ZONE)).decode("gb18030")
    msh, msa, err = ack.strip("\r").split("\r")
    assert msh.split("|")[6] == "20250301093000+0800" and msh.endswith("|GB 18030-2000")
    assert msa == "MSA|AE|LAB20250301001|OBX[2]-3: code 'A\\F\\B\\S\\C' 不在目录"
    assert err.split("|")[2:5] == ["OBX^2^3", "103^Table value not found^HL70357", "E"]


def test_local_diagnosis_code_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("member,local_code,icd10,name\nmch,fy-1,a01.000x002,伤寒\n", encoding="utf-8")
    [code] = load_local_diagnosis_codes(good).codes
    assert (code.icd10, load_local_diagnosis_codes(good).resolve("mch", "FY-1")) == (
        "A01.000x002", code)
    bad = tmp_path / "bad.csv"
    bad.write_text("member,local_code,icd10,name\nmch,FY-2,typhoid,伤寒\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv line 2"):
        load_local_diagnosis_codes(bad)


def test_admission_carries_the_cards_occupation_onset_and_address(ctx: MappingContext) -> None:
    [typhoid] = mapped(ctx, typhoid_adt())
    assert isinstance(typhoid, Diagnosis)
    assert (typhoid.icd10, typhoid.diagnosis_name) == ("A01.0", "伤寒")
    assert typhoid.onset_date == date(2026, 2, 26)
    who = typhoid.patient
    assert (who.id_type, who.id_number, who.name) == (IdType.RESIDENT_ID, TYPHOID_ID, "史威廉")
    assert who.occupation is Occupation.FARMER
    assert who.address == Address(province="四川省", city="绵阳市", county="涪城区",
                                  township="城厢街道", house_number="临园路东段120号",
                                  country="CHN")


@pytest.mark.parametrize(("card", "occupation", "onset"), [
    # the hub's Z-segment wins over the OBX
    (seg("ZCD", {1: "^散居儿童", 2: "20260225", 3: "涪城区实验小学"}),
     Occupation.SCATTERED_CHILD, date(2026, 2, 25)),
    (seg("ZCD", {1: "STUDENT^^urn:consortium-hub:occupation-group"}), Occupation.STUDENT,
     date(2026, 2, 26)),
    (seg("NTE", {1: "1", 2: "L", 3: "职业：学生"}), Occupation.FARMER, date(2026, 2, 26)),
])
def test_zcd_and_nte_carry_the_card_fields(ctx: MappingContext, card: str,
                                           occupation: Occupation, onset: date) -> None:
    [typhoid] = mapped(ctx, typhoid_adt(extra=(card,)))
    assert isinstance(typhoid, Diagnosis)
    assert (typhoid.patient.occupation, typhoid.onset_date) == (occupation, onset)


def test_notes_alone_carry_occupation_and_onset(ctx: MappingContext) -> None:
    notes = (seg("NTE", {1: "1", 3: "人群分类：离退人员"}),
             seg("NTE", {1: "2", 3: "发病日期：2026-2-24"}))
    [typhoid] = mapped(ctx, typhoid_adt(occupation="", onset="", extra=notes))
    assert isinstance(typhoid, Diagnosis)
    assert typhoid.patient.occupation is Occupation.RETIRED
    assert typhoid.onset_date == date(2026, 2, 24)


def test_an_unknown_occupation_is_taken_without_a_group_and_the_ack_warns(
    ctx: MappingContext
) -> None:
    text = typhoid_adt(occupation="99^宇航员^GB/T 2261.4")
    [typhoid] = mapped(ctx, text)
    assert isinstance(typhoid, Diagnosis) and typhoid.patient.occupation is None
    [warning] = card_fields(decode(text.encode())).warnings
    assert warning.code is RejectReason.UNMAPPED_CODE and warning.location == "OBX[1]-5"
    assert "99^宇航员^GB/T 2261.4" in warning.reason
    ack = build_ack(decode(text.encode()).header, "AA", "published", warnings=(warning,))
    err = ack.decode().split("\r")[2].split("|")
    assert (err[0], err[2], err[4]) == ("ERR", "OBX^1^5", "W") and "宇航员" in err[8]


def test_an_onset_that_is_no_date_is_refused(ctx: MappingContext) -> None:
    rejection = refused(ctx, typhoid_adt(onset="2026-02-XX"))
    assert rejection.code is RejectReason.INVALID_VALUE and rejection.location == "OBX[2]-5"


def test_card_observations_in_a_result_are_no_lab_results(ctx: MappingContext) -> None:
    card = (seg("OBX", {1: "4", 2: "CWE", 3: "11341-5^History of Occupation^LN", 5: "^工人"}),
            seg("OBX", {1: "5", 2: "DT", 3: "11368-8^Illness onset date^LN", 5: "20250227"}))
    text = lab_oru().replace("\rSPM|", "\r" + "\r".join(card) + "\rSPM|")
    events = mapped(ctx, text)
    assert len(events) == 3 and all(isinstance(e, LabResult) for e in events)
    assert {(e.patient.occupation, e.onset_date) for e in events if isinstance(e, LabResult)} \
        == {(Occupation.WORKER, date(2025, 2, 27))}
