"""Benchmarks: plain scripts run as `python -m bench.<name>` (or `bench/run` for all of them).

Each prints a table (target beside measured value, pass or fail) and writes the same as JSON to
bench/results/. None of them is part of the test suite; tests/unit/test_bench_smoke.py only runs
each at a tiny size to check that it still produces a well-formed report.
"""
