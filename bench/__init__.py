"""Benchmarks on the lab (not timed tests): see deploy_bench.py and lab_bench.py."""
