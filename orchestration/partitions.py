"""The daily partitions every landing source and its tables share (one per delivery day)."""

from __future__ import annotations

import dagster as dg

from jobs.settings import Settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().partition_start, timezone="Asia/Seoul", end_offset=1
)
