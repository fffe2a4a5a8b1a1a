"""The weekly price and supply batch: read silver, compute one week's figures and alerts, replace
that week in the gold tables, publish the week's CSVs. Re-running a week gives the same tables
and files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.prices import (
    ITEM_COLUMNS,
    PRICE_LISTS,
    SurgeRule,
    item_codes,
    item_declarations,
    price_surges,
    weekly_price_index,
)
from jobs.publish import write_csv
from jobs.settings import Settings
from jobs.supply import SUPPLY_LISTS, SupplyRule, supply_alerts, supply_metrics
from jobs.tables import replace_partition, table_exists


@dataclass
class WeekOutput:
    """What one week's batch wrote: rows per gold table and the CSV files."""

    week: dt.date
    rows: dict[str, int]
    files: dict[str, Path]


def _inputs(spark: SparkSession, settings: Settings) -> tuple[DataFrame, DataFrame]:
    paths = {t: settings.table_path("silver", t) for t in ("declarations", "monitored_items")}
    missing = [t for t, p in paths.items() if not table_exists(spark, p)]
    if missing:
        raise ValueError(f"the weekly price and supply checks need silver {' and '.join(missing)}: "
                         "land them first (customs-risk run --ingest-only ...)")
    return tuple(spark.read.format("delta").load(str(p)) for p in paths.values())


def csv_ready(frame: DataFrame) -> pd.DataFrame:
    """Rows for a spreadsheet: arrays joined with ';', maps as 'key=value;...', dates as text."""
    for field in frame.schema.fields:
        kind = field.dataType.typeName()
        if kind == "array":
            frame = frame.withColumn(field.name, F.array_join(field.name, ";"))
        elif kind == "map":
            entries = F.transform(F.map_entries(field.name),
                                  lambda e: F.concat(e["key"], F.lit("="), F.round(e["value"], 2).cast("string")))
            frame = frame.withColumn(field.name, F.array_join(F.array_sort(entries), ";"))
    return frame.toPandas()


def _publish(spark: SparkSession, table: Path | str, week: dt.date, path: Path, order: list[str]) -> int:
    rows = spark.read.format("delta").load(str(table)).where(F.col("week_start") == F.lit(week))
    frame = csv_ready(rows.orderBy(*order))
    write_csv(frame, path)
    return len(frame)


def price_week(spark: SparkSession, settings: Settings, week: dt.date, rule: SurgeRule | None = None) -> WeekOutput:
    """`gold/price_index` and `gold/price_surges` for the week starting Monday `week`, from the
    declarations of that week and the `baseline_weeks` before it; the year-earlier figures come
    from `gold/price_index` itself. CSVs under publish/prices/<week>/."""
    rule = rule or SurgeRule()
    declarations, monitored = _inputs(spark, settings)
    first, last = week - dt.timedelta(weeks=rule.baseline_weeks), week + dt.timedelta(days=6)
    rows = item_declarations(declarations, item_codes(monitored, PRICE_LISTS), first, last).cache()
    try:
        index = weekly_price_index(rows.where(F.col("week_start") == F.lit(week)), rule.min_declarations)
        index_path = settings.table_path("gold", "price_index")
        replace_partition(index, index_path, "week_start", week)
        written = spark.read.format("delta").load(str(index_path))
        year_ago = written.where(F.col("week_start") == F.lit(week - dt.timedelta(weeks=52)))
        surges = price_surges(rows, written.where(F.col("week_start") == F.lit(week)).unionByName(year_ago),
                              [week], rule)
        replace_partition(surges, settings.table_path("gold", "price_surges"), "week_start", week)
    finally:
        rows.unpersist()
    folder = settings.publish_dir / "prices" / week.isoformat()
    files = {"price_index": folder / "price_index.csv", "price_surges": folder / "price_surges.csv"}
    counts = {
        "price_index": _publish(spark, index_path, week, files["price_index"], ["list_type", "item_code", "origin"]),
        "price_surges": _publish(spark, settings.table_path("gold", "price_surges"), week, files["price_surges"],
                                 [F.desc("change_pct")]),
    }
    return WeekOutput(week, counts, files)


def supply_week(spark: SparkSession, settings: Settings, week: dt.date, rule: SupplyRule | None = None) -> WeekOutput:
    """`gold/supply_metrics` and `gold/supply_alerts` of key import items for the week starting
    Monday `week` (alerts against the `baseline_weeks` before it). CSVs under publish/supply/<week>/."""
    rule = rule or SupplyRule()
    declarations, monitored = _inputs(spark, settings)
    # The alert week's window and the baseline weeks before it.
    first = week - dt.timedelta(weeks=rule.baseline_weeks + rule.window_weeks - 1)
    rows = item_declarations(declarations, item_codes(monitored, SUPPLY_LISTS), first, week + dt.timedelta(days=6))
    metrics = supply_metrics(rows).cache()
    metrics_path = settings.table_path("gold", "supply_metrics")
    alerts_path = settings.table_path("gold", "supply_alerts")
    # An item's first import week, from the weeks published before (an item new within the
    # baseline has a shorter one).
    first_weeks = None
    if table_exists(spark, metrics_path):
        first_weeks = (spark.read.format("delta").load(str(metrics_path)).where(F.col("week_start") < F.lit(week))
                       .groupBy(*ITEM_COLUMNS).agg(F.min("week_start").alias("first_week")))
    try:
        replace_partition(metrics.where(F.col("week_start") == F.lit(week)), metrics_path, "week_start", week)
        replace_partition(supply_alerts(metrics, [week], rule, first_weeks), alerts_path, "week_start", week)
    finally:
        metrics.unpersist()
    folder = settings.publish_dir / "supply" / week.isoformat()
    files = {"supply_metrics": folder / "supply_metrics.csv", "supply_alerts": folder / "supply_alerts.csv"}
    counts = {
        "supply_metrics": _publish(spark, metrics_path, week, files["supply_metrics"], ["item_code"]),
        "supply_alerts": _publish(spark, alerts_path, week, files["supply_alerts"], ["alert", "item_code"]),
    }
    return WeekOutput(week, counts, files)
