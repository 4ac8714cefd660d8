"""HL7 v2: parsing messages and mapping them to hub events (ORU^R01 lab and imaging
results, MDM^T02 reports, ORM^O01/OML^O21 orders, ADT^A01/A04/A08 demographics and
diagnoses), and the acknowledgements. Transport is `connectors.member.mllp`'s job."""
