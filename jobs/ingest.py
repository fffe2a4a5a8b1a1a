"""Bronze -> silver for any source: dedupe, validate (through an injected validator), type,
MERGE into silver and write the quarantine. Counts reconcile:

    rows_read = parse_errors + duplicates_skipped + superseded + rule_failures + valid_rows
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.bronze import read_bronze_batch
from jobs.feedback import apply_inspection_results, with_record_known
from jobs.settings import Settings
from jobs.sources import SourceSpec
from jobs.tables import Days, as_days, merge_by_key, merge_history, read_partition, replace_partition

RAW_SUFFIX = "__raw"
QUARANTINE_SCHEMA = T.StructType([
    T.StructField("record_key", T.StringType(), True),
    T.StructField("stage", T.StringType(), False),
    T.StructField("failed_rules", T.ArrayType(T.StringType(), True), False),
    T.StructField("reason", T.StringType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("line_number", T.LongType(), False),
    T.StructField("file_checksum", T.StringType(), False),
    T.StructField("raw_record", T.StringType(), True),
    T.StructField("ingested_at", T.TimestampType(), False),
    T.StructField("partition_date", T.DateType(), False),
])
SILVER_LINEAGE = ["_row_hash", "_source_file", "_line_number", "_ingested_at"]


@dataclass
class ValidationOutcome:
    """What a validator returns: passing rows, failing rows with `_failed_rules` and `_reason`,
    the failure count per rule, and where the readable report was written."""

    valid: DataFrame
    failed: DataFrame
    rule_failures: dict[str, int]
    success: bool
    report_path: str | None = None
    counts_by_day: dict[dt.date, tuple[int, int]] | None = None  # passing, failing rows; None: not counted


Validator = Callable[[DataFrame, SourceSpec, list[dt.date]], ValidationOutcome]


@dataclass
class BronzeResult:
    """What landing a day into bronze did."""

    rows: int
    files: list[dict[str, object]]


COUNTS = ("rows_read", "parse_errors", "duplicates_skipped", "superseded", "rule_failures", "valid_rows")


@dataclass
class DayCounts:
    """One delivery day's reconciliation: every row read is counted exactly once."""

    rows_read: int = 0
    parse_errors: int = 0
    duplicates_skipped: int = 0
    superseded: int = 0
    rule_failures: int = 0
    valid_rows: int = 0

    @property
    def quarantined(self) -> int:
        """Rows sent to quarantine (unparseable lines plus rows failing a rule)."""
        return self.parse_errors + self.rule_failures

    @property
    def quarantine_share(self) -> float:
        """Share of the rows read that went to quarantine (0 when nothing was read)."""
        return self.quarantined / self.rows_read if self.rows_read else 0.0

    @property
    def reconciles(self) -> bool:
        """Whether every row read is accounted for exactly once."""
        accounted = self.quarantined + self.duplicates_skipped + self.superseded + self.valid_rows
        return accounted == self.rows_read

    def as_dict(self) -> dict[str, int | float]:
        """The counts and the quarantine share, for metadata."""
        return {**{name: getattr(self, name) for name in COUNTS}, "quarantined": self.quarantined,
                "quarantine_share": round(self.quarantine_share, 6)}


@dataclass
class SilverResult(DayCounts):
    """What refining bronze did over the run's days: totals, each day's own counts (`by_day`), and
    the days the write-audit-publish gate held back (`held_days`: quarantine share above the
    threshold, so none of their rows reached silver or the tables fed from it)."""

    inserted: int = 0
    updated: int = 0
    failures_by_rule: dict[str, int] = field(default_factory=dict)
    report_path: str | None = None
    validation_success: bool = True
    extra: dict[str, int] = field(default_factory=dict)
    by_day: dict[dt.date, DayCounts] = field(default_factory=dict)
    held_days: list[dt.date] = field(default_factory=list)
    max_quarantine_share: float | None = None

    @property
    def published(self) -> bool:
        """Whether every day passed the gate and was written."""
        return not self.held_days

    def held_reason(self) -> str:
        """Why days were held back, with their counts (empty when none was)."""
        return "; ".join(f"{day}: {self._why(day)}, nothing published" for day in self.held_days)

    def _why(self, day: dt.date) -> str:
        counts = self.by_day[day]
        if not counts.reconciles:
            return f"rows do not reconcile ({counts.as_dict()})"
        if self.max_quarantine_share is not None and counts.quarantine_share > self.max_quarantine_share:
            return (f"{counts.quarantined} of {counts.rows_read} rows quarantined "
                    f"({counts.quarantine_share:.1%} > {self.max_quarantine_share:.1%})")
        return "waits for an earlier held day (history is written in day order)"


def land_bronze(spark: SparkSession, spec: SourceSpec, settings: Settings, days: Days) -> BronzeResult:
    """Replace the bronze partitions of `days` (one day or a backfill range) with every line of
    those days' landing files."""
    span = as_days(days)
    path = settings.table_path("bronze", spec.name)
    batch = read_bronze_batch(spark, spec, settings.landing_dir, span, dt.datetime.now(dt.UTC))
    replace_partition(batch, path, "_partition_date", span)
    # One row per file (what the run metadata shows), from what was written: nothing per record
    # comes back to the driver.
    files = (read_partition(spark, path, "_partition_date", span)
             .groupBy("_partition_date", "_file_order", "_source_file")
             .agg(F.first("_file_encoding").alias("encoding"), F.first("_file_status").alias("status"),
                  F.count(F.lit(1)).alias("rows"), F.first("_file_checksum").alias("sha256"))
             .orderBy("_partition_date", "_file_order").collect())
    summary = [{"file": Path(r["_source_file"]).name, "day": r["_partition_date"].isoformat(),
                "encoding": r["encoding"], "status": r["status"], "rows": int(r["rows"]),
                "sha256": r["sha256"][:12]} for r in files]
    return BronzeResult(rows=sum(f["rows"] for f in summary), files=summary)


def row_hash(spec: SourceSpec, present: Collection[str] | None = None) -> F.Column:
    """SHA-256 over the raw business values (as strings): equal hashes mean an exact duplicate
    record. `present` limits it to the columns a frame has (the generator's typed silver rows)."""
    names = [c for c in spec.column_names if present is None or c in present]
    parts = [F.coalesce(F.col(c).cast("string"), F.lit("\u2400")) for c in names]
    return F.sha2(F.concat_ws("\u241f", *parts), 256)


ROW_ID = ("_partition_date", "_file_order", "_line_number")  # a bronze row's identity within a batch
BROADCAST_SKIPPED_ROWS = 2_000_000  # skipped rows' ids up to this many are sent to every task, not shuffled


@dataclass
class StagedBatch:
    """Bronze rows split before validation: the unparseable lines, every parsed row (with its
    `_row_hash`), and each parsed row's `_disposition` (candidate, duplicate or superseded) in a
    narrow frame of row ids, counted per day in `skipped_by_day`."""

    parse_errors: DataFrame
    parsed: DataFrame
    dispositions: DataFrame
    skipped_by_day: dict[str, dict[dt.date, int]]

    def candidates(self, broadcast_limit: int = BROADCAST_SKIPPED_ROWS) -> DataFrame:
        """Rows to validate: the first copy of a record, from the latest delivery of its key. Only
        the ids of the skipped rows travel (usually none or a few), never the wide rows."""
        skipped = sum(n for counts in self.skipped_by_day.values() for n in counts.values())
        if not skipped:
            return self.parsed
        ids = self.dispositions.where(F.col("_disposition") != "candidate").select(*ROW_ID)
        return self.parsed.join(F.broadcast(ids) if skipped <= broadcast_limit else ids, list(ROW_ID), "left_anti")

    def release(self) -> None:
        """Drop the cached dispositions."""
        self.dispositions.unpersist()


def dispositions(parsed: DataFrame, spec: SourceSpec) -> DataFrame:
    """Each parsed row's id and `_disposition`: `duplicate` for an exact copy of an earlier row
    (a re-delivered file or repeated line), `superseded` for a key that a later delivery of the
    batch carries again (a corrected re-delivery), else `candidate`. Only the key, the hash and
    the ids are shuffled."""
    first = Window.partitionBy("_row_hash").orderBy(*ROW_ID)
    ranked = parsed.select(*spec.key, "_row_hash", *ROW_ID).withColumn("_copy", F.row_number().over(first))
    keys_present = F.lit(True)
    for k in spec.key:
        keys_present = keys_present & F.col(k).isNotNull()
    # Delivery order across a backfill range: later day first, then later file within the day.
    delivery = F.datediff("_partition_date", F.lit("2000-01-01")) * 100_000 + F.col("_file_order")
    # Reference tables keep one version per delivery day (history), so only same-day files compete.
    scope = (*spec.key, "_partition_date") if spec.kind == "reference" else spec.key
    # The latest delivery among the key's first copies (a duplicate never supersedes anything).
    latest = F.max(F.when(F.col("_copy") == 1, delivery)).over(Window.partitionBy(*scope))
    disposition = (F.when(F.col("_copy") > 1, F.lit("duplicate"))
                   .when(keys_present & (delivery < latest), F.lit("superseded"))
                   .otherwise(F.lit("candidate")))
    return ranked.select(*ROW_ID, disposition.alias("_disposition"))


def stage_bronze(bronze: DataFrame, spec: SourceSpec) -> StagedBatch:
    """Separate unparseable lines, skip exact duplicates and keep only the latest file's version
    of a key; counts the skipped rows per day (a Spark job over the narrow columns). Call
    `release()` when done."""
    parsed = bronze.where(F.col("_parse_error").isNull()).withColumn("_row_hash", row_hash(spec))
    narrow = dispositions(parsed, spec).cache()
    skipped = count_by_day_and(narrow.where(F.col("_disposition") != "candidate"), "_disposition")
    return StagedBatch(parse_errors=bronze.where(F.col("_parse_error").isNotNull()), parsed=parsed,
                       dispositions=narrow, skipped_by_day=skipped)


def count_by_day(frame: DataFrame, column: str = "_partition_date") -> dict[dt.date, int]:
    """Rows per delivery day."""
    return {r[column]: int(r["count"]) for r in frame.groupBy(column).count().collect()}


def bronze_counts_by_day(bronze: DataFrame) -> dict[str, dict[dt.date, int]]:
    """Bronze rows read and unparseable lines per delivery day, in one pass."""
    rows = bronze.groupBy("_partition_date").agg(F.count(F.lit(1)).alias("rows_read"),
                                                 F.count("_parse_error").alias("parse_errors")).collect()
    return {name: {r["_partition_date"]: int(r[name]) for r in rows} for name in ("rows_read", "parse_errors")}


def count_by_day_and(frame: DataFrame, category: str, column: str = "_partition_date") -> dict[str, dict[dt.date, int]]:
    """Rows per value of `category` and delivery day, in one pass."""
    counts: dict[str, dict[dt.date, int]] = {}
    for r in frame.groupBy(category, column).count().collect():
        counts.setdefault(r[category], {})[r[column]] = int(r["count"])
    return counts


def validation_frame(candidates: DataFrame, spec: SourceSpec) -> DataFrame:
    """Typed columns under their own names (null where the raw string cannot be cast) and, for
    every non-string column, the raw string as `<name>__raw` so format rules can see it."""
    cols = []
    for c in spec.columns:
        value = c.repaired(F.col(c.name))
        if isinstance(c.dtype, T.StringType):
            cols.append(value.alias(c.name))
        else:
            cols.append(value.try_cast(c.dtype).alias(c.name))
            cols.append(F.col(c.name).alias(c.name + RAW_SUFFIX))
    lineage = ["_row_hash", "_source_file", "_line_number", "_file_checksum", "_raw_line", "_ingested_at",
               "_partition_date"]
    return candidates.select(*cols, *lineage)


def record_key(spec: SourceSpec) -> F.Column:
    """The key as one string (parts joined by '|'), for quarantine rows."""
    return F.nullif(F.concat_ws("|", *[F.col(k).cast("string") for k in spec.key]), F.lit(""))


def _quarantine_select(rows: DataFrame, spec: SourceSpec, stage: str, failed_rules: F.Column,
                       reason: F.Column) -> DataFrame:
    """Rows in the quarantine schema, with their lineage columns renamed."""
    lineage = {"_source_file": "source_file", "_line_number": "line_number", "_file_checksum": "file_checksum",
               "_raw_line": "raw_record", "_ingested_at": "ingested_at", "_partition_date": "partition_date"}
    return rows.select(
        record_key(spec).alias("record_key"), F.lit(stage).alias("stage"), failed_rules.alias("failed_rules"),
        reason.alias("reason"), *[F.col(src).alias(dst) for src, dst in lineage.items()],
    )


def quarantine_rows(staged: StagedBatch, failed: DataFrame, spec: SourceSpec) -> DataFrame:
    """Quarantine rows: unparseable lines and rows failing rules, each with every reason."""
    parse = _quarantine_select(staged.parse_errors, spec, "parse", F.array(F.lit("parse_error")),
                               F.col("_parse_error"))
    rules = _quarantine_select(failed, spec, "validation", F.col("_failed_rules"), F.col("_reason"))
    both = parse.unionByName(rules)
    return both.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE_SCHEMA.fields])


def silver_rows(valid: DataFrame, spec: SourceSpec) -> DataFrame:
    """Typed silver rows in the declared schema, plus lineage (row hash, file, line, ingest time)."""
    business = [F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.silver_schema().fields]
    # Reference tables keep their delivery day until `write_silver` turns it into a history version.
    delivery = ["_partition_date"] if spec.kind == "reference" else []
    return valid.select(*business, *SILVER_LINEAGE, *delivery)


def silver_table_schema(spec: SourceSpec, rows: DataFrame) -> T.StructType:
    """Schema of the silver table: landed columns, columns later steps fill, lineage."""
    extra = [T.StructField(c.name, c.dtype, True) for c in spec.silver_extra]
    return T.StructType(rows.schema.fields[: len(spec.columns)] + extra + rows.schema.fields[len(spec.columns):])


def write_silver(spark: SparkSession, spec: SourceSpec, settings: Settings, rows: DataFrame,
                 days: list[dt.date]) -> dict[str, int]:
    """Write validated rows by the source's kind: history for reference tables (day by day, so
    each delivery is a version), MERGE otherwise; feedback is then applied onto the inspected
    channels' records."""
    path = settings.table_path("silver", spec.name)
    if spec.kind == "reference":
        totals = {"inserted": 0, "updated": 0}
        delivered = {r["_partition_date"] for r in rows.select("_partition_date").distinct().collect()}
        for day in (d for d in days if d in delivered):
            counts = merge_history(spark, rows.where(F.col("_partition_date") == F.lit(day)).drop("_partition_date"),
                                   path, spec.key, day)
            totals = {k: totals[k] + counts[k] for k in totals}
        return totals
    # An event's date is part of its identity (a declaration keeps its date), so its MERGE reads only
    # the batch's dates; an inspection result's key recurs with a new date (a re-inspection).
    counts = merge_by_key(spark, rows, path, spec.key, spec.partition_column, silver_table_schema(spec, rows),
                          keep_when_null=spec.label_columns, prune_by_partition=spec.kind == "event")
    if spec.kind == "feedback":
        applied = apply_inspection_results(spark, settings, rows)
        counts.update({f"labels_applied_{channel}": n for channel, n in applied.items()})
    return counts


def with_lookups(spark: SparkSession, spec: SourceSpec, settings: Settings, frame: DataFrame) -> DataFrame:
    """Columns a source's rules need from other tables (feedback: is the inspected record known)."""
    if spec.kind == "feedback":
        return with_record_known(spark, settings, frame)
    return frame


FROM_SETTINGS = object()  # refine_silver's default gate: the settings' CUSTOMS_MAX_QUARANTINE_SHARE


def refine_silver(
    spark: SparkSession, spec: SourceSpec, settings: Settings, days: Days, validator: Validator,
    max_quarantine_share: float | None | object = FROM_SETTINGS,
) -> SilverResult:
    """Validate the bronze partitions of `days` (one day or a backfill range), then write, audit,
    publish: each day's quarantine partition is replaced with its failing rows, and only the days
    whose quarantined share is within `max_quarantine_share` (default: the settings'; None: no
    gate) have their passing rows MERGEd into silver (and, for inspection results, onto the
    channel records). A held day leaves silver and everything fed from it at the same Delta
    version; re-running it after the files are fixed publishes it."""
    days = as_days(days)
    threshold = settings.max_quarantine_share if max_quarantine_share is FROM_SETTINGS else max_quarantine_share
    bronze = read_partition(spark, settings.table_path("bronze", spec.name), "_partition_date", days)
    staged = stage_bronze(bronze, spec)
    try:
        frame = with_lookups(spark, spec, settings, validation_frame(staged.candidates(), spec))
        outcome = validator(frame, spec, days)
        quarantine = quarantine_rows(staged, outcome.failed, spec)
        replace_partition(quarantine, settings.table_path("quarantine", spec.name), "partition_date", days)
        read = bronze_counts_by_day(bronze)
        if outcome.counts_by_day is None:
            valid, failed = count_by_day(outcome.valid), count_by_day(outcome.failed)
        else:
            valid = {day: n for day, (n, _) in outcome.counts_by_day.items()}
            failed = {day: n for day, (_, n) in outcome.counts_by_day.items()}
        counted = {"rows_read": read["rows_read"], "parse_errors": read["parse_errors"],
                   "duplicates_skipped": staged.skipped_by_day.get("duplicate", {}),
                   "superseded": staged.skipped_by_day.get("superseded", {}),
                   "rule_failures": failed, "valid_rows": valid}
        by_day = {day: DayCounts(**{name: counted[name].get(day, 0) for name in COUNTS}) for day in days}
        held = [day for day in days if not by_day[day].reconciles
                or (threshold is not None and by_day[day].quarantine_share > threshold)]
        if held and spec.kind == "reference":
            # History versions must be written in day order: a day after a held one waits for it.
            held = [day for day in days if day >= held[0]]
        publishable = silver_rows(outcome.valid.where(~F.col("_partition_date").isin(held)), spec)
        merge = ({"inserted": 0, "updated": 0} if len(held) == len(days)
                 else write_silver(spark, spec, settings, publishable, [d for d in days if d not in held]))
    finally:
        staged.release()
    totals = {name: sum(getattr(c, name) for c in by_day.values()) for name in COUNTS}
    return SilverResult(
        **totals,
        inserted=merge.pop("inserted"),
        updated=merge.pop("updated"),
        extra=merge,
        failures_by_rule=outcome.rule_failures,
        report_path=outcome.report_path,
        validation_success=outcome.success,
        by_day=by_day,
        held_days=held,
        max_quarantine_share=threshold,
    )
