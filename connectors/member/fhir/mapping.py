"""Which resource goes to which mapping, and transaction Bundles: every entry is validated
and mapped before anything is published, so one bad entry refuses the whole Bundle.

Patient, Medication and Specimen entries are read only to resolve references (a Patient is
also kept in the local patient cache, like an ADT message). An occupation Observation (LOINC
11341-5, occupation.py) gives no event either: its group is kept with the patient in the
cache, and Patients and these Observations are handled before the other entries. The same
Observation reached twice (as an entry and through a DiagnosticReport's `result`) gives one
event: event ids are deterministic and duplicates are dropped before publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from connectors.member.fhir.context import FhirContext
from connectors.member.fhir.occupation import (
    is_occupation_observation,
    occupation_of,
    patient_occupation,
)
from connectors.member.fhir.patients import best_identifier, patient_from_resource, subject_patient
from connectors.member.fhir.records import condition, medication_dispense, service_request
from connectors.member.fhir.referral import is_referral, referral_request
from connectors.member.fhir.referral_task import referral_update
from connectors.member.fhir.remote_read import remote_read_request
from connectors.member.fhir.remote_read_codes import is_remote_read_request
from connectors.member.fhir.remote_read_report import (
    critical_answer,
    critical_observation,
    is_read_observation,
    names_read_request,
    read_report,
)
from connectors.member.fhir.remote_read_task import (
    images_available,
    is_remote_read_study,
    is_remote_read_task,
    remote_read_update,
)
from connectors.member.fhir.resources import References, Resource
from connectors.member.fhir.results import diagnostic_report, imaging_study, lab_result
from connectors.member.mapping import Rejected, RejectReason
from schemas.models import Event
from schemas.reference.messages import text as msg

Mapper = Callable[[FhirContext, Resource, References], list[Event]]
# A remote read (remote_read*.py) is told apart by what its resources name; the rest keeps
# its path (recognition, referral).
MAPPERS: dict[str, Mapper] = {
    "Observation": lambda ctx, obs, refs: (
        critical_observation(ctx, obs, refs) if is_read_observation(ctx, obs, refs)
        else [lab_result(ctx, obs, refs)]),
    "DiagnosticReport": lambda ctx, dr, refs: (
        read_report if names_read_request(ctx, dr, refs) else diagnostic_report)(ctx, dr, refs),
    "ImagingStudy": lambda ctx, st, refs: (
        images_available if is_remote_read_study(ctx, st, refs) else imaging_study)(
        ctx, st, refs),
    "Condition": condition,
    "ServiceRequest": lambda ctx, sr, refs: (
        referral_request if is_referral(sr) else remote_read_request
        if is_remote_read_request(sr, refs) else service_request)(ctx, sr, refs),
    "MedicationDispense": medication_dispense,
    "Task": lambda ctx, task, refs: (  # a step on a referral (referral_task.py) or a read
        remote_read_update if is_remote_read_task(ctx, task, refs) else referral_update)(
        ctx, task, refs),
    "Communication": critical_answer,  # a critical value's read-back (remote_read_report.py)
}
REFERENCE_ONLY = frozenset({"Patient", "Medication", "Specimen",
                            # read through a referral's references (referral*.py)
                            "Organization", "Practitioner", "PractitionerRole", "Coverage",
                            "DocumentReference", "MedicationRequest", "CarePlan", "Appointment",
                            "Slot", "Schedule", "Encounter",
                            # read through a remote read's references (remote_read*.py)
                            "Endpoint", "Provenance"})
ENTRY_METHODS = frozenset({"POST", "PUT"})


@dataclass(frozen=True, slots=True)
class MappedEntry:
    """One resource (alone or a Bundle entry) and the events it gives."""

    resource_type: str
    logical_id: str
    events: list[Event]
    kept: bool = False  # card data kept in the patient cache (an occupation Observation)
    warnings: tuple[Rejected, ...] = ()

    @property
    def reference_only(self) -> bool:
        return self.resource_type in REFERENCE_ONLY or self.kept


def _keep_patient(ctx: FhirContext, patient: Resource, location: str) -> tuple[Rejected, ...]:
    identified = patient_from_resource(patient, ctx.zone, location)
    others = [best_identifier([i], location) for i in patient.identifier or [] if i.value]
    ctx.patients.store(ctx.patients.complete(identified), others)
    warning = patient_occupation(patient, f"{location}.extension")[1]
    return (warning,) if warning is not None else ()


def _keep_occupation(ctx: FhirContext, obs: Resource, refs: References) -> tuple[Rejected, ...]:
    """Keep an occupation Observation's group with its patient in the patient cache."""
    group, warning = occupation_of(obs.valueCodeableConcept, obs.valueString,
                                   "Observation.value[x]")
    patient = subject_patient(obs, refs, ctx.zone)
    if group is not None:
        patient = ctx.patients.complete(patient).model_copy(update={"occupation": group})
        target = refs.resolve(obs.subject, obs)
        others = [best_identifier([i], "Observation.subject")
                  for i in getattr(target, "identifier", None) or [] if i.value]
        ctx.patients.store(patient, others)
    return (warning,) if warning is not None else ()


def _in_entry(problem: Rejected, kind: str, location: str | None) -> Rejected:
    """The problem located inside its Bundle entry (Condition.code ->
    Bundle.entry[2].resource.code)."""
    if location is None or problem.location is None:
        return problem
    where = location + problem.location[len(kind):] if problem.location.startswith(kind) \
        else f"{location} ({problem.location})"
    return Rejected(problem.code, problem.text, where)


def map_resource(ctx: FhirContext, resource: Resource, refs: References | None = None,
                 location: str | None = None) -> MappedEntry:
    kind = resource.get_resource_type()
    entry = _map_resource(ctx, resource, refs or References(), location)
    warnings = tuple(_in_entry(w, kind, location) for w in entry.warnings)
    return replace(entry, warnings=warnings) if warnings else entry


def _map_resource(ctx: FhirContext, resource: Resource, refs: References,
                  location: str | None) -> MappedEntry:
    kind = resource.get_resource_type()
    try:
        if kind == "Patient":
            warned = _keep_patient(ctx, resource, kind)
            return MappedEntry(kind, ctx.event_id(resource), [], warnings=warned)
        if is_occupation_observation(resource):
            warned = _keep_occupation(ctx, resource, refs)
            return MappedEntry(kind, ctx.event_id(resource), [], kept=True, warnings=warned)
        if kind in REFERENCE_ONLY and location is not None:  # alone, it would be lost
            return MappedEntry(kind, ctx.event_id(resource), [])
        mapper = MAPPERS.get(kind)
        if mapper is None:
            accepted = ", ".join([*MAPPERS, "Bundle (transaction)"])
            raise Rejected(RejectReason.UNSUPPORTED,
                           msg("connector.resource_type", kind=kind, accepted=accepted), kind)
        return MappedEntry(kind, ctx.event_id(resource), mapper(ctx, resource, refs))
    except Rejected as exc:
        located = _in_entry(exc, kind, location)
        if located is exc:
            raise
        raise located from exc


def map_bundle(ctx: FhirContext, bundle: Resource) -> list[MappedEntry]:
    if bundle.type != "transaction":
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.bundle_type", kind=bundle.type), "Bundle.type")
    entries = list(bundle.entry or [])
    if not entries:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.empty_bundle"), "Bundle.entry")
    refs = References((e.fullUrl, e.resource) for e in entries if e.resource is not None)
    mapped: dict[int, MappedEntry] = {}
    for index in sorted(range(len(entries)), key=lambda i: not _patient_data(entries[i])):
        entry = entries[index]
        root = f"Bundle.entry[{index}]"
        if entry.resource is None:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.entry_without_resource"),
                           f"{root}.resource")
        method = entry.request.method if entry.request is not None else None
        if method not in ENTRY_METHODS:
            raise Rejected(RejectReason.UNSUPPORTED,
                           msg("connector.request_method", method=method),
                           f"{root}.request.method")
        mapped[index] = map_resource(ctx, entry.resource, refs, f"{root}.resource")
    return [mapped[index] for index in range(len(entries))]


def _patient_data(entry: Resource) -> bool:
    """Patients and occupation Observations are kept first, so that every Condition of
    the Bundle finds them in the patient cache whatever the entries' order."""
    resource = entry.resource
    return resource is not None and (
        resource.get_resource_type() == "Patient" or is_occupation_observation(resource))


def unique_events(entries: list[MappedEntry]) -> list[Event]:
    seen: set[str] = set()
    events: list[Event] = []
    for entry in entries:
        for event in entry.events:
            if event.envelope.event_id not in seen:
                seen.add(event.envelope.event_id)
                events.append(event)
    return events
