"""What a member's IT staff run at their hospital: the protocol connectors (HL7 v2 over
MLLP, FHIR R4, CSV batch), the SDK, the feedback delivery back to the HIS, and the
follower of the hub's reference data."""
