"""The words of the FHIR referral profile (two-way referral, 双向转诊), read and written by
referral.py, referral_task.py and referral_out.py: the consortium's code systems and
extensions, a referral's business statuses, Organizations as member ids, and the documents
that travel with a referral (病历随转) read from references.

Business statuses (Task.businessStatus), CodeSystem `urn:consortium-hub:referral-business-status`:
requested, received, info-requested, info-provided, accepted, rejected, referred-onward,
booked, rebooked, arrived, no-show, interim-report, completed, followed-up, cancelled,
expired (the hub's own). docs/member-integration.md, "双向转诊 (FHIR R4)", lists them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from connectors.member.fhir.resources import References, Resource, codings
from schemas.models.referral import DocumentKind, DocumentRef, ReferralAction
from schemas.reference.registry import Registry, load_registry

BUSINESS_STATUS_SYSTEM = "urn:consortium-hub:referral-business-status"
REFERRAL_ID_SYSTEM = "urn:consortium-hub:referral-id"  # value '<referrer>:<referral_ref>'
MEMBER_SYSTEM = "urn:consortium-hub:member"  # an Organization's member id
KIND_SYSTEM = "urn:consortium-hub:referral-kind"  # OUTPATIENT, ADMISSION, ...
REASON_SYSTEM = "urn:consortium-hub:referral-reason"  # the hub's coded reasons
DIRECTION_EXTENSION = "urn:consortium-hub:fhir:referral-direction"  # valueCode up/down/lateral
POOL_EXTENSION = "urn:consortium-hub:fhir:referral-pool"  # valueString: the reserved pool id
ONWARD_EXTENSION = "urn:consortium-hub:fhir:referred-onward-to"  # valueReference Organization
ESCALATION_EXTENSION = "urn:consortium-hub:fhir:escalation-level"  # valueInteger 1 or 2
STATUS_EVENT_EXTENSION = "urn:consortium-hub:fhir:referral-status-event"  # valueString
INSURANCE_EXTENSION = "urn:consortium-hub:fhir:insurance-continuity"  # sub-extensions below
INSURANCE_PARTS = ("insured-region", "first-admission", "first-settlement", "deductible-paid")
SNOMED = "http://snomed.info/sct"
PATIENT_REFERRAL = "3457005"  # SNOMED CT "Patient referral"
REFERRAL_CATEGORY_CODES = frozenset({PATIENT_REFERRAL, "306206005", "referral", "REFERRAL"})

BUSINESS_STATUSES: dict[str, ReferralAction] = {
    action.value.lower().replace("_", "-"): action for action in ReferralAction}
BUSINESS_LABELS: dict[str, str] = {
    "requested": "已申请", "received": "已接收", "info-requested": "需补充资料",
    "info-provided": "已补充资料", "accepted": "已同意", "rejected": "已拒绝",
    "referred-onward": "已转他院", "booked": "已预约", "rebooked": "已改约", "arrived": "已到诊",
    "no-show": "未到诊", "interim-report": "中期报告", "completed": "已完成",
    "followed-up": "已随访", "cancelled": "已取消", "expired": "已超时",
}


def business_code(value: str) -> str:
    """A business status as the CodeSystem spells it (BOOKED, INFO_REQUESTED -> info-requested)."""
    return value.strip().lower().replace("_", "-")


@cache
def consortium_registry() -> Registry:
    return load_registry()


def member_of(reference: Any, refs: References, holder: Resource) -> str | None:
    """The member an Organization reference (or a PractitionerRole's organization) names:
    an identifier of system urn:consortium-hub:member, else an id, identifier value or name
    that is a member's (in the Bundle, contained, or on the logical reference itself)."""
    if reference is None:
        return None
    registry = consortium_registry()
    names = {m.name: m.id for m in registry.members}
    target = refs.resolve(reference, holder)
    if target is not None and target.get_resource_type() == "PractitionerRole":
        return member_of(target.organization, refs, target)  # BSeR's requester and owner
    candidates: list[str] = []
    for identifier in ([reference.identifier] if reference.identifier is not None else []) + \
            list(getattr(target, "identifier", None) or []):
        if identifier.value and identifier.system == MEMBER_SYSTEM:
            return str(identifier.value).strip()
        if identifier.value:
            candidates.append(str(identifier.value).strip())
    if target is not None and target.id:
        candidates.append(target.id)
    if reference.reference:
        candidates.append(reference.reference.rstrip("/").split("/")[-1])
    for candidate in candidates:
        if registry.get(candidate) is not None:
            return candidate
    for name in (getattr(target, "name", None), reference.display):
        if name and name.strip() in names:
            return names[name.strip()]
    return None


def reference_id(reference: Any) -> str | None:
    """What a reference names: its identifier's value, else the id of `Type/id`."""
    if reference is None:
        return None
    if reference.identifier is not None and reference.identifier.value:
        return str(reference.identifier.value)
    if reference.reference:
        return str(reference.reference).rstrip("/").split("/")[-1].lstrip("#")
    return None


DOCUMENT_TYPES: dict[str, DocumentKind] = {  # LOINC document types of a DocumentReference
    "34133-9": DocumentKind.SUMMARY, "11488-4": DocumentKind.SUMMARY,
    "57133-1": DocumentKind.SUMMARY, "18842-5": DocumentKind.DISCHARGE_SUMMARY,
    "11502-2": DocumentKind.LAB_REPORT, "18748-4": DocumentKind.EXAM_REPORT,
    "18726-0": DocumentKind.EXAM_REPORT, "57833-6": DocumentKind.PRESCRIPTION,
    "18776-5": DocumentKind.REHABILITATION_PLAN,
}
RESOURCE_KINDS: dict[str, DocumentKind] = {
    "ImagingStudy": DocumentKind.DICOM_STUDY, "MedicationRequest": DocumentKind.PRESCRIPTION,
    "DiagnosticReport": DocumentKind.EXAM_REPORT, "CarePlan": DocumentKind.REHABILITATION_PLAN,
    "DocumentReference": DocumentKind.OTHER, "Observation": DocumentKind.LAB_REPORT,
}
DOCUMENT_RESOURCES = frozenset(RESOURCE_KINDS)


def _study_uid(study: Resource) -> str | None:
    for identifier in study.identifier or []:
        if identifier.system == "urn:dicom:uid" and identifier.value:
            return str(identifier.value).removeprefix("urn:oid:")
    return None


def document_ref(reference: Any, refs: References, holder: Resource,
                 default: DocumentKind = DocumentKind.OTHER) -> DocumentRef | None:
    """A document a reference points to, or None when it names no document resource."""
    target = refs.resolve(reference, holder)
    kind_name = target.get_resource_type() if target is not None else (
        reference.type or (reference.reference or "").split("/")[0].lstrip("#"))
    if kind_name not in DOCUMENT_RESOURCES:
        return None
    kind = RESOURCE_KINDS[kind_name]
    title = reference.display
    value = reference_id(reference) or ""
    if target is not None:
        if kind_name == "DocumentReference":
            coded = [code for _, code, _ in codings(target.type)]
            kind = next((DOCUMENT_TYPES[c] for c in coded if c in DOCUMENT_TYPES), default)
            title = title or target.description
        elif kind_name == "DiagnosticReport" and "LAB" in [
                c for concept in target.category or [] for _, c, _ in codings(concept)]:
            kind = DocumentKind.LAB_REPORT
        uid = _study_uid(target) if kind_name == "ImagingStudy" else None
        first = next((i.value for i in getattr(target, "identifier", None) or [] if i.value),
                     None)
        value = uid or first or (f"{kind_name}/{target.id}" if target.id else value)
    if not value:
        return None
    if kind is DocumentKind.OTHER:
        kind = default
    return DocumentRef(kind=kind, reference=value, title=title)
