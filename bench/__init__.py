"""Benchmarks for airflow-provider-drip (issue #7): ``python -m bench`` runs them all.

Each benchmark module is runnable on its own (``python -m bench.throughput`` ...), prints a table
and writes JSON (with the machine it ran on) under ``bench/results/``.
"""
