"""HL7 v2: parsing messages and mapping them to hub events (ORU^R01 lab and imaging
results, MDM^T02 reports, ORM^O01/OML^O21 orders, ADT^A01/A04/A08 demographics and
diagnoses, REF^I12/I13/I14 and RRI^I12/I13 two-way referral), and the acknowledgements;
the hub's feedback and referral events as HL7 for the HIS. Transport is
`connectors.member.mllp`'s job."""
