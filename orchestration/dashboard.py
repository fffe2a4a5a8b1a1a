"""The executives' KPI dashboard, rebuilt after each daily run."""

import dagster as dg

from dashboard.build import build_dashboard
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
    deps=[PERFORMANCE_KEY, *[silver_key(spec) for spec in SOURCES.values()]],
    description="The KPI gold tables (gold/kpi_daily, kpi_weekly, kpi_drugs, kpi_quality, kpi_selection) rebuilt "
    "from the lake as of the day, and publish/dashboard/index.html: one self-contained page (Plotly, styles and "
    "data inlined; no network), Korean and English, channel filter and date range, the week's price and supply "
    "alerts and the top under-valuation and PCCC-misuse cases (masked).",
)
def kpi_dashboard(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    """Rebuild the KPI tables and the page as of the run's last day."""
    board = build_dashboard(spark.session(), lake.settings(), partition_days(context)[-1])
    context.log.info(f"dashboard as of {board.last_day}: {board.path} ({board.size_bytes / 1e6:.1f} MB)")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(board.path)),
        "size_mb": round(board.size_bytes / 1e6, 2),
        "as_of": board.last_day.isoformat(),
        "headline": dg.MetadataValue.md(board.markdown()),
    })


dashboard_assets = [kpi_dashboard]
