"""KPI tables for the executives' dashboard, rebuilt from the lake: what was processed and
inspected, what inspections found, data quality per source, and the week's market alerts.

Inspections are counted on the day their result arrived (`inspection_date`), records on their own
day: the inspection rate of a day is inspections reported that day over records received that day.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.prices import week_start
from jobs.publish import mask_pccc
from jobs.settings import Settings
from jobs.sources import INSPECTED_CHANNELS, SOURCES
from jobs.tables import table_exists

DAILY_COLUMNS = ["day", "channel", "records", "inspected", "hits", "critical_finds", "duty_recovered_krw",
                 "drug_cases", "drug_kg", "pccc_misuse", "under_valuation"]


def _load(spark: SparkSession, settings: Settings, layer: str, table: str) -> DataFrame | None:
    path = str(settings.table_path(layer, table))
    return spark.read.format("delta").load(path) if table_exists(spark, path) else None


def daily_kpis(spark: SparkSession, settings: Settings, last_day: dt.date) -> DataFrame:
    """Per day (up to `last_day`) and channel: records received, inspections reported, hits
    (fraud found), critical finds, duty recovered, drug cases and kg, PCCC misuse and
    under-valuation findings, inspection rate and hit rate."""
    records = None
    for channel in INSPECTED_CHANNELS:
        silver = _load(spark, settings, "silver", channel)
        if silver is None:
            continue
        day = F.col(SOURCES[channel].date_column)
        counted = (silver.where(day <= F.lit(last_day)).groupBy(day.alias("day"))
                   .agg(F.count("*").alias("records")).withColumn("channel", F.lit(channel)))
        records = counted if records is None else records.unionByName(counted)
    if records is None:
        raise ValueError("no channel has a silver table yet: land declarations, express or mail first")
    results = _load(spark, settings, "silver", "inspection_results")
    keys = ["day", "channel"]
    if results is None:
        found = records.select(*keys).limit(0)
    else:
        finding = F.col("finding")
        found = (results.where(F.col("inspection_date") <= F.lit(last_day))
                 .groupBy(F.col("inspection_date").alias("day"), "channel").agg(
                     F.count("*").alias("inspected"),
                     F.sum((F.col("outcome") >= 1).cast("int")).alias("hits"),
                     F.sum((F.col("outcome") == 2).cast("int")).alias("critical_finds"),
                     F.sum(F.coalesce("additional_duty_krw", F.lit(0.0))).alias("duty_recovered_krw"),
                     F.sum((finding == "drugs").cast("int")).alias("drug_cases"),
                     F.sum(F.when(finding == "drugs", F.coalesce("seized_kg", F.lit(0.0))).otherwise(0.0))
                     .alias("drug_kg"),
                     F.sum((finding == "pccc_misuse").cast("int")).alias("pccc_misuse"),
                     F.sum((finding == "under_valuation").cast("int")).alias("under_valuation")))
    table = records.join(found, keys, "full").fillna(0)
    return with_rates(table.select(*DAILY_COLUMNS)).orderBy(*keys)


def with_rates(frame: DataFrame) -> DataFrame:
    """Inspection rate (inspected / records) and hit rate (hits / inspected); null without a denominator."""
    return (frame.withColumn("inspection_rate", F.when(F.col("records") > 0, F.col("inspected") / F.col("records")))
            .withColumn("hit_rate", F.when(F.col("inspected") > 0, F.col("hits") / F.col("inspected"))))


def weekly_kpis(daily: DataFrame) -> DataFrame:
    """The daily KPIs summed per week (Monday-Sunday) and channel, with the rates recomputed."""
    sums = [F.sum(c).alias(c) for c in DAILY_COLUMNS[2:]]
    weekly = daily.groupBy(week_start(F.col("day")).alias("week_start"), "channel").agg(*sums)
    return with_rates(weekly).orderBy("week_start", "channel")


def drug_seizures(spark: SparkSession, settings: Settings, last_day: dt.date) -> DataFrame:
    """Drug finds per day, channel and drug type: cases and kg."""
    results = _load(spark, settings, "silver", "inspection_results")
    if results is None:
        return spark.createDataFrame([], "day date, channel string, drug_type string, cases long, kg double")
    return (results.where((F.col("finding") == "drugs") & (F.col("inspection_date") <= F.lit(last_day)))
            .groupBy(F.col("inspection_date").alias("day"), "channel",
                     F.coalesce("drug_type", F.lit("unknown")).alias("drug_type"))
            .agg(F.count("*").alias("cases"), F.sum(F.coalesce("seized_kg", F.lit(0.0))).alias("kg")))


def data_quality(spark: SparkSession, settings: Settings, last_day: dt.date) -> DataFrame:
    """Per day and source: rows delivered (bronze), rows quarantined, quarantined share."""
    parts = []
    for name in SOURCES:
        bronze = _load(spark, settings, "bronze", name)
        if bronze is None:
            continue
        delivered = (bronze.where(F.col("_partition_date") <= F.lit(last_day))
                     .groupBy(F.col("_partition_date").alias("day")).agg(F.count("*").alias("rows")))
        quarantine = _load(spark, settings, "quarantine", name)
        if quarantine is not None:
            held = (quarantine.where(F.col("partition_date") <= F.lit(last_day))
                    .groupBy(F.col("partition_date").alias("day")).agg(F.count("*").alias("quarantined")))
            delivered = delivered.join(held, "day", "left")
        else:
            delivered = delivered.withColumn("quarantined", F.lit(0))
        parts.append(delivered.fillna({"quarantined": 0}).withColumn("source", F.lit(name)))
    if not parts:
        return spark.createDataFrame([], "day date, rows long, quarantined long, source string, "
                                         "quarantined_share double")
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.withColumn("quarantined_share", F.when(F.col("rows") > 0, F.col("quarantined") / F.col("rows")))


def selection_by_reason(spark: SparkSession, settings: Settings, last_day: dt.date) -> DataFrame:
    """Per day, channel and selection reason (model, critical reserve, exploration, rule, outside
    the list): selected, inspected and hits, from the feedback on the published lists."""
    performance = _load(spark, settings, "gold", "selection_performance")
    if performance is None:
        return spark.createDataFrame([], "day date, channel string, selection_reason string, selected long, "
                                         "inspected long, hits long")
    # The lists record a rule pick as `rule:<name>`; the page groups them as one reason.
    reason = F.when(F.col("selection_reason").startswith("rule:"), F.lit("rule")).otherwise(F.col("selection_reason"))
    return (performance.where(F.col("day") <= F.lit(last_day))
            .groupBy("day", "channel", reason.alias("selection_reason"))
            .agg(F.sum("selected").alias("selected"), F.sum("inspected").alias("inspected"),
                 F.sum("hits").alias("hits")))


def notable_cases(spark: SparkSession, settings: Settings, last_day: dt.date, per_finding: int = 10) -> DataFrame:
    """The largest under-valuation (by duty recovered) and PCCC-misuse finds of the last 30 days,
    personal data masked (an express record's PCCC)."""
    results = _load(spark, settings, "silver", "inspection_results")
    schema = ("finding string, channel string, record_key string, inspection_date date, "
              "additional_duty_krw double, recipient string")
    if results is None:
        return spark.createDataFrame([], schema)
    recent = results.where(F.col("finding").isin("under_valuation", "pccc_misuse")
                           & F.col("inspection_date").between(F.lit(last_day - dt.timedelta(days=29)),
                                                              F.lit(last_day)))
    express = _load(spark, settings, "silver", "express")
    if express is not None:
        pccc = express.select(F.col("house_awb").alias("record_key"), mask_pccc(F.col("recipient_pccc"))
                              .alias("recipient"), F.lit("express").alias("channel"))
        recent = recent.join(pccc, ["channel", "record_key"], "left")
    else:
        recent = recent.withColumn("recipient", F.lit(None).cast("string"))
    ranked = recent.withColumn("_rank", F.row_number().over(
        Window.partitionBy("finding").orderBy(F.desc("additional_duty_krw"), "record_key")))
    return (ranked.where(F.col("_rank") <= per_finding)
            .select("finding", "channel", "record_key", "inspection_date", "additional_duty_krw", "recipient"))
