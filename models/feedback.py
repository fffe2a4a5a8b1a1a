"""The feedback loop: inspection results (1-7 days late) joined back to what was selected, per
day, channel and selection reason: selected, inspected, hits, hit rate, critical finds, duty
recovered, seized kg; and the same for records inspected without being on the list."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.settings import Settings
from jobs.tables import replace_where, table_exists

OUTSIDE_LIST = "outside_list"
HORIZON_DAYS = 30  # a list day's figures are recomputed while its results can still arrive


def selection_performance(scores: DataFrame, targets: DataFrame, results: DataFrame) -> DataFrame:
    """Per (day, channel, lane, selection_reason): `selected` records, how many were `inspected`
    (a result is known), `hits` (fraud found), `hit_rate`, `critical_finds`, `duty_recovered_krw`
    and `seized_kg`. `scores` holds every scored record of the day (unlisted ones in lane green),
    `targets` the list rows, `results` the inspection results."""
    listed = targets.select("day", "channel", "record_key", "selection_reason")
    outcome = results.select("channel", "record_key", F.col("outcome"), F.col("additional_duty_krw"),
                             F.col("seized_kg"))
    rows = (scores.select("day", "channel", "record_key", "lane")
            .join(listed, ["day", "channel", "record_key"], "left")
            .withColumn("selection_reason", F.coalesce("selection_reason", F.lit(OUTSIDE_LIST)))
            .join(outcome, ["channel", "record_key"], "left"))
    inspected = F.col("outcome").isNotNull()
    return (rows.groupBy("day", "channel", "lane", "selection_reason").agg(
        F.count(F.lit(1)).alias("selected"),
        F.sum(inspected.cast("long")).alias("inspected"),
        F.sum((F.col("outcome") >= 1).cast("long")).alias("hits"),
        F.sum((F.col("outcome") == 2).cast("long")).alias("critical_finds"),
        F.coalesce(F.sum(F.when(inspected, F.col("additional_duty_krw"))), F.lit(0.0)).alias("duty_recovered_krw"),
        F.coalesce(F.sum(F.when(inspected, F.col("seized_kg"))), F.lit(0.0)).alias("seized_kg"),
    ).withColumn("hits", F.coalesce("hits", F.lit(0)))
        .withColumn("critical_finds", F.coalesce("critical_finds", F.lit(0)))
        .withColumn("hit_rate", F.try_divide(F.col("hits").cast("double"), F.col("inspected").cast("double"))))


def refresh_selection_performance(spark: SparkSession, settings: Settings, days: list[dt.date]) -> dict[str, object]:
    """Recompute `gold/selection_performance` for the list days from `HORIZON_DAYS` before the
    first of `days` to the last (results for them may have arrived since); returns a summary."""
    first, last = min(days) - dt.timedelta(days=HORIZON_DAYS), max(days)
    paths = {name: str(settings.table_path(layer, name)) for layer, name in
             (("gold", "scores"), ("gold", "targets"), ("silver", "inspection_results"))}
    missing = [name for name, path in paths.items() if not table_exists(spark, path)]
    if "scores" in missing or "targets" in missing:
        raise ValueError("no target lists yet: materialize the targets assets first")
    span = F.col("day").between(F.lit(first), F.lit(last))
    scores = spark.read.format("delta").load(paths["scores"]).where(span)
    targets = spark.read.format("delta").load(paths["targets"]).where(span)
    if "inspection_results" in missing:
        results = spark.createDataFrame([], "channel string, record_key string, outcome int, "
                                            "additional_duty_krw double, seized_kg double")
    else:
        results = spark.read.format("delta").load(paths["inspection_results"])
    table = selection_performance(scores, targets, results).cache()
    where = f"day >= DATE'{first.isoformat()}' AND day <= DATE'{last.isoformat()}'"
    replace_where(table, str(settings.table_path("gold", "selection_performance")), where, ["day"])
    totals = table.agg(F.sum("selected").alias("selected"), F.sum("inspected").alias("inspected"),
                       F.sum("hits").alias("hits"), F.countDistinct("day").alias("days")).first()
    listed = table.where(F.col("selection_reason") != OUTSIDE_LIST).agg(
        F.sum("inspected").alias("inspected"), F.sum("hits").alias("hits")).first()
    table.unpersist()
    return {"first_day": first.isoformat(), "last_day": last.isoformat(), "days_with_lists": int(totals["days"] or 0),
            "records": int(totals["selected"] or 0), "inspected": int(totals["inspected"] or 0),
            "hits": int(totals["hits"] or 0), "listed_inspected": int(listed["inspected"] or 0),
            "listed_hits": int(listed["hits"] or 0)}
