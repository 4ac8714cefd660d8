"""Which resource goes to which mapping, and transaction Bundles: every entry is validated
and mapped before anything is published, so one bad entry refuses the whole Bundle.

Patient, Medication and Specimen entries are read only to resolve references (a Patient is
also kept in the local patient cache, like an ADT message). The same Observation reached
twice (as an entry and through a DiagnosticReport's `result`) gives one event: event ids
are deterministic and duplicates are dropped before publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors.fhir.context import FhirContext
from connectors.fhir.patients import best_identifier, patient_from_resource
from connectors.fhir.records import condition, medication_dispense, service_request
from connectors.fhir.resources import References, Resource
from connectors.fhir.results import diagnostic_report, imaging_study, lab_result
from connectors.mapping import Rejected, RejectReason
from schemas.models import Event
from schemas.reference.messages import text as msg

Mapper = Callable[[FhirContext, Resource, References], list[Event]]
MAPPERS: dict[str, Mapper] = {
    "Observation": lambda ctx, obs, refs: [lab_result(ctx, obs, refs)],
    "DiagnosticReport": diagnostic_report,
    "ImagingStudy": imaging_study,
    "Condition": condition,
    "ServiceRequest": service_request,
    "MedicationDispense": medication_dispense,
}
REFERENCE_ONLY = frozenset({"Patient", "Medication", "Specimen"})
ENTRY_METHODS = frozenset({"POST", "PUT"})


@dataclass(frozen=True, slots=True)
class MappedEntry:
    """One resource (alone or a Bundle entry) and the events it gives."""

    resource_type: str
    logical_id: str
    events: list[Event]

    @property
    def reference_only(self) -> bool:
        return self.resource_type in REFERENCE_ONLY


def _keep_patient(ctx: FhirContext, patient: Resource, location: str) -> None:
    identified = patient_from_resource(patient, ctx.zone, location)
    others = [best_identifier([i], location) for i in patient.identifier or [] if i.value]
    ctx.patients.store(identified, others)


def map_resource(ctx: FhirContext, resource: Resource, refs: References | None = None,
                 location: str | None = None) -> MappedEntry:
    kind = resource.get_resource_type()
    refs = refs or References()
    try:
        if kind == "Patient":
            _keep_patient(ctx, resource, kind)
            return MappedEntry(kind, ctx.event_id(resource), [])
        if kind in REFERENCE_ONLY and location is not None:  # alone, it would be lost
            return MappedEntry(kind, ctx.event_id(resource), [])
        mapper = MAPPERS.get(kind)
        if mapper is None:
            accepted = ", ".join([*MAPPERS, "Bundle (transaction)"])
            raise Rejected(RejectReason.UNSUPPORTED,
                           msg("connector.resource_type", kind=kind, accepted=accepted), kind)
        return MappedEntry(kind, ctx.event_id(resource), mapper(ctx, resource, refs))
    except Rejected as exc:
        if location is None or exc.location is None:
            raise
        where = location + exc.location[len(kind):] if exc.location.startswith(kind) \
            else f"{location} ({exc.location})"
        raise Rejected(exc.code, exc.text, where) from exc


def map_bundle(ctx: FhirContext, bundle: Resource) -> list[MappedEntry]:
    if bundle.type != "transaction":
        raise Rejected(RejectReason.UNSUPPORTED,
                       msg("connector.bundle_type", kind=bundle.type), "Bundle.type")
    entries = list(bundle.entry or [])
    if not entries:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.empty_bundle"), "Bundle.entry")
    refs = References((e.fullUrl, e.resource) for e in entries if e.resource is not None)
    mapped: list[MappedEntry] = []
    for index, entry in enumerate(entries):
        root = f"Bundle.entry[{index}]"
        if entry.resource is None:
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.entry_without_resource"),
                           f"{root}.resource")
        method = entry.request.method if entry.request is not None else None
        if method not in ENTRY_METHODS:
            raise Rejected(RejectReason.UNSUPPORTED,
                           msg("connector.request_method", method=method),
                           f"{root}.request.method")
        mapped.append(map_resource(ctx, entry.resource, refs, f"{root}.resource"))
    return mapped


def unique_events(entries: list[MappedEntry]) -> list[Event]:
    seen: set[str] = set()
    events: list[Event] = []
    for entry in entries:
        for event in entry.events:
            if event.envelope.event_id not in seen:
                seen.add(event.envelope.event_id)
                events.append(event)
    return events
