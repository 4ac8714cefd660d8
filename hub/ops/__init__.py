"""Operator tools, run from the `hub` command: topic administration, Kafka ACLs, member
tokens, and the dead letters (listing, viewing, replaying)."""
