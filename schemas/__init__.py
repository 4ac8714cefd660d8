"""Contracts shared by the hub and the connectors: Avro schemas, the pydantic
models they are generated from, the codec and the topic catalogue.

Nothing in this package imports from `hub` or `connectors`.
"""
