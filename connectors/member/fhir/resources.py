"""Reading FHIR R4 resources: JSON validated with fhir.resources (its R4B models, the R4
line), references resolved inside a Bundle or among contained resources, and the small
readers the mapping uses (codings, identifiers, times)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from connectors.member.mapping import Rejected, RejectReason
from schemas.reference.messages import text as msg

LOINC = "http://loinc.org"
ICD10_SYSTEMS = frozenset({
    "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn",
    "urn:oid:2.16.840.1.113883.6.3",
})
DICOM_UID = "urn:dicom:uid"

Resource = Any  # a validated fhir.resources model (the package ships no type information)


class InvalidResource(ValueError):
    """The body is not valid FHIR R4 (HTTP 400); `issues` are (expression, diagnostics)."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in issues))
        self.issues = issues


def _expression(root: str, loc: Iterable[Any]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_resource(data: Any, root: str | None = None) -> Resource:
    """Validate JSON as the FHIR resource its `resourceType` names."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise InvalidResource([(root or "(body)", "not a FHIR resource: no resourceType")])
    kind = data["resourceType"]
    root = root or kind
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        raise InvalidResource([(root, f"{kind!r} is not a FHIR R4 resource type")]) from None
    if kind == "Bundle":
        for index, entry in enumerate(data.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if resource is not None:
                parse_resource(resource, f"{root}.entry[{index}].resource")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidResource(
            [(_expression(root, e["loc"]), e["msg"]) for e in exc.errors()]
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidResource([(root, f"not valid FHIR R4: {exc!r}")]) from None


def content_key(resource: Resource) -> str:
    """What identifies a resource across resends: its first business identifier, else its
    id, else a hash of its content (so the same resource sent twice gives the same key)."""
    for identifier in getattr(resource, "identifier", None) or []:
        if identifier.value:
            return f"{identifier.system or ''}|{identifier.value}"
    if resource.id:
        return f"id|{resource.id}"
    canonical = json.dumps(json.loads(resource.model_dump_json(exclude_none=True)),
                           sort_keys=True, ensure_ascii=False)
    return "sha256|" + hashlib.sha256(canonical.encode()).hexdigest()


class References:
    """Resources a reference can point to: Bundle entries (by fullUrl and Type/id) and
    the contained resources of the resource being mapped (#id)."""

    def __init__(self, entries: Iterable[tuple[str | None, Resource]] = ()) -> None:
        self._by_ref: dict[str, Resource] = {}
        for full_url, resource in entries:
            self.add(full_url, resource)

    def add(self, full_url: str | None, resource: Resource) -> None:
        if full_url:
            self._by_ref[full_url] = resource
        if resource.id:
            self._by_ref[f"{resource.get_resource_type()}/{resource.id}"] = resource

    def resources(self) -> list[Resource]:
        """Every resource these references can reach, each once."""
        return list({id(r): r for r in self._by_ref.values()}.values())

    def including_contained(self, holder: Resource) -> References:
        """These references plus the holder's contained resources, so that resources
        contained in a report can point at each other (#id)."""
        merged = References()
        merged._by_ref = {**self._by_ref, **{
            f"#{c.id}": c for c in getattr(holder, "contained", None) or [] if c.id}}
        return merged

    def resolve(self, reference: Any, holder: Resource) -> Resource | None:
        ref = getattr(reference, "reference", None)
        if not ref:
            return None
        if ref.startswith("#"):
            for contained in getattr(holder, "contained", None) or []:
                if contained.id == ref[1:]:
                    return contained
            return self._by_ref.get(ref)
        if ref in self._by_ref:
            return self._by_ref[ref]
        tail = "/".join(ref.rstrip("/").split("/")[-2:])  # absolute URL of Type/id
        return self._by_ref.get(tail)


def codings(concept: Any) -> list[tuple[str, str, str]]:
    """(system, code, display) of each coding of a CodeableConcept."""
    if concept is None:
        return []
    return [(c.system or "", c.code or "", c.display or "") for c in concept.coding or []
            if c.code]


def concept_text(concept: Any) -> str | None:
    if concept is None:
        return None
    return concept.text or next((d for _, _, d in codings(concept) if d), None)


def local_and_loinc(concept: Any) -> tuple[str | None, str | None]:
    """The member's own code (first non-LOINC coding) and the LOINC code, if sent."""
    local = next((code for system, code, _ in codings(concept) if system != LOINC), None)
    loinc = next((code for system, code, _ in codings(concept) if system == LOINC), None)
    return local, loinc


def to_datetime(value: Any, zone: ZoneInfo, location: str) -> datetime | None:
    """A FHIR date, dateTime or instant as UTC; a date or a time without offset is local."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)
    parts = str(value).split("-")
    try:
        day = date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                   int(parts[2][:2]) if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.fhir_not_date", value=value),
                       location) from None
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def to_date(value: Any, zone: ZoneInfo, location: str) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    at = to_datetime(value, zone, location)
    return at.astimezone(zone).date() if at is not None else None
