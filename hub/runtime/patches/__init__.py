"""Patches of Faust's and aiokafka's internals (listed and judged in the next commit)."""
