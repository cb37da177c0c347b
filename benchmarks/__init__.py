"""Benchmarks: run each as ``python -m benchmarks.<name>``; results in RESULTS.md."""
