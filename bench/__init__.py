"""Benchmarks run by ``make bench`` (``bench/run.py``); not part of the tests."""
