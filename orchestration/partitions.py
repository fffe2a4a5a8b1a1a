"""The daily partitions every landing source and its tables share (one per delivery day)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from jobs.settings import Settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().partition_start, timezone="Asia/Seoul", end_offset=1
)


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The run's days, in order: one partition, or a whole range when a backfill runs as a single run."""
    return sorted(dt.date.fromisoformat(key) for key in context.partition_keys)
