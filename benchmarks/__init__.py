"""Benchmarks that are too slow for the test suite (DESIGN §8): `python -m benchmarks`."""
