"""Delta table writes: replace one partition, or MERGE on a key. Every write is re-runnable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import backoff
from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

# What Delta raises when another writer committed to the same files first: the write read a
# snapshot that is no longer current, and doing it again from the new snapshot is correct.
DELTA_CONFLICTS = (DeltaConcurrentModificationException, ConcurrentWriteException, ConcurrentAppendException,
                   ConcurrentDeleteReadException, ConcurrentDeleteDeleteException, ConcurrentTransactionException,
                   MetadataChangedException, ProtocolChangedException)

retry_on_conflict = backoff.on_exception(backoff.expo, DELTA_CONFLICTS, max_tries=6, base=0.5, max_value=20,
                                         jitter=backoff.full_jitter)
"""Decorator for a re-runnable Delta write (a partition replace, a MERGE): on a concurrent-
modification conflict it waits (exponential backoff with jitter) and does the write again."""


def table_exists(spark: SparkSession, path: Path | str) -> bool:
    """Whether a Delta table exists at `path`."""
    return DeltaTable.isDeltaTable(spark, str(path))


Days = dt.date | Sequence[dt.date]


def as_days(days: Days) -> list[dt.date]:
    """One day or a run of consecutive days, as a sorted list."""
    return [days] if isinstance(days, dt.date) else sorted(days)


def _in_days(partition_column: str, days: Days) -> str:
    span = as_days(days)
    # Not BETWEEN: Spark 4 rewrites it into a `With` expression that Delta's replaceWhere cannot resolve.
    return (f"`{partition_column}` >= DATE'{span[0].isoformat()}' AND "
            f"`{partition_column}` <= DATE'{span[-1].isoformat()}'")


@retry_on_conflict
def replace_partition(df: DataFrame, path: Path | str, partition_column: str, days: Days) -> None:
    """Overwrite exactly the given daily partitions (a day or a consecutive range; other days
    untouched): re-running gives the same table."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", _in_days(partition_column, days))
        .partitionBy(partition_column)
        .save(str(path))
    )


@retry_on_conflict
def replace_where(df: DataFrame, path: Path | str, where: str, partition_by: list[str]) -> None:
    """Overwrite exactly the rows matching `where` (a SQL condition on partition columns) with
    `df`: re-running gives the same table."""
    (df.write.format("delta").mode("overwrite").option("replaceWhere", where)
     .partitionBy(*partition_by).save(str(path)))


def create_if_missing(spark: SparkSession, path: Path | str, schema: T.StructType,
                      partition_column: str | None) -> None:
    """Create an empty Delta table with `schema` at `path` unless one exists."""
    if table_exists(spark, path):
        return
    writer = spark.createDataFrame([], schema).write.format("delta")
    if partition_column:
        writer = writer.partitionBy(partition_column)
    writer.save(str(path))


def merge_counts(result: DataFrame) -> dict[str, int]:
    """Inserted/updated counts from the DataFrame a MERGE returns: this MERGE's own figures, not
    the table's latest history entry (which may be another writer's commit)."""
    row = result.first()
    return {"inserted": int(row["num_inserted_rows"] or 0) if row else 0,
            "updated": int(row["num_updated_rows"] or 0) if row else 0}


def partition_predicate(df: DataFrame, column: str, alias: str = "t") -> str | None:
    """`<alias>.column IN (...)` over the partition values `df` holds, so a MERGE reads only the
    target partitions the batch can touch; None when `df` is empty."""
    values = sorted(r[0] for r in df.select(column).distinct().collect() if r[0] is not None)
    if not values:
        return None
    literals = ", ".join(f"DATE'{v.isoformat()}'" if isinstance(v, dt.date) else repr(str(v)) for v in values)
    return f"{alias}.`{column}` IN ({literals})"


@retry_on_conflict
def merge_by_key(
    spark: SparkSession,
    df: DataFrame,
    path: Path | str,
    key: tuple[str, ...],
    partition_column: str | None,
    table_schema: T.StructType | None = None,
    change_column: str = "_row_hash",
    keep_when_null: tuple[str, ...] = (),
    prune_by_partition: bool = False,
) -> dict[str, int]:
    """Upsert `df` into the Delta table at `path` on `key`. Only `df`'s columns are written, so
    columns other steps own (inspection outcomes) survive a re-delivery, as do `keep_when_null`
    columns the delivery leaves empty; rows whose `change_column` is unchanged are left alone.
    With `prune_by_partition` the MERGE carries the batch's partition values as a predicate, so
    it reads only those partitions: only for tables where a key's partition value (its record
    date) never changes between deliveries, else a key delivered again with another date would be
    inserted twice. Returns the MERGE's own inserted/updated counts."""
    create_if_missing(spark, path, table_schema or df.schema, partition_column)
    target = DeltaTable.forPath(spark, str(path))
    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    if partition_column and prune_by_partition:
        pruning = partition_predicate(df, partition_column)
        if pruning is None:
            return {"inserted": 0, "updated": 0}
        condition = f"{pruning} AND {condition}"
    values = {f"`{c}`": f"s.`{c}`" for c in df.columns}
    updates = dict(values)
    for c in keep_when_null:  # e.g. labels set by inspection results survive a re-delivery without them
        updates[f"`{c}`"] = f"coalesce(s.`{c}`, t.`{c}`)"
    result = (
        target.alias("t")
        .merge(df.alias("s"), condition)
        .whenMatchedUpdate(condition=f"t.`{change_column}` <> s.`{change_column}`", set=updates)
        .whenNotMatchedInsert(values=values)
        .execute()
    )
    return merge_counts(result)


@retry_on_conflict
def merge_history(
    spark: SparkSession, df: DataFrame, path: Path | str, key: tuple[str, ...], day: dt.date,
    change_column: str = "_row_hash",
) -> dict[str, int]:
    """Slowly changing reference data (type 2): a changed row closes the current version
    (`_valid_to` = day, `_is_current` = false) and adds a new one valid from `day`; an unchanged
    row does nothing, so re-running a delivery is safe. Keys not delivered stay as they are."""
    versions = (
        df.withColumn("_valid_from", F.lit(day))
        .withColumn("_valid_to", F.lit(None).cast("date"))
        .withColumn("_is_current", F.lit(True))
    )
    create_if_missing(spark, path, versions.schema, None)
    target = DeltaTable.forPath(spark, str(path))
    # Rows equal to the version that was valid on `day` change nothing: re-running an earlier
    # delivery after later ones have landed must not add versions.
    valid_on_day = target.toDF().where(
        (F.col("_valid_from") <= F.lit(day)) & (F.col("_valid_to").isNull() | (F.col("_valid_to") > F.lit(day)))
    ).select(*key, F.col(change_column).alias("_hash_on_day"))
    versions = (versions.join(valid_on_day, list(key), "left")
                .where(F.col("_hash_on_day").isNull() | (F.col("_hash_on_day") != F.col(change_column)))
                .drop("_hash_on_day"))
    key_string = F.concat_ws("\u241f", *[F.col(k).cast("string") for k in key])
    current = target.toDF().where("_is_current").select(*key, F.col(change_column).alias("_current_hash"))
    changed = versions.join(current, list(key)).where(F.col("_current_hash") != F.col(change_column))
    staged = versions.withColumn("_merge_key", key_string).unionByName(
        changed.drop("_current_hash").withColumn("_merge_key", F.lit(None).cast("string"))
    )
    target_key = "concat_ws('\u241f', " + ", ".join(f"cast(t.`{k}` as string)" for k in key) + ")"
    values = {f"`{c}`": f"s.`{c}`" for c in versions.columns}
    result = (
        target.alias("t")
        .merge(staged.alias("s"), f"t._is_current AND {target_key} = s._merge_key")
        .whenMatchedUpdate(condition=f"t.`{change_column}` <> s.`{change_column}`",
                           set={"_valid_to": "s._valid_from", "_is_current": "false"})
        .whenNotMatchedInsert(values=values)
        .execute()
    )
    return merge_counts(result)


def changed_partitions(spark: SparkSession, path: Path | str, partition_column: str, after_version: int,
                       upto_version: int) -> set[dt.date] | None:
    """The days (values of the date partition column) of the files that the table's commits after
    `after_version` up to `upto_version` added or removed, read from its Delta log; None when the
    log no longer holds one of those commits or the table is not partitioned by that column."""
    if upto_version <= after_version:
        return set()
    log = f"{str(path).rstrip('/')}/_delta_log"
    try:
        actions = spark.read.json([f"{log}/{v:020d}.json" for v in range(after_version + 1, upto_version + 1)])
    except AnalysisException:
        return None
    days: set[dt.date] = set()
    for kind in ("add", "remove"):
        if kind not in actions.columns:
            continue
        action = actions.schema[kind].dataType
        if "partitionValues" not in action.names or partition_column not in action["partitionValues"].dataType.names:
            return None
        values = actions.select(F.col(f"{kind}.partitionValues.`{partition_column}`").alias("d")).where("d IS NOT NULL")
        days |= {dt.date.fromisoformat(r["d"]) for r in values.distinct().collect()}
    return days


def read_partition(spark: SparkSession, path: Path | str, partition_column: str, days: Days) -> DataFrame:
    """The given days of a Delta table."""
    return spark.read.format("delta").load(str(path)).where(_in_days(partition_column, days))
