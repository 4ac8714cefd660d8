"""The FHIR resources the endpoint answers with: OperationOutcome and CapabilityStatement."""

from __future__ import annotations

from typing import Any

FHIR_JSON = "application/fhir+json"


def operation_outcome(
    issues: list[tuple[str, str]], code: str, *, severity: str = "error"
) -> dict[str, Any]:
    """One issue per (FHIRPath expression, diagnostics) pair."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": severity, "code": code, "diagnostics": what, "expression": [where]}
            for where, what in issues
        ],
    }


def capability_statement(resource_types: list[str]) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2025-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "resource": [{"type": t, "interaction": [{"code": "create"}]}
                         for t in [*resource_types, "Patient"]],
            "interaction": [{"code": "transaction"}],
        }],
    }
