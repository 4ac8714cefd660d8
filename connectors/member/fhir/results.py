"""Observation → LabResult; DiagnosticReport → ImagingReport (imaging categories or an
examination code) or one LabResult per Observation in `result`; ImagingStudy →
ImagingReport. Interpretation codes (v3-ObservationInterpretation) are the same letters as
HL7 table 0078; a DiagnosticReport's imaging category is a section of HL7 table 0074
(RAD, CT, NMR, US, ...), a DICOM modality code, or the LOINC radiology class LP29684-5."""

from __future__ import annotations

from connectors.member.fhir.context import FhirContext, status_of
from connectors.member.fhir.patients import subject_patient
from connectors.member.fhir.resources import (
    DICOM_UID,
    References,
    Resource,
    codings,
    concept_text,
    local_and_loinc,
)
from connectors.member.hl7.results import ABNORMAL_FLAGS
from connectors.member.mapping import Rejected, RejectReason, modality_of
from schemas.models import Event, ImagingReport, LabResult
from schemas.models.clinical import Modality, ResultStatus
from schemas.reference.messages import text as msg

# entered-in-error retracts the result sent before with the same identifier (else basedOn,
# else id) and code for the same patient. A report (DiagnosticReport) sent before and now
# cancelled is withdrawn too; an Observation cancelled was never done, and is refused.
OBSERVATION_STATUSES: dict[str, ResultStatus] = {
    "final": ResultStatus.FINAL, "amended": ResultStatus.CORRECTED,
    "corrected": ResultStatus.CORRECTED, "preliminary": ResultStatus.PRELIMINARY,
    "entered-in-error": ResultStatus.RETRACTED,
}
REPORT_STATUSES: dict[str, ResultStatus] = {
    **OBSERVATION_STATUSES, "appended": ResultStatus.CORRECTED,
    "partial": ResultStatus.PRELIMINARY, "cancelled": ResultStatus.RETRACTED,
}
STUDY_STATUSES: dict[str, ResultStatus] = {
    "available": ResultStatus.FINAL, "registered": ResultStatus.PRELIMINARY,
}
RADIOLOGY_CLASS = "LP29684-5"
VALUE_FIELDS = ("valueQuantity", "valueInteger", "valueString", "valueCodeableConcept",
                "valueBoolean")
TIMES = ("issued", "effectiveDateTime", "effectivePeriod")


def _value(obs: Resource) -> tuple[float | None, str | None, str | None]:
    """(numeric value, text value, unit) of an Observation's value[x]."""
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        quantity = obs.valueQuantity
        return float(quantity.value), None, quantity.unit or quantity.code
    if obs.valueInteger is not None:
        return float(obs.valueInteger), None, None
    if obs.valueString:
        return None, str(obs.valueString), None
    if obs.valueCodeableConcept is not None:
        text = concept_text(obs.valueCodeableConcept)
        code = next((c for _, c, _ in codings(obs.valueCodeableConcept)), None)
        return None, text or code, None
    if obs.valueBoolean is not None:
        return None, "true" if obs.valueBoolean else "false", None
    absent = concept_text(obs.dataAbsentReason) if obs.dataAbsentReason else None
    reason = msg("connector.data_absent", absent=absent) if absent else msg("connector.no_value")
    raise Rejected(RejectReason.MISSING_FIELD, reason, "Observation.value[x]")


def _reference_range(obs: Resource) -> str | None:
    for rng in obs.referenceRange or []:
        if rng.text:
            return str(rng.text)
        low = rng.low.value if rng.low is not None else None
        high = rng.high.value if rng.high is not None else None
        if low is not None or high is not None:
            return f"{'' if low is None else low}-{'' if high is None else high}"
    return None


def _own_ref(resource: Resource) -> str | None:
    """The resource's own business identifier, else its id (what a retraction names)."""
    return next((str(i.value) for i in resource.identifier or [] if i.value),
                None) or resource.id or None


def lab_result(ctx: FhirContext, obs: Resource, refs: References,
               order_ref: str | None = None, event_id: str | None = None,
               status: ResultStatus | None = None) -> LabResult:
    local, loinc = local_and_loinc(obs.code)
    item = ctx.codes.item(local, loinc, "Observation.code")
    status = status or status_of(obs, OBSERVATION_STATUSES)
    retracted = status is ResultStatus.RETRACTED
    has_value = any(getattr(obs, f) is not None for f in VALUE_FIELDS)
    value_numeric, value_text, unit = _value(obs) if has_value or not retracted \
        else (None, None, None)
    flag = None
    for interpretation in obs.interpretation or []:
        for _, code, _ in codings(interpretation):
            if code.upper() not in ABNORMAL_FLAGS:
                raise Rejected(RejectReason.UNMAPPED_CODE, msg("connector.interpretation",
                                                               code=code),
                               "Observation.interpretation")
            flag = flag or ABNORMAL_FLAGS[code.upper()]
    reported_at = ctx.first_time(obs, *TIMES)
    based_on = next((b.identifier.value if b.identifier is not None else b.reference
                     for b in obs.basedOn or []), None)
    order_ref = order_ref or based_on or _own_ref(obs)
    if retracted and order_ref is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.retraction_no_order"),
                       "Observation.identifier")
    # the retraction of a resource keeps its identifier: its event is a new one
    suffix = ("retracted",) if retracted else ()
    return LabResult(
        envelope=LabResult.new_envelope(ctx.member_id,
                                        event_id=event_id or ctx.event_id(obs, *suffix),
                                        occurred_at=reported_at),
        patient=subject_patient(obs, refs, ctx.zone), item_code=item.code,
        local_code=local or loinc or item.code, loinc=loinc or item.loinc,
        item_name=concept_text(obs.code) or item.name, order_ref=order_ref,
        value_numeric=value_numeric, value_text=value_text, unit=unit,
        reference_range=_reference_range(obs), abnormal_flag=flag,
        specimen=obs.specimen.display if obs.specimen is not None else None,
        method=concept_text(obs.method), status=status,
        reported_at=reported_at,
    )


def _report_modality(ctx: FhirContext, report: Resource) -> Modality | None:
    for category in report.category or []:
        for system, code, _ in codings(category):
            if code == RADIOLOGY_CLASS:
                return Modality.XRAY
            if modality_of(code) is not None and not system.endswith("observation-category"):
                return modality_of(code)
    local, _ = local_and_loinc(report.code)
    item = ctx.codes.items.resolve(ctx.member_id, local) if local else None
    return item.modality if item is not None and not item.is_lab else None


def _imaging_event(ctx: FhirContext, resource: Resource, refs: References, concept: object,
                   modality_hint: Modality | None, report_ref: str, status: ResultStatus,
                   conclusion: str | None, location: str, *fields: str) -> ImagingReport:
    local, loinc = local_and_loinc(concept)
    item = ctx.codes.item(local, loinc, location)
    modality = item.modality or modality_hint
    if item.is_lab or modality is None:
        raise Rejected(RejectReason.UNMAPPED_CODE, msg("connector.lab_not_exam", code=item.code),
                       location)
    reported_at = ctx.first_time(resource, *fields)
    suffix = ("retracted",) if status is ResultStatus.RETRACTED else ()
    return ImagingReport(
        envelope=ImagingReport.new_envelope(ctx.member_id,
                                            event_id=ctx.event_id(resource, *suffix),
                                            occurred_at=reported_at),
        patient=subject_patient(resource, refs, ctx.zone), item_code=item.code,
        local_code=local or loinc or item.code, item_name=concept_text(concept) or item.name,
        modality=modality, report_ref=report_ref, conclusion=conclusion, status=status,
        reported_at=reported_at,
    )


def diagnostic_report(ctx: FhirContext, report: Resource, refs: References) -> list[Event]:
    status = status_of(report, REPORT_STATUSES)
    modality = _report_modality(ctx, report)
    identifier = next((i.value for i in report.identifier or [] if i.value), None)
    if modality is not None:
        study = next((refs.resolve(s, report) for s in report.imagingStudy or []), None)
        study_uid = _study_uid(study) if study is not None else None
        ref = study_uid or identifier or report.id
        if not ref:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.fhir_no_report_ref"),
                           "DiagnosticReport.identifier")
        return [_imaging_event(ctx, report, refs, report.code, modality, ref, status,
                               report.conclusion, "DiagnosticReport.code", "issued",
                               "effectiveDateTime", "effectivePeriod")]
    if not report.result:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.report_without_results"),
                       "DiagnosticReport.result")
    events: list[Event] = []
    for index, reference in enumerate(report.result):
        obs = refs.resolve(reference, report)
        if obs is None or obs.get_resource_type() != "Observation":
            raise Rejected(RejectReason.MISSING_FIELD, msg(
                "connector.not_an_observation", reference=reference.reference or "-"),
                f"DiagnosticReport.result[{index}]")
        obs = _inherit(obs, report)
        # A report entered in error retracts every result in it.
        retracted = status is ResultStatus.RETRACTED
        # A contained Observation's id is only unique inside its report.
        contained = (reference.reference or "").startswith("#")
        suffix = ("retracted",) if retracted else ()
        event_id = ctx.event_id(report, "result", str(obs.id), *suffix) if contained else None
        events.append(lab_result(ctx, obs, refs.including_contained(report), identifier,
                                 event_id, status if retracted else None))
    return events


def _inherit(obs: Resource, report: Resource) -> Resource:
    """A result without its own subject or times takes the report's."""
    update: dict[str, object] = {}
    if obs.subject is None:
        update["subject"] = report.subject
    if all(getattr(obs, f) is None for f in TIMES):
        update.update({f: getattr(report, f) for f in TIMES})
    return obs.model_copy(update=update) if update else obs


def _study_uid(study: Resource) -> str | None:
    for identifier in study.identifier or []:
        if identifier.system == DICOM_UID and identifier.value:
            return str(identifier.value).removeprefix("urn:oid:")
    return None


def imaging_study(ctx: FhirContext, study: Resource, refs: References) -> list[Event]:
    status = status_of(study, STUDY_STATUSES)
    concept = next(iter(study.procedureCode or []), None)
    if concept is None:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_procedure_code"),
                       "ImagingStudy.procedureCode")
    dicom = next((modality_of(m.code) for m in study.modality or [] if m.code), None)
    accession = next((i.value for i in study.identifier or []
                      if i.type is not None and "ACSN" in [c for _, c, _ in codings(i.type)]),
                     None)
    ref = _study_uid(study) or accession or study.id
    if not ref:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.no_study_uid"),
                       "ImagingStudy.identifier")
    return [_imaging_event(ctx, study, refs, concept, dicom, ref, status, None,
                           "ImagingStudy.procedureCode", "started")]
