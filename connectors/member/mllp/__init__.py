"""MLLP, the Minimal Lower Layer Protocol HL7 v2 travels on: framing, a listener and a
client. It moves bytes only; parsing HL7 is `connectors.member.hl7`'s job."""
