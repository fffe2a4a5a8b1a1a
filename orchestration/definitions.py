"""The one Dagster `defs`: assets of every source, their checks, the job, schedule and sensor."""

from __future__ import annotations

import dagster as dg

from jobs.sources import SOURCES
from orchestration.automation import build_landing_sensor, daily_schedule
from orchestration.dashboard import build_dashboard_sensor, dashboard_assets, kpi_dashboard_job
from orchestration.ingestion import build_ingestion_assets
from orchestration.markets import market_assets, weekly_markets, weekly_markets_schedule
from orchestration.partitions import daily_partitions
from orchestration.resources import resources_for_env
from orchestration.targets import target_assets
from orchestration.training import selector_assets, weekly_training, weekly_training_schedule

ingestion_assets = [a for spec in SOURCES.values() for a in build_ingestion_assets(spec)]

# One process per run: every step shares one SparkSession instead of starting a JVM per step.
daily_pipeline = dg.define_asset_job(
    "daily_pipeline",
    selection=dg.AssetSelection.groups("ingestion", "targets", "dashboard"),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Everything for one delivery day: landing -> bronze -> silver/quarantine, the entity "
    "state, the day's scored target lists per channel (published under publish/targets/<day>/) and the "
    "feedback table, and the KPI dashboard (publish/dashboard/index.html).",
)
ingestion = dg.define_asset_job(
    "ingestion",
    selection=dg.AssetSelection.groups("ingestion"),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Landing -> bronze -> silver/quarantine only (a backfill of history before selectors exist).",
)

defs = dg.Definitions(
    assets=[*ingestion_assets, *selector_assets, *target_assets, *market_assets, *dashboard_assets],
    jobs=[daily_pipeline, ingestion, weekly_training, weekly_markets, kpi_dashboard_job],
    schedules=[daily_schedule(daily_pipeline), weekly_training_schedule, weekly_markets_schedule],
    sensors=[build_landing_sensor(daily_pipeline), build_dashboard_sensor(weekly_markets)],
    resources=resources_for_env(),
    executor=dg.in_process_executor,
)
