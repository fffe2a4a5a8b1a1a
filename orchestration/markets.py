"""Weekly price-surge checks and the supply-chain early warning (weeks Monday to Sunday, Seoul)."""

import datetime as dt

import dagster as dg

from jobs.markets import WeekOutput, price_week, supply_week
from jobs.sources import DECLARATIONS, MONITORED_ITEMS
from orchestration.ingestion import silver_key
from orchestration.resources import LakeResource, SparkResource
from orchestration.table_metadata import delta_table_metadata

GROUP = "markets"
PRICE_TEAM = "team:price_monitoring"
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2020-01-06", day_offset=1, timezone="Asia/Seoul")
INPUTS = [silver_key(DECLARATIONS), silver_key(MONITORED_ITEMS)]


def weeks_of(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The Mondays of the run's week partitions (one, or a range run as a single-run backfill)."""
    return sorted(dt.date.fromisoformat(key) for key in context.partition_keys)


def _spec(name: str, description: str, deps: list) -> dg.AssetSpec:
    return dg.AssetSpec(["gold", name], description=description, deps=deps, group_name=GROUP,
                        kinds={"spark", "delta"}, owners=[PRICE_TEAM], tags={"domain": "markets", "layer": "gold"})


def _report(context: dg.AssetExecutionContext, spark, settings, outputs: list[WeekOutput], counted: str,
            count_name: str):
    """Each week partition gets its own figures; one result per asset for the run."""
    for output in outputs:
        for table, rows in output.rows.items():
            metadata = {"dagster/row_count": rows, "csv": dg.MetadataValue.path(str(output.files[table]))}
            if table == counted:
                metadata[count_name] = rows
            context.add_asset_metadata(metadata, asset_key=["gold", table], partition_key=output.week.isoformat())
    for table in outputs[-1].rows:
        by_week = {o.week.isoformat(): o.rows[table] for o in outputs}
        path = settings.table_path("gold", table)
        yield dg.MaterializeResult(asset_key=["gold", table], metadata={
            "rows_by_week": dg.MetadataValue.json(by_week), **delta_table_metadata(spark, path)})


def _run_weeks(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, batch,
               label: str, counted: str, count_name: str):
    """Run one weekly batch (`price_week` or `supply_week`) for each week of the run, then report."""
    settings = lake.settings()
    outputs = []
    for week in weeks_of(context):
        outputs.append(batch(spark.session(), settings, week))
        context.log.info(f"{label} {week}: {outputs[-1].rows} -> {outputs[-1].files}")
    yield from _report(context, spark.session(), settings, outputs, counted, count_name)


@dg.multi_asset(
    specs=[
        _spec("price_index", "Weekly import unit price (median KRW per kg, each declaration one vote) of the 86 "
              "price-disclosure and 831 surge-check items, over all origins and per origin with enough declarations, "
              "with the declarations, kg and KRW behind each figure. CSV: publish/prices/<week>/price_index.csv.",
              INPUTS),
        _spec("price_surges", "Items whose price rose beyond the surge rule against their own trailing 8-week "
              "baseline (per HS6 code) and the same week a year earlier where it exists; each flag states how much, "
              "against what, and on how many declarations. CSV: publish/prices/<week>/price_surges.csv.",
              [dg.AssetKey(["gold", "price_index"])]),
    ],
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="markets_prices",
)
def price_checks(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    """Price index and surge flags, week by week."""
    yield from _run_weeks(context, lake, spark, price_week, "prices", "price_surges", "surges")


@dg.multi_asset(
    specs=[
        _spec("supply_metrics", "Weekly imports of the 333 key import items (C-EWS): declarations, kg, KRW, origins, "
              "top origin and its share, Herfindahl-Hirschman index. CSV: publish/supply/<week>/supply_metrics.csv.",
              INPUTS),
        _spec("supply_alerts", "Key items whose imports fell sharply against their trailing 8 weeks, or came to "
              "depend on one origin; each alert states its figures and baseline. "
              "CSV: publish/supply/<week>/supply_alerts.csv.", [dg.AssetKey(["gold", "supply_metrics"])]),
    ],
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="markets_supply",
)
def supply_checks(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    """Supply metrics and alerts, week by week."""
    yield from _run_weeks(context, lake, spark, supply_week, "supply", "supply_alerts", "alerts")


market_assets = [price_checks, supply_checks]

weekly_markets = dg.define_asset_job(
    "weekly_markets", selection=dg.AssetSelection.groups(GROUP), partitions_def=weekly_partitions,
    executor_def=dg.in_process_executor,
    description="The week's import price index and surge flags, and the supply-chain early warning, with their CSVs "
    "under publish/prices/<week>/ and publish/supply/<week>/.",
)

weekly_markets_schedule = dg.build_schedule_from_partitioned_job(
    weekly_markets, name="weekly_markets_schedule", hour_of_day=7, minute_of_hour=0,
    description="Monday 07:00 Seoul: last week's (Monday-Sunday) price index, surge checks and supply alerts, "
    "after the Monday morning daily run has landed Sunday's declarations.",
)
