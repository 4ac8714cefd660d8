"""Remote-diagnosis messages (远程诊断) from members' RIS: 河口镇卫生院 (thc-river) examines,
安县人民医院 (lead) reads. Each is adapted from a public example only as a member would
have to: its facility and exam codes, a resident ID, Chinese names and text (UTF-8, and
one message in GBK), its dates, and the hub's ZRR / ZCV where the profile asks for them."""

from __future__ import annotations

from tests.connectors.referral_messages import RESIDENT_ID, join
from tests.connectors.test_hl7_messages import seg

ACCESSION = "CT20261207-0031"
REQUEST_ID = f"thc-river:{ACCESSION}"
STUDY_UID = "1.2.156.112605.14.20261207.90223.31"
PID = f"PID|1||{RESIDENT_ID}^^^^ID~HK5840183^^^THCRIVER^MR||李^建国||19900307|M"


def alshifa_orm_o01(*, orc: str = "NW", status: str = "SC", zrr: str = "ZRR|",
                    obr_13: str = "", priority: str = "R", section: str = "CT",
                    control: str = "HK20261207-0031") -> str:
    """A RIS's radiology order with the study UID in ZDS: the ORM^O01 of a public Ballerina
    HL7 sender sample (AlShifa-RIS, knee X-ray, ORC|NW with ORC-5 SC, OBR-18 the accession,
    OBR-24 DX, OBR-27 priority, OBR-31 reason for study, IHE's
    `ZDS|<uid>^AlShifa-RIS^Application^DICOM`). Adapted: 河口镇卫生院's chest CT (its code
    HKJ05) for the lead hospital to read; the member's own physician and department;
    ZRR marks it a remote read."""
    return join(
        f"MSH|^~\\&|RIS|THCRIVER|HUB|ANXIAN|20261207090500||ORM^O01|{control}|P|2.3.1"
        "||||||UNICODE UTF-8",
        PID,
        "PV1||O||R||||56279^刘^强|||||||||||5840183||||||||||||||||||||||||||||||||V",
        f"ORC|{orc}|6876799^HK-RIS|4530004|4530004^HK-RIS|{status}|F|1^^^20261207090223^^{priority}"
        "||20261207090145|56279^刘^强||56279^刘^强|||20261207090223||267^放射科",
        f"OBR||6876799^HK-RIS|6876799|HKJ05^胸部CT平扫|||20261207090223|20261207091500|||||"
        f"{obr_13}||^^^胸部|56279^刘^强||{ACCESSION}|CT01|6876799|{STUDY_UID}|||{section}|||"
        f"1^^^20261207090223^^{priority}||||咳嗽两周伴低热，排除肺炎|||||||||||||HKJ05^胸部CT平扫",
        f"ZDS|{STUDY_UID}^HK-PACS^Application^DICOM",
        *([zrr] if zrr else []),
    )


def mesa_omi_o23(*, tq1_priority: str = "S", order_status: str = "CM") -> str:
    """IHE MESA's Order Filler OMI^O23 (RAD-4/RAD-13 test message, as an HL7-server plugin
    guide publishes it): PV1-2 E, ORC|NW with ORC-5 SC, TQ1-9 the priority, OBR-13 the
    clinical information, OBX body weight, NTE comments and IPC (accession, requested
    procedure, Study Instance UID, step, modality CT). Adapted: an emergency head CT at
    河口镇卫生院 (its code HKJ04), done (ORC-5 CM), Chinese text."""
    return join(
        "MSH|^~\\&|RIS|THCRIVER|HUB|ANXIAN|20261207093155||OMI^O23^OMI_O23|1001125|P|2.5.1"
        "||||||UNICODE UTF-8",
        PID,
        "NTE|||既往高血压十年",
        "PV1||E||||||^刘^强^^^^医师|||||||B6||||HK20261207-E12",
        f"ORC|NW|HK-PL-1001|HK-FL-1001||{order_status}||^^^^^S||||||||||"
        "THCRIVER^河口镇卫生院^CCN",
        f"TQ1|||||||20261207091000||{tq1_priority}",
        "OBR||HK-PL-1001|HK-FL-1001|HKJ04^头颅CT平扫^L||||||||清醒|突发头痛伴呕吐2小时|||"
        "^刘^强^^^^医师",
        "OBX|1|ST|^体重||65|kg|||||F",
        "NTE|||请重点排除脑出血",
        "IPC|CT20261207-0042|RP-0042|1.2.156.112605.14.20261207.91000.42|SPS-0042|CT",
    )


def pacs_oru_r01(*, obr_25: str = "F", obr_26: str = "", obx_status: str = "F",
                 extra: tuple[str, ...] = (), zrr: str = "",
                 control: str = "RTS01CE16057B105AC0") -> str:
    """The radiology report ORU^R01 of OpenMRS's PACS integration tests (its
    `MSH|^~\\&|HMI||RAD|REPORTS|...|ORU^R01|RTS01CE16057B105AC0|P|2.3`, OBR-3 the accession,
    OBR-24 CR, OBR-25 P, OBR-32 `&Goodrich&Mark&&&&^` (NDL), ZDS). Adapted: the lead
    hospital's RIS reports 河口镇卫生院's chest CT: OBR-2 echoes the hub's request id,
    OBR-3 the lead's own number, OBR-32 the reviewing (审核) physician, OBR-33 the writer
    (书写), findings and impression in TX OBX."""
    return join(
        f"MSH|^~\\&|RIS|LEAD|HUB|ANXIAN|20261207101500||ORU^R01|{control}|P|2.3|",
        PID,
        "PV1|1|O",
        seg("OBR", {1: "1", 2: REQUEST_ID, 3: "LD0001297", 4: "CT005^胸部CT平扫",
                    7: "20261207091500", 19: "MBL^CT", 22: "20261207101200", 24: "CT",
                    25: obr_25, 26: obr_26, 32: "1024&张&伟&&&&^", 33: "2048&陈&静"}),
        f"OBX|1|TX|59776-5^检查所见^LN||双肺纹理增多。~右肺下叶见斑片状高密度影，边界模糊。"
        f"||||||{obx_status}",
        f"OBX|2|TX|19005-8^诊断意见^LN||右肺下叶炎症，建议抗炎治疗后复查。||||||{obx_status}",
        *extra,
        f"ZDS|{STUDY_UID}^LD-PACS^Application^DICOM",
        *([zrr] if zrr else []),
    )


def inspector_mdm_t02(control: str = "MSG001") -> bytes:
    """Hl7Inspector's sample MDM^T02 (Metourni/Hl7Inspector, lib/sampleMDM.ts): PID, PV1,
    TXA (document type, activity time, provider, document number in TXA-12) and TX OBX
    lines with OBX-11 F. Adapted: the lead's RIS (GBK, MSH-7 left empty as some RIS do)
    sends a corrected ECG report for 河口镇卫生院's request: TXA-9 the writer, TXA-13 the
    document it replaces, TXA-14 the hub's request id, TXA-17 AU, TXA-22 the reviewer."""
    text = join(
        f"MSH|^~\\&|ECG|LEAD|HUB|ANXIAN|||MDM^T02^MDM_T02|{control}|P|2.5||||||GBK",
        PID,
        "PV1|1|O|心电图室^101^A",
        seg("TXA", {1: "1", 2: "DI^诊断报告^HL70270", 3: "TX^Text^HL70191",
                    4: "20261207110000", 5: "3001^王^芳", 8: "20261207110000",
                    9: "3001^王^芳^^^^主治医师", 12: "ECG-LD-778-2", 13: "ECG-LD-778",
                    14: "thc-river:ECG20261207-0007", 17: "AU", 22: "3002^赵^刚^^^^主任医师"}),
        "OBX|1|TX|59776-5^检查所见^LN||窦性心律，心率 76 次/分。||||||C",
        "OBX|2|TX|19005-8^诊断意见^LN||窦性心律；ST-T 改变（较前无变化）。||||||C",
        "ZRR|AMENDED_REPORT||||||||||||更正心率数值",
    )
    return text.encode("gb18030")


def orthanc_claim_orm(status: str = "IP", control: str = "LD20261207-C1") -> str:
    """An Orthanc modality-worklist integration test's ORM^O01 (python, `ORC|SC||<filler>||IP
    ||^^^<time>^^R|||C123456||<doctor>`, OBR-3 the filler number, ZDS). Adapted: the lead's
    RIS (UTF-8, not the original's 8859/1) tells the hub a reader took the study (ORC-5 IP),
    ORC-2 the hub's request id, ZRR-3 the reader."""
    return join(
        f"MSH|^~\\&|RIS|LEAD|HUB|ANXIAN|20261207095000||ORM^O01|{control}|P|2.3.1"
        "||||||UNICODE UTF-8",
        PID,
        f"ORC|SC|{REQUEST_ID}|LD0001297||{status}||^^^20261207095000^^R|||C123456||1024^张^伟",
        seg("OBR", {1: "1", 2: REQUEST_ID, 3: "LD0001297", 4: "CT005^胸部CT平扫",
                    6: "20261207095000", 24: "CT"}),
        "ZRR||thc-river|1024^张^伟^^^^副主任医师",
    )


def his_critical_ack(action: str = "ACKNOWLEDGED", read_back: str = "右肺大面积气胸，已复述",
                     control: str = "HKACK-0001") -> str:
    """The examining member's HIS answers the hub's critical-value ORU with an ACK^R01 (HL7
    v2.5 chapter 2 original-mode acknowledgement: MSH, MSA|AA|<the hub's control id>) and
    the hub's ZCV: the nurse who took the call, the read-back."""
    return join(
        f"MSH|^~\\&|HIS|THCRIVER|HUB|ANXIAN|20261207102000+0800||ACK^R01|{control}|P|2.5"
        "||||||UNICODE UTF-8",
        "MSA|AA|0f3a9c1e2b7d4a55",
        f"ZCV|CV-LD-0001|{action}||{read_back}|N017^周^丽^^^^护士||{REQUEST_ID}|20261207101900",
    )
