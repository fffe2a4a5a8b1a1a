"""The executives' KPI dashboard, rebuilt after each daily run."""

import datetime as dt

import dagster as dg

from dashboard.build import build_dashboard, latest_day
from jobs.sources import SOURCES
from orchestration.ingestion import silver_key
from orchestration.partitions import daily_partitions, partition_days
from orchestration.resources import LakeResource, SparkResource
from orchestration.targets import PERFORMANCE_KEY

EXECUTIVES = "team:executive_office"


@dg.asset(
    key=["publish", "kpi_dashboard"],
    group_name="dashboard",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="dashboard",
    kinds={"spark", "delta", "html"},
    owners=[EXECUTIVES],
    tags={"domain": "kpi", "layer": "publish"},
    deps=[PERFORMANCE_KEY, *[silver_key(spec) for spec in SOURCES.values()],
          # The page shows the latest week the weekly checks evaluated: for a daily run of day D the
          # week before D's (the rebuild after the weekly run, partition Sunday, reads that week).
          *[dg.AssetDep(dg.AssetKey(["gold", table]),
                        partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))
            for table in ("price_surges", "supply_alerts")]],
    description="The KPI gold tables (gold/kpi_daily, kpi_weekly, kpi_drugs, kpi_quality, kpi_selection) rebuilt "
    "from the lake as of the day, and publish/dashboard/index.html: one self-contained page (Plotly, styles and "
    "data inlined; no network), Korean and English, channel filter and date range, the week's price and supply "
    "alerts and the top under-valuation and PCCC-misuse cases (masked).",
)
def kpi_dashboard(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    """Rebuild the KPI tables and the page as of the run's last day, or the lake's latest record
    day when that is later (a backfill of an old day never rolls the page back)."""
    session, settings = spark.session(), lake.settings()
    as_of = max(d for d in (partition_days(context)[-1], latest_day(session, settings)) if d is not None)
    board = build_dashboard(session, settings, as_of)
    context.log.info(f"dashboard as of {board.last_day}: {board.path} ({board.size_bytes / 1e6:.1f} MB)")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(board.path)),
        "size_mb": round(board.size_bytes / 1e6, 2),
        "as_of": board.last_day.isoformat(),
        "headline": dg.MetadataValue.md(board.markdown()),
    })


dashboard_assets = [kpi_dashboard]

kpi_dashboard_job = dg.define_asset_job(
    "kpi_dashboard", selection=dg.AssetSelection.groups("dashboard"), partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Rebuild the KPI tables and publish/dashboard/index.html (as of the lake's latest day).",
)


def week_end_of_run(tags: dict[str, str]) -> str | None:
    """The Sunday ending the (last) week a weekly run covered, from its partition tags."""
    monday = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
    return (dt.date.fromisoformat(monday) + dt.timedelta(days=6)).isoformat() if monday else None


def build_dashboard_sensor(weekly_job: dg.JobDefinition) -> dg.SensorDefinition:
    """After the weekly price and supply checks succeed, rebuild the dashboard so executives see
    the new week's alerts the same morning (the daily run that built it came first)."""

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[weekly_job],
                          request_job=kpi_dashboard_job, name="dashboard_after_weekly_checks",
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Rebuilds the KPI dashboard after each successful weekly_markets run.")
    def dashboard_after_weekly_checks(context: dg.RunStatusSensorContext):
        day = week_end_of_run(context.dagster_run.tags)
        if day is None:
            return dg.SkipReason("the weekly run carried no week partition")
        return dg.RunRequest(run_key=f"dashboard-after-{context.dagster_run.run_id}", partition_key=day)

    return dashboard_after_weekly_checks
