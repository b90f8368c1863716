"""Benchmarks for the issue "Performance proof": one command each, see bench/README.md."""
