"""Dagster orchestration: one `defs` in `orchestration.definitions`; everything else is thin."""
