"""Two-way referral messages from members' HIS (REF^I12/I13/I14, RRI^I12), adapted from
public examples only as a member would have to: its facility codes, a resident ID, Chinese
names (UTF-8, and one message in GBK), its dates and diagnosis codes."""

from __future__ import annotations

from tests.connectors.test_hl7_messages import seg

# 110101199003074514: the usual sample resident ID (Beijing Dongcheng, born 1990-03-07) with
# its valid check digit (…4518 fails it).
RESIDENT_ID = "110101199003074514"
REFERRAL_REF = "R2026-0001"


def join(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def hapi_village_ref_i12(control: str = "", *, ref: str = REFERRAL_REF,
                         at: str = "20261207080000", priority: str = "") -> str:
    """HAPI HL7v2's REF^I12 test message (hapifhir/hapi-hl7v2, hapi-test, the parser test
    `testMissingSegment`): MSH-10 empty, an SFT, RF1 with only RF1-6 and RF1-7, PRD RP with
    the doctor's number in PRD-7 and RT, and typed NTE (^REASON_FOR_CONSULTATION ...).
    Adapted: 河西村卫生室 (facility VPHEXI) refers its patient to the lead hospital (RT PRD-7
    LEAD); PID with a resident ID and a Chinese name; the DG1 a member's referral carries.
    `ref`, `at` (RF1-7 and MSH-7) and `priority` (RF1-2) vary it as the village's HIS
    would for its next referral."""
    return join(
        f"MSH|^~\\&|HIS|VPHEXI|||{at}||REF^I12^REF_I12|{control}||2.5"
        "|||||CHN|UNICODE UTF-8",
        "SFT|WINNING|5.1|HIS|2026/11/04 10:44, branch : trunk",
        f"RF1||{priority}||||{ref}|{at}",
        "PRD|RP^Referring Provider|王^建国^^^医生|^^^^^^O||||999998",
        "PRD|RT^Referred to Provider|张^伟^^^主任|^^^^^^O||^^^^^^^^^^^0816-4200120||LEAD",
        f"PID|1||{RESIDENT_ID}^^^^ID||李^建华^^^^^L||19900307|M|||^^^四川省^^^H",
        "NTE|||请安排心内科专家号|^APPOINTMENT_NOTES",
        "NTE|||头晕三月余，血压控制不佳，请上级医院调整降压方案|^REASON_FOR_CONSULTATION",
        "NTE|||血压 172/104 mmHg|^CLINICAL_INFORMATION",
        "NTE|||硝苯地平缓释片 20mg bid|^CURRENT_MEDICATIONS",
        "DG1|1||I10^原发性高血压^I10||20261207|W",
    )


def zato_lead_rri_i12(control: str = "LEAD20261207-31", status: str = "A",
                      zrf: str = "", *, ref: str = REFERRAL_REF,
                      at: str = "20261207093000+0800", extra: tuple[str, ...] = ()) -> bytes:
    """Zato's HL7 v2 referral tests (zato.io, test_rri_carries_the_referral_back): the
    referred-to hospital answers with RRI^I12, MSA naming the referral message, RF1-1 A and
    RF1-6 the referrer's number with its facility. Adapted: the lead hospital's HIS (GBK
    text, MSH-18 GBK) answers 河西村卫生室 (MSH-6 VPHEXI) about its referral `ref`, sent
    `at`; `extra` segments (PV1) go before the ZRF."""
    text = join(
        f"MSH|^~\\&|HIS|LEAD|HIS|VPHEXI|{at}||RRI^I12|{control}|P|2.5"
        "|||||CHN|GBK",
        "MSA|AA|HEXI20261207-0001",
        f"RF1|{status}|R|XNK^心内科^L|||{ref}^VPHEXI",
        f"PID|1||{RESIDENT_ID}^^^^ID||李^建华||19900307|M",
        *extra, *([zrf] if zrf else []),
    )
    return text.encode("gb18030")


def _msh(kind: str, control: str, facility: str) -> str:
    return (f"MSH|^~\\&|HIS|{facility}|HUB|ANXIAN|20261207100000+0800||{kind}|{control}|P|2.5"
            "|||||CHN|UNICODE UTF-8")


PID = seg("PID", {1: "1", 3: f"{RESIDENT_ID}^^^^ID", 5: "李^建华", 7: "19900307", 8: "M"})


def chc_ref_i12(control: str = "EAST20261207-7", *, rf1: dict[int, str] | None = None,
                extra: tuple[str, ...] = (), rt_facility: str = "LEAD",
                zrf: str = "", facility: str = "CHCEAST") -> str:
    """城东社区 refers to the lead's cardiology, its HIS writing what HL7 v2.5 chapter 11
    allows (RF1 in full, PRD-4 department and facility, DG1 in ICD-10, documents)
    with real HIS habits: PID before RF1, an unknown Z-segment, NTE at the end."""
    fields = {1: "P^待定^HL70283", 2: "S^急诊^HL70280", 3: "MED^内科^HL70281",
              5: "O^门诊^HL70284", 6: f"{REFERRAL_REF}^{facility}", 7: "20261207093000+0800",
              8: "20261210", 10: "^胸痛待查，心电图ST段改变^L"} | (rf1 or {})
    return join(
        _msh("REF^I12^REF_I12", control, facility),
        PID,
        seg("RF1", fields),
        seg("PRD", {1: "RP^转出医生^HL70286", 2: "赵^敏", 4: f"QK^^^{facility}",
                    5: "^WPN^PH^^^^^^^^^13900001111", 7: facility}),
        seg("PRD", {1: "RT^接收科室^HL70286", 4: f"XNK^^^{rt_facility}^^^^^心血管内科"}),
        seg("ZXY", {1: "城东社区HIS扩展段"}),
        seg("DG1", {1: "1", 3: "I20.0^不稳定型心绞痛^I10", 6: "W"}),
        seg("ZRD", {1: "1", 2: "SUMMARY", 3: "DOC-EAST-778", 4: "转诊病历摘要",
                    5: "20261207090000+0800"}),
        seg("OBX", {1: "1", 2: "RP", 3: "^心电图^L",
                    5: "1.2.156.112605.1.20261207.9^PACS^DICOM", 11: "F"}),
        seg("PV1", {1: "1", 2: "O", 3: f"QK^^^{facility}", 19: "E20261207-55"}),
        seg("IN1", {1: "1", 2: "310^职工基本医疗保险", 36: "YB5107001234"}),
        *extra, *([zrf] if zrf else []),
        seg("NTE", {1: "1", 3: "患者胸痛2小时"}),
    )


def update(kind: str, control: str, *, facility: str, status: str = "", zrf: str = "",
           rp: str = "CHCEAST", rt: str = "LEAD", extra: tuple[str, ...] = ()) -> str:
    """A REF^I13/I14 or RRI from one party about 城东社区's referral R2026-0001."""
    return join(
        _msh(kind, control, facility),
        seg("RF1", {1: status, 2: "S", 6: f"{REFERRAL_REF}^CHCEAST"}) if status
        else seg("RF1", {2: "S", 6: f"{REFERRAL_REF}^CHCEAST"}),
        *([seg("PRD", {1: "RP", 7: rp})] if rp else []),
        *([seg("PRD", {1: "RT", 7: rt})] if rt else []),
        PID, *extra, *([zrf] if zrf else []),
    )
