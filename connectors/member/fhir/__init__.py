"""FHIR R4: an HTTP endpoint accepting resources and transaction Bundles, validated with
fhir.resources and mapped to hub events."""
