"""Benchmarks: scripts that print their figures and write JSON under benchmarks/results/."""
