"""The examining member's remote read (远程诊断申请) in: ServiceRequest (+ Task, ImagingStudy,
Endpoint) → ReadRequest.

ServiceRequest: accession = identifier of type ACSN (remote_read_codes.accession_of);
modality = a DICOM / HL7 0074 code in category, code or the ImagingStudy's modality, else
the item catalogue's, else a word of the order name (CT, 磁共振, 超声, 心电, 病理...);
local_code = the first non-LOINC coding of code; priority routine/urgent/asap/stat (the
Task's wins); setting = the extension urn:consortium-hub:fhir:patient-setting, else the
Encounter's class (AMB, IMP, EMER, or 体检 in its text); clinical question = note, else
reasonCode text; the ordering doctor = the requester Practitioner; the study = an
ImagingStudy of the Bundle (basedOn this request, or in supportingInfo) with its DICOM UID
and its Endpoint's address (WADO-RS); the ECG record or slide = another supportingInfo or
specimen identifier. Images are available when the Task says so (businessStatus
images-available or status ready: its lastModified) or the ImagingStudy is `available`
(its `started`).

The steps by Task, and an ImagingStudy alone: remote_read_task.py.
"""

from __future__ import annotations

from datetime import datetime

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.patients import subject_patient
from connectors.member.fhir.records import PRIORITIES
from connectors.member.fhir.remote_read_codes import (
    COMPLEX_EXTENSION,
    MODALITY_CODES,
    MODALITY_WORDS,
    SETTING_EXTENSION,
    accession_of,
    business_status,
    organization_member,
    reader_of,
)
from connectors.member.fhir.resources import (
    DICOM_UID,
    References,
    Resource,
    codings,
    concept_text,
    local_and_loinc,
    to_datetime,
)
from connectors.member.mapping import Rejected, RejectReason, not_in_future
from schemas.models import Event, deterministic_id
from schemas.models.clinical import Modality
from schemas.models.remote_read import (
    PatientSetting,
    ReadModality,
    ReadRequest,
    read_request_id,
)
from schemas.reference.messages import text as msg

CATALOGUE_MODALITIES = {Modality.XRAY: ReadModality.DR, Modality.CT: ReadModality.CT,
                        Modality.MRI: ReadModality.MR, Modality.ULTRASOUND: ReadModality.US,
                        Modality.ELECTROPHYSIOLOGY: ReadModality.ECG}
ENCOUNTER_CLASSES = {"AMB": PatientSetting.OUTPATIENT, "IMP": PatientSetting.INPATIENT,
                     "ACUTE": PatientSetting.INPATIENT, "EMER": PatientSetting.EMERGENCY}


def read_task(sr: Resource, refs: References) -> Resource | None:
    return next((t for t in refs.resources() if t.get_resource_type() == "Task"
                 and t.focus is not None and refs.resolve(t.focus, t) is sr), None)


def _study(sr: Resource, refs: References) -> Resource | None:
    for resource in refs.resources():
        if resource.get_resource_type() == "ImagingStudy" and any(
                refs.resolve(b, resource) is sr for b in resource.basedOn or []):
            return resource
    return next((t for t in (refs.resolve(r, sr) for r in sr.supportingInfo or [])
                 if t is not None and t.get_resource_type() == "ImagingStudy"), None)


def study_uid(study: Resource) -> str | None:
    for identifier in study.identifier or []:
        if identifier.value and (identifier.system == DICOM_UID
                                 or str(identifier.value).startswith("urn:oid:")):
            return str(identifier.value).removeprefix("urn:oid:")
    return None


def wado_url(study: Resource, refs: References) -> str | None:
    for reference in [*(study.endpoint or []),
                      *(e for s in study.series or [] for e in s.endpoint or [])]:
        endpoint = refs.including_contained(study).resolve(reference, study)
        if endpoint is not None and endpoint.address:
            return str(endpoint.address)
    return None


def _modality(ctx: FhirContext, sr: Resource, study: Resource | None,
              local: str | None) -> ReadModality:
    for concept in [*(sr.category or []), sr.code]:
        for _, code, _ in codings(concept):
            if code.upper() in MODALITY_CODES:
                return MODALITY_CODES[code.upper()]
    for coding in getattr(study, "modality", None) or []:
        if (coding.code or "").upper() in MODALITY_CODES:
            return MODALITY_CODES[str(coding.code).upper()]
    item = ctx.codes.items.resolve(ctx.member_id, local) if local else None
    if item is not None and item.modality in CATALOGUE_MODALITIES:
        return CATALOGUE_MODALITIES[item.modality]
    words = " ".join(filter(None, [concept_text(sr.code),
                                   *(concept_text(c) for c in sr.category or [])]))
    for word, modality in MODALITY_WORDS:
        if word in words.upper() or word in words:
            return modality
    raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_modality"),
                   "ServiceRequest.category")


def _setting(sr: Resource, refs: References) -> PatientSetting:
    for extension in sr.extension or []:
        if extension.url == SETTING_EXTENSION:
            value = str(extension.valueCode or extension.valueString or "").upper()
            if value not in PatientSetting.__members__:
                raise Rejected(RejectReason.INVALID_VALUE, msg(
                    "connector.fhir_remote_read_setting", value=value),
                    "ServiceRequest.extension")
            return PatientSetting[value]
    encounter = refs.resolve(sr.encounter, sr) if sr.encounter is not None else None
    if encounter is not None:
        if "体检" in (concept_text(next(iter(encounter.type or []), None)) or ""):
            return PatientSetting.PHYSICAL_EXAM
        code = (encounter.class_fhir.code if encounter.class_fhir is not None else "") or ""
        return ENCOUNTER_CLASSES.get(code.upper(), PatientSetting.OUTPATIENT)
    return PatientSetting.OUTPATIENT


def _record_ref(sr: Resource, refs: References) -> str | None:
    for reference in [*(sr.supportingInfo or []), *(sr.specimen or [])]:
        target = refs.resolve(reference, sr)
        if target is not None and target.get_resource_type() == "ImagingStudy":
            continue
        value = next((i.value for i in getattr(target, "identifier", None) or [] if i.value),
                     None) or (reference.identifier.value if reference.identifier else None)
        if value:
            return str(value)
    return None


def _doctor(sr: Resource, refs: References) -> str | None:
    if sr.requester is None:
        return None
    if organization_member(sr.requester, refs, sr) is not None:
        return None
    reader = reader_of(sr.requester, refs, sr)
    return reader.name if reader is not None else sr.requester.display


def _check_requester(ctx: FhirContext, sr: Resource, refs: References) -> None:
    member = organization_member(sr.requester, refs, sr)
    if member is not None and member != ctx.member_id:
        raise Rejected(RejectReason.INVALID_VALUE, msg(
            "connector.fhir_remote_read_not_sender", member=member, sender=ctx.member_id),
            "ServiceRequest.requester")


def _images_at(ctx: FhirContext, task: Resource | None,
               study: Resource | None) -> datetime | None:
    if task is not None and (task.status == "ready"
                             or business_status(task) == "images-available"):
        return to_datetime(task.lastModified or task.authoredOn, ctx.zone, "Task.lastModified")
    if study is not None and study.status == "available":
        return to_datetime(study.started, ctx.zone, "ImagingStudy.started")
    return None


def remote_read_request(ctx: FhirContext, sr: Resource, refs: References) -> list[Event]:
    refs = refs.including_contained(sr)
    accession = accession_of(sr)
    if accession is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_remote_read_accession"),
                       "ServiceRequest.identifier")
    _check_requester(ctx, sr, refs)
    task, study = read_task(sr, refs), _study(sr, refs)
    local, loinc = local_and_loinc(sr.code)
    if not (local or loinc):
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_item_code"),
                       "ServiceRequest.code")
    item = ctx.codes.items.resolve(ctx.member_id, local) if local else None
    item = item or (ctx.codes.items.by_loinc(loinc) if loinc else None)
    wanted = (task.priority if task is not None else None) or sr.priority or "routine"
    if wanted not in PRIORITIES:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.fhir_priority", priority=wanted), "ServiceRequest.priority")
    at = to_datetime(sr.authoredOn or (task.authoredOn if task else None), ctx.zone,
                     "ServiceRequest.authoredOn")
    if at is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_time", fields="authoredOn"),
                       "ServiceRequest.authoredOn")
    question = next((n.text for n in sr.note or [] if n.text), None) or concept_text(
        next(iter(sr.reasonCode or []), None)) or sr.patientInstruction
    complex_study = any(e.url == COMPLEX_EXTENSION and e.valueBoolean
                        for e in sr.extension or [])
    images_at = _images_at(ctx, task, study)
    rid = read_request_id(ctx.member_id, accession)
    return [ReadRequest(
        envelope=ReadRequest.new_envelope(
            ctx.member_id, event_id=deterministic_id(ctx.member_id, "fhir", "read", rid),
            occurred_at=not_in_future(at, "ServiceRequest.authoredOn")),
        patient=ctx.patients.complete(subject_patient(sr, refs, ctx.zone)),
        accession=accession, modality=_modality(ctx, sr, study, local),
        item_code=item.code if item is not None else None, local_code=local or loinc or "",
        item_name=concept_text(sr.code) or (item.name if item is not None else None),
        body_site=concept_text(next(iter(sr.bodySite or []), None)),
        priority=PRIORITIES[wanted], setting=_setting(sr, refs), complex_study=complex_study,
        clinical_question=question,
        study_uid=study_uid(study) if study is not None else None,
        record_ref=_record_ref(sr, refs),
        wado_url=wado_url(study, refs) if study is not None else None,
        ordering_doctor=_doctor(sr, refs),
        ordering_department=concept_text(next(iter(sr.locationCode or []), None)),
        ordered_at=at,
        images_available_at=not_in_future(images_at, "ImagingStudy.started")
        if images_at else None,
    )]
