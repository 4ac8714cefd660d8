"""Benchmarks: `make bench` (or `python -m benchmarks`) prints the table and writes JSON."""
