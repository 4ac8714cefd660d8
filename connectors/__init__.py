"""Member-side software: the SDK, protocol connectors (HL7 v2/MLLP, FHIR, CSV), the CDC sink
and the central pharmacy's view. Never imports `hub`."""
