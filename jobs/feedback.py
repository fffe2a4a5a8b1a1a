"""Inspection feedback: is the inspected record known, and write outcomes onto channel records.

Only inspected records ever get a label; the outcome lands in `silver.inspection_results` (with its
date, for point-in-time features) and on the channel's own silver row."""

from __future__ import annotations

from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.settings import Settings
from jobs.sources import INSPECTED_CHANNELS
from jobs.tables import merge_counts, retry_on_conflict, table_exists


def known_record_keys(spark: SparkSession, settings: Settings) -> DataFrame | None:
    """(channel, record_key) of every record in the inspected channels' silver tables."""
    frames = []
    for channel, spec in INSPECTED_CHANNELS.items():
        path = settings.table_path("silver", channel)
        if table_exists(spark, path):
            frames.append(
                spark.read.format("delta").load(str(path))
                .select(F.lit(channel).alias("channel"), F.col(spec.key[0]).alias("record_key"))
            )
    return reduce(DataFrame.unionByName, frames) if frames else None


def with_record_known(spark: SparkSession, settings: Settings, frame: DataFrame) -> DataFrame:
    """Add `record_known`: whether the result's (channel, record_key) exists in that channel's
    silver table. A result for an unknown record is quarantined, not dropped: re-running the day
    once the record has landed accepts it."""
    known = known_record_keys(spark, settings)
    if known is None:
        return frame.withColumn("record_known", F.lit(False))
    flagged = known.distinct().withColumn("_known", F.lit(True))
    return (
        frame.join(flagged, ["channel", "record_key"], "left")
        .withColumn("record_known", F.coalesce(F.col("_known"), F.lit(False)))
        .drop("_known")
    )


def apply_inspection_results(spark: SparkSession, settings: Settings, results: DataFrame) -> dict[str, int]:
    """MERGE each result onto its channel record: inspection date, outcome and finding (and, for
    declarations, the KCS `fraud` / `critical_fraud` labels). The latest inspection wins; running
    it again changes nothing. Returns the updated rows per channel."""
    updated = {}
    for channel, spec in INSPECTED_CHANNELS.items():
        path = settings.table_path("silver", channel)
        if not table_exists(spark, path):
            continue
        rows = results.where(F.col("channel") == channel)
        target = DeltaTable.forPath(spark, str(path))
        values = {
            "inspection_date": "s.inspection_date",
            "inspection_outcome": "s.outcome",
            "inspection_finding": "s.finding",
        }
        if channel == "declarations":
            values.update({"fraud": "CAST(s.outcome > 0 AS INT)", "critical_fraud": "s.outcome"})
        newer = ("t.inspection_date IS NULL OR s.inspection_date > t.inspection_date OR "
                 "(s.inspection_date = t.inspection_date AND NOT (t.inspection_outcome <=> s.outcome "
                 "AND t.inspection_finding <=> s.finding))")
        updated[channel] = _merge_results(target, rows, spec.key[0], newer, values)
    return updated


@retry_on_conflict
def _merge_results(target: DeltaTable, rows: DataFrame, key: str, newer: str, values: dict[str, str]) -> int:
    """One channel's MERGE of results; its own count of updated rows (retried on a conflict with
    the channel's own ingestion writing the same table)."""
    result = (target.alias("t").merge(rows.alias("s"), f"t.`{key}` = s.record_key")
              .whenMatchedUpdate(condition=newer, set=values).execute())
    return merge_counts(result)["updated"]
