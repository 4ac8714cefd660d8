"""The words of the FHIR remote-diagnosis profile (基层检查、上级诊断), read and written by
remote_read.py, remote_read_report.py and remote_read_out.py.

What makes a resource a remote read rather than an order or a report for recognition:
- a ServiceRequest whose category (or code) has the code `remote-read` (any system; ours is
  urn:consortium-hub:service-kind) or a category text with 远程诊断 / 远程阅片, or that a Task
  of the same Bundle with code `remote-read` has as focus;
- a Task, DiagnosticReport, ImagingStudy, Observation or Communication that names a read
  request: an identifier of system urn:consortium-hub:read-request-id (value
  '<examining member>:<accession>', as the hub writes it) on itself, its focus or basedOn,
  or a reference to a remote-read ServiceRequest in the same Bundle; a Task with code
  `remote-read`.
Everything else keeps its old path (ServiceRequest → TestOrder, DiagnosticReport and
ImagingStudy → ImagingReport for recognition, Task → referral).

Business statuses (Task.businessStatus), CodeSystem
urn:consortium-hub:remote-read-business-status: the ReadAction values in lower case with
hyphens (images-available, claimed, ..., final-report, routed-to-backup) plus requested and
escalated. Critical-value steps (Communication.category), CodeSystem
urn:consortium-hub:critical-value-step: raised, double-checked, delivered, acknowledged,
resolved, escalated.
"""

from __future__ import annotations

from typing import Any

from connectors.member.fhir.referral_codes import member_of
from connectors.member.fhir.resources import References, Resource, codings, concept_text
from connectors.member.mapping import Rejected, RejectReason
from schemas.models.remote_read import CriticalAction, ReadAction, Reader, ReadModality
from schemas.reference.messages import text as msg

READ_REQUEST_SYSTEM = "urn:consortium-hub:read-request-id"
SERVICE_KIND_SYSTEM = "urn:consortium-hub:service-kind"
REMOTE_READ = "remote-read"
BUSINESS_STATUS_SYSTEM = "urn:consortium-hub:remote-read-business-status"
CRITICAL_STEP_SYSTEM = "urn:consortium-hub:critical-value-step"
CRITICAL_ID_SYSTEM = "urn:consortium-hub:critical-value-id"
REPORT_ID_SYSTEM = "urn:consortium-hub:read-report-id"
REVIEWER_EXTENSION = "urn:consortium-hub:fhir:report-reviewer"  # valueReference Practitioner
REPLACES_EXTENSION = "urn:consortium-hub:fhir:report-replaces"  # valueIdentifier / valueString
AMEND_REASON_EXTENSION = "urn:consortium-hub:fhir:amend-reason"  # valueString
SETTING_EXTENSION = "urn:consortium-hub:fhir:patient-setting"  # valueCode OUTPATIENT, ...
COMPLEX_EXTENSION = "urn:consortium-hub:fhir:complex-study"  # valueBoolean
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CRITICAL_INTERPRETATIONS = frozenset({"AA", "HH", "LL"})  # v3-ObservationInterpretation

BUSINESS_STATUSES: dict[str, ReadAction] = {
    action.value.lower().replace("_", "-"): action for action in ReadAction}
BUSINESS_LABELS: dict[str, str] = {
    "requested": "已申请", "images-available": "影像已就绪", "claimed": "已认领",
    "released": "已释放", "reassigned": "已转派", "info-requested": "需补充资料",
    "info-provided": "已补充资料", "preliminary-report": "初步报告", "final-report": "已审核",
    "amended-report": "已修订", "corrected-report": "已更正", "cancelled": "已取消",
    "routed-to-backup": "已转备用中心", "escalated": "已超时升级",
}
BUSINESS_WORDS = {label: code for code, label in BUSINESS_LABELS.items()}
CRITICAL_STEPS: dict[str, CriticalAction] = {
    action.value.lower().replace("_", "-"): action for action in CriticalAction}
CRITICAL_LABELS: dict[str, str] = {
    "raised": "危急值已发出", "double-checked": "危急值已复核", "delivered": "危急值已送达",
    "acknowledged": "危急值已接收复述", "resolved": "危急值已处置", "escalated": "危急值已升级"}
CRITICAL_WORDS = {"复述": "acknowledged", "接收": "acknowledged", "处置": "resolved",
                  "处理": "resolved", "复核": "double-checked"}

# DICOM modality codes, HL7 table 0074 sections, and the words of Chinese order names
MODALITY_CODES: dict[str, ReadModality] = {
    "CT": ReadModality.CT, "MR": ReadModality.MR, "MRI": ReadModality.MR,
    "NMR": ReadModality.MR, "DX": ReadModality.DR, "DR": ReadModality.DR,
    "CR": ReadModality.DR, "RAD": ReadModality.DR, "RX": ReadModality.DR,
    "MG": ReadModality.DR, "US": ReadModality.US, "RUS": ReadModality.US,
    "ECG": ReadModality.ECG, "EC": ReadModality.ECG, "EKG": ReadModality.ECG,
    "SP": ReadModality.PATHOLOGY, "PAT": ReadModality.PATHOLOGY, "SM": ReadModality.PATHOLOGY,
    "CP": ReadModality.PATHOLOGY, "PATHOLOGY": ReadModality.PATHOLOGY,
}
DICOM_MODALITIES = "http://dicom.nema.org/resources/ontology/DCM"
OUT_MODALITY_CODES = {ReadModality.CT: "CT", ReadModality.MR: "MR", ReadModality.DR: "DX",
                      ReadModality.US: "US", ReadModality.ECG: "ECG",
                      ReadModality.PATHOLOGY: "SM"}
MODALITY_NAMES = {ReadModality.CT: "CT", ReadModality.MR: "磁共振", ReadModality.DR: "X线",
                  ReadModality.US: "超声", ReadModality.ECG: "心电", ReadModality.PATHOLOGY: "病理"}
MODALITY_WORDS = (("病理", ReadModality.PATHOLOGY), ("心电", ReadModality.ECG),
                  ("磁共振", ReadModality.MR), ("MRI", ReadModality.MR),
                  ("超声", ReadModality.US), ("彩超", ReadModality.US), ("B超", ReadModality.US),
                  ("CT", ReadModality.CT), ("X线", ReadModality.DR), ("DR", ReadModality.DR),
                  ("平片", ReadModality.DR), ("胸片", ReadModality.DR))


def code_words(value: str) -> str:
    """A status as the CodeSystems spell it (FINAL_REPORT -> final-report)."""
    return value.strip().lower().replace("_", "-")


def organization_member(reference: Any, refs: References, holder: Resource) -> str | None:
    """The member an Organization (or PractitionerRole) reference names; None for a
    Practitioner or anything else."""
    if reference is None:
        return None
    target = refs.resolve(reference, holder)
    kind = target.get_resource_type() if target is not None else (
        reference.type or (reference.reference or "").split("/")[0])
    if kind not in ("Organization", "PractitionerRole", "", None):
        return None
    return member_of(reference, refs, holder)


def business_concept(code: str) -> dict[str, Any]:
    """Task.businessStatus as the hub writes it: our code and its Chinese label."""
    code = code_words(code)
    label = BUSINESS_LABELS.get(code, code)
    return {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code, "display": label}],
            "text": label}


def says_remote_read(concepts: list[Any]) -> bool:
    for concept in concepts:
        if any(code.lower() == REMOTE_READ for _, code, _ in codings(concept)):
            return True
        text = (concept.text or "") if concept is not None else ""
        if "远程诊断" in text or "远程阅片" in text:
            return True
    return False


def is_remote_read_request(sr: Resource, refs: References) -> bool:
    if says_remote_read([*(sr.category or []), sr.code]):
        return True
    return any(t.get_resource_type() == "Task" and t.focus is not None
               and refs.resolve(t.focus, t) is sr and says_remote_read([t.code])
               for t in refs.resources())


def business_status(task: Resource) -> str | None:
    """The business status a Task names (our code in any system, or its Chinese label)."""
    concept = task.businessStatus
    for _, code, _ in codings(concept):
        if code_words(code) in BUSINESS_STATUSES or code_words(code) == "requested":
            return code_words(code)
    text = (concept.text or "").strip() if concept is not None else ""
    return BUSINESS_WORDS.get(text)


def hub_request_id(identifiers: list[Any]) -> str | None:
    return next((str(i.value) for i in identifiers
                 if i is not None and i.system == READ_REQUEST_SYSTEM and i.value), None)


def accession_of(sr: Resource) -> str | None:
    """The examining member's accession number: an identifier of type ACSN, else one whose
    system speaks of accession, else the first one not the hub's."""
    own = [i for i in sr.identifier or [] if i.value and i.system != READ_REQUEST_SYSTEM]
    typed = [i for i in own if i.type is not None and "ACSN" in [c for _, c, _ in codings(i.type)]]
    named = [i for i in own if "accession" in (i.system or "").lower()]
    chosen = (typed or named or own or [None])[0]
    return str(chosen.value).strip() if chosen is not None else None


def request_of_service_request(ctx_member: str, sr: Resource, refs: References) -> str | None:
    """The read request a remote-read ServiceRequest is: the hub's identifier, else the
    requester member (the sender when none) and the accession."""
    named = hub_request_id(list(sr.identifier or []))
    if named is not None:
        return named
    accession = accession_of(sr)
    if accession is None:
        return None
    examining = organization_member(sr.requester, refs, sr)
    return f"{examining or ctx_member}:{accession}"


def request_named(ctx_member: str, holder: Resource, references: list[Any],
                  refs: References) -> str | None:
    """The read request one of these references (or the holder's identifiers) names."""
    for reference in references:
        if reference is None:
            continue
        named = hub_request_id([reference.identifier])
        if named is not None:
            return named
        target = refs.resolve(reference, holder)
        if target is not None and target.get_resource_type() == "ServiceRequest" \
                and is_remote_read_request(target, refs):
            return request_of_service_request(ctx_member, target, refs)
    return hub_request_id(list(getattr(holder, "identifier", None) or []))


def require_request(ctx_member: str, holder: Resource, references: list[Any],
                    refs: References, location: str) -> str:
    """The read request named, refused precisely when none is or it is no
    '<examining member>:<accession>'."""
    rid = request_named(ctx_member, holder, references, refs)
    if rid is None or ":" not in rid:
        raise Rejected(RejectReason.MISSING_FIELD if rid is None else RejectReason.INVALID_VALUE,
                       msg("connector.fhir_remote_read_no_request"), location)
    return rid


def reader_of(reference: Any, refs: References, holder: Resource) -> Reader | None:
    """A Practitioner (directly, or a PractitionerRole's) as a Reader: its first identifier
    value (the member's staff id), else its id; the name; the qualification as title."""
    if reference is None:
        return None
    target = refs.resolve(reference, holder)
    title = None
    if target is not None and target.get_resource_type() == "PractitionerRole":
        title = concept_text(next(iter(target.code or []), None))
        reference, holder = target.practitioner, target
        target = refs.resolve(reference, holder) if reference is not None else None
        if reference is None:
            return None
    kind = target.get_resource_type() if target is not None else (
        reference.type or (reference.reference or "Practitioner/").split("/")[0])
    if kind != "Practitioner":  # an Organization, a Device: no reader
        return None
    identifiers = [reference.identifier] if reference.identifier is not None else []
    identifiers += list(getattr(target, "identifier", None) or [])
    staff_id = next((str(i.value) for i in identifiers if i.value), None)
    if staff_id is None and target is not None and target.id:
        staff_id = str(target.id)
    if staff_id is None and reference.reference and "Practitioner/" in reference.reference:
        staff_id = reference.reference.rstrip("/").split("/")[-1]
    if staff_id is None:
        return None
    name = None
    for human in getattr(target, "name", None) or []:
        name = human.text or "".join([human.family or "", *(human.given or [])]) or None
        if name:
            break
    qualification = next((concept_text(q.code) for q in getattr(target, "qualification", None)
                          or [] if concept_text(q.code)), None)
    return Reader(reader_id=staff_id, name=name or reference.display or None,
                  title=title or qualification)
