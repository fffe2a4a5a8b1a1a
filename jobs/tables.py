"""Delta table writes: replace one partition, or MERGE on a key. Every write is re-runnable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def table_exists(spark: SparkSession, path: Path | str) -> bool:
    """Whether a Delta table exists at `path`."""
    return DeltaTable.isDeltaTable(spark, str(path))


def replace_partition(df: DataFrame, path: Path | str, partition_column: str, day: dt.date) -> None:
    """Overwrite exactly one daily partition (other days untouched): re-running gives the same table."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"{partition_column} = DATE'{day.isoformat()}'")
        .partitionBy(partition_column)
        .save(str(path))
    )


def merge_by_key(
    spark: SparkSession,
    df: DataFrame,
    path: Path | str,
    key: tuple[str, ...],
    partition_column: str,
    change_column: str = "_row_hash",
) -> dict[str, int]:
    """Upsert `df` into the Delta table at `path` on `key`; rows whose `change_column` is unchanged
    are left alone, so a re-delivered file changes nothing. Returns Delta's operation metrics."""
    if not table_exists(spark, path):
        df.limit(0).write.format("delta").partitionBy(partition_column).save(str(path))
    target = DeltaTable.forPath(spark, str(path))
    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    (
        target.alias("t")
        .merge(df.alias("s"), condition)
        .whenMatchedUpdateAll(condition=f"t.`{change_column}` <> s.`{change_column}`")
        .whenNotMatchedInsertAll()
        .execute()
    )
    last = target.history(1).select("operation", "operationMetrics").first()
    metrics = dict(last["operationMetrics"] or {}) if last and last["operation"] == "MERGE" else {}
    return {
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
    }


def read_partition(spark: SparkSession, path: Path | str, partition_column: str, day: dt.date) -> DataFrame:
    """One day of a Delta table (empty result when the table does not exist yet)."""
    return spark.read.format("delta").load(str(path)).where(F.col(partition_column) == F.lit(day))
