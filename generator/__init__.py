"""Seeded generator of landing files for the demo, tests and benchmarks (see generator/README.md)."""
