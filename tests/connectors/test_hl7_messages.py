"""Real-world shaped HL7 v2 messages from a member's LIS, PACS and HIS (the lead hospital's
local codes from the item catalogue), shared by the HL7 and MLLP tests, and checks that
they are well-formed HL7 to begin with."""

from __future__ import annotations

import hl7
import pytest

# Resident ID card numbers with valid check digits.
PATIENT_ID = "510725198506123019"
CHILD_ID = "510725201803054026"

_MSH = ("MSH|^~\\&|{app}|{facility}|HUB|ANXIAN|20250301093000+0800||{type}|{control}|P|2.5.1"
        "|||||CHN|{charset}")


def message(*segments: str, app: str = "LIS", type_: str = "ORU^R01^ORU_R01",
            control: str = "LAB20250301001", charset: str = "UNICODE UTF-8",
            facility: str = "LEAD") -> str:
    msh = _MSH.format(app=app, facility=facility, type=type_, control=control, charset=charset)
    return "\r".join([msh, *segments]) + "\r"


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields (by HL7 field number) and the others empty."""
    values = [fields.get(n, "") for n in range(1, max(fields) + 1)]
    return "|".join([name, *values])


PID = seg("PID", {
    1: "1", 3: f"{PATIENT_ID}^^^LEAD^ID~MR0012345^^^LEAD^MR", 5: "张^三", 7: "19850612",
    8: "M", 11: "人民路12号^河西村^绵阳市^四川省^^^H^河口镇^安县", 13: "13800000000",
})
PID_CHILD = seg("PID", {
    1: "1", 3: f"{CHILD_ID}^^^LEAD^NI~MR0099^^^LEAD^MR", 5: "欧阳^小明", 7: "20180305",
    8: "F", 11: "幸福街3号^河东村^绵阳市^四川省^^^H^河口镇^安县",
})


def lab_oru(control: str = "LAB20250301001", potassium_code: str = "L0001",
            charset: str = "UNICODE UTF-8") -> str:
    return message(
        PID,
        seg("PV1", {1: "1", 2: "O", 3: "内科门诊^^^LEAD", 7: "D001^李^医生"}),
        seg("ORC", {1: "RE", 2: "ORD7781", 3: "ACC20250301-17"}),
        seg("OBR", {1: "1", 2: "ORD7781", 3: "ACC20250301-17", 4: "BMP^基础代谢组合^L",
                    7: "20250301071500+0800", 16: "D001^李^医生", 22: "20250301091500+0800",
                    24: "CH", 25: "F"}),
        seg("OBX", {1: "1", 2: "NM", 3: f"{potassium_code}^钾^L", 5: "4.1", 6: "mmol/L",
                    7: "3.5-5.3", 8: "N", 11: "F", 14: "20250301080000+0800"}),
        seg("OBX", {1: "2", 2: "NM", 3: "L0002^钠^L", 5: "150", 6: "mmol/L", 7: "137-147",
                    8: "H", 11: "F", 14: "20250301080000+0800"}),
        seg("OBX", {1: "3", 2: "NM", 3: "^^^2075-0^Chloride^LN", 5: "101", 6: "mmol/L",
                    7: "99-110", 8: "N", 11: "F"}),
        seg("SPM", {1: "1", 4: "SER^血清^HL70487"}),
        control=control, charset=charset,
    )


def wrong_patient_oru(control: str = "LAB20250301051", status: str = "W",
                      value: str = "") -> str:
    """The lab takes back lab_oru()'s potassium: same OBR-3 and OBX-3, OBX-11 W ("post
    original as wrong, e.g. transmitted for wrong patient", HL7 table 0085) or D, sent to
    the patient it was wrongly posted to; OBR-25 C, OBR-22 the time of the change."""
    return message(
        PID,
        seg("ORC", {1: "RE", 2: "ORD7781", 3: "ACC20250301-17"}),
        seg("OBR", {1: "1", 2: "ORD7781", 3: "ACC20250301-17", 4: "BMP^基础代谢组合^L",
                    7: "20250301071500+0800", 22: "20250301113000+0800", 24: "CH", 25: "C"}),
        seg("OBX", {1: "1", 2: "NM", 3: "L0001^钾^L", 5: value, 6: "mmol/L", 11: status,
                    14: "20250301080000+0800"}),
        control=control,
    )


def imaging_oru(control: str = "RIS20250301007") -> str:
    return message(
        PID,
        seg("ORC", {1: "RE", 2: "RAD5521", 3: "CT20250301-0042"}),
        seg("OBR", {1: "1", 2: "RAD5521", 3: "CT20250301-0042", 4: "CT005^胸部CT平扫^L",
                    7: "20250301084000+0800", 16: "D002^王^医生", 22: "20250301092000+0800",
                    24: "CT", 25: "F"}),
        seg("OBX", {1: "1", 2: "TX", 3: "CT005&GDT^影像所见^L",
                    5: "双肺纹理清晰，右肺上叶见一约5mm结节影。", 11: "F"}),
        seg("OBX", {1: "2", 2: "TX", 3: "CT005&IMP^印象^L", 5: "右肺上叶小结节，建议随访。",
                    11: "F"}),
        seg("ZDS", {1: "1.2.156.112605.14038010.20250301.42^PACS^Application^DICOM"}),
        app="PACS", control=control,
    )


def mdm_report(control: str = "RIS20250301011") -> str:
    return message(
        PID,
        seg("TXA", {1: "1", 2: "DI", 3: "TX", 4: "20250301100000+0800",
                    6: "20250301095000+0800", 12: "US20250301-0007", 17: "AU"}),
        seg("OBR", {1: "1", 2: "RAD5600", 3: "US20250301-0007", 4: "US011^腹部彩超^L",
                    7: "20250301093000+0800"}),
        seg("OBX", {1: "1", 2: "TX", 3: "18782-3^Study observation^LN",
                    5: "肝胆胰脾未见明显异常。", 11: "F"}),
        seg("OBX", {1: "2", 2: "TX", 3: "19005-8^Impression^LN", 5: "腹部超声未见异常。",
                    11: "F"}),
        app="RIS", type_="MDM^T02^MDM_T02", control=control,
    )


def order_orm(control: str = "HIS20250301100", order_control: str = "NW") -> str:
    def orc(order: str, priority: str) -> str:
        return seg("ORC", {1: order_control, 2: order, 7: f"^^^^^{priority}",
                           9: "20250301101500+0800", 12: "D001^李^医生", 17: "NK^内科"})

    return message(
        PID,
        seg("PV1", {1: "1", 2: "O", 3: "内科门诊^^^LEAD"}),
        orc("ORD8001", "S"),
        seg("OBR", {1: "1", 2: "ORD8001", 4: "L0001^钾^L", 7: "20250301101500+0800"}),
        orc("ORD8002", "R"),
        seg("OBR", {1: "2", 2: "ORD8002", 4: "L0013^葡萄糖^L"}),
        app="HIS", type_="ORM^O01^ORM_O01", control=control,
    )


def order_oml(control: str = "HIS20250301101") -> str:
    return message(
        PID,
        seg("ORC", {1: "NW", 2: "ORD8010", 9: "20250301102000+0800", 12: "D003^赵^医生"}),
        seg("TQ1", {1: "1", 9: "A"}),
        seg("OBR", {1: "1", 2: "ORD8010", 4: "DR001^胸部正位片^L"}),
        app="HIS", type_="OML^O21^OML_O21", control=control,
    )


def admission_adt(control: str = "HIS20250301200", dg1_code: str = "ZD0101^^L") -> str:
    return message(
        seg("EVN", {1: "A04", 2: "20250301110000+0800"}),
        PID_CHILD,
        seg("NK1", {1: "1", 2: "欧阳^大明", 3: "FTH", 5: "13900000000"}),
        seg("PV1", {1: "1", 2: "O", 3: "儿科门诊^^^LEAD", 7: "D004^孙^医生",
                    19: "V20250301-88"}),
        seg("DG1", {1: "1", 3: dg1_code, 6: "W", 16: "D004^孙^医生"}),
        seg("DG1", {1: "2", 3: "B05.900^麻疹^I10", 5: "20250301103000+0800", 6: "F"}),
        app="HIS", type_="ADT^A04^ADT_A01", control=control,
    )


# A patient of another county of the consortium's city (涪城区, 绵阳市): a farmer.
TYPHOID_ID = "510703196106153019"


def typhoid_adt(control: str = "HIS20260301300", occupation: str = "27^农民^GB/T 2261.4",
                onset: str = "20260226", extra: tuple[str, ...] = ()) -> str:
    """The HL7 v2.3.1 standard's ADT^A01 example (chapter 3, "ADT1|MCM ... MSG00001":
    EVN, PID with two identifiers, NK1 spouse, PV1 inpatient of surgery), as the lead
    hospital's HIS sends it: PID-3 a resident ID (CX-5 NNCHN) beside the record number,
    PID-5 a Chinese name, PID-11 a Chinese address (XAD-3 city, XAD-4 province, XAD-6
    country, XAD-8 township, XAD-9 county), a DG1 for typhoid (A01.0) and the card's
    occupation (LOINC 11341-5, GB/T 2261.4 code) and onset date (LOINC 11368-8) as OBX."""
    return message(
        seg("EVN", {1: "A01", 2: "20260301112300+0800"}),
        seg("PID", {1: "1", 3: f"PATID1234^5^M11^LEAD^MR~{TYPHOID_ID}^^^^NNCHN",
                    5: "史^威廉", 7: "19610615", 8: "M",
                    11: "临园路东段120号^^绵阳市^四川省^621000^CHN^H^城厢街道^涪城区",
                    13: "13990001212", 16: "M"}),
        seg("NK1", {1: "1", 2: "史^奥丽", 3: "SPO^配偶", 7: "NK^NEXT OF KIN"}),
        seg("PV1", {1: "1", 2: "I", 3: "2000^2012^01", 7: "004777^卡^斯特罗", 10: "SUR",
                    14: "ADM", 15: "A0", 19: "V20260301-120"}),
        *([seg("OBX", {1: "1", 2: "CWE", 3: "11341-5^History of Occupation^LN",
                       5: occupation, 11: "F"})] if occupation else []),
        *([seg("OBX", {1: "2", 2: "DT", 3: "11368-8^Illness or injury onset date^LN",
                       5: onset, 11: "F"})] if onset else []),
        seg("DG1", {1: "1", 2: "I10", 3: "A01.0^伤寒^I10", 5: "20260301110000+0800", 6: "F",
                    16: "004777^卡^斯特罗"}),
        *extra,
        app="HIS", type_="ADT^A01^ADT_A01", control=control,
    )


ALL_SAMPLES = {
    "lab_oru": lab_oru(), "imaging_oru": imaging_oru(), "mdm_report": mdm_report(),
    "order_orm": order_orm(), "order_oml": order_oml(), "admission_adt": admission_adt(),
    "typhoid_adt": typhoid_adt(),
}


@pytest.mark.parametrize("name", sorted(ALL_SAMPLES))
def test_samples_are_well_formed_hl7(name: str) -> None:
    parsed = hl7.parse(ALL_SAMPLES[name])
    assert str(parsed.segment("MSH")[10]) == str(parsed["MSH.F10"])
    assert parsed.segment("PID") is not None
