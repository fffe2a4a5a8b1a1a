"""A generated lake written straight into silver (no landing files, no validation: fast), for
tests and benchmarks that measure what comes after ingestion. The generator's legacy inspections
arrive 1-7 days after each record, as in the live flow; only those dated up to the last day
written are known. Tables are Delta, partitioned by day like the pipeline's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from generator import channels
from generator.config import GeneratorConfig
from generator.inspection import inspect
from generator.world import World
from jobs.ingest import row_hash
from jobs.settings import Settings
from jobs.sources import SOURCES, SourceSpec

SMALL_VOLUMES = {"declarations": 70, "express": 160, "mail": 60}


def with_truth_labels(frame: pd.DataFrame, truth: pd.DataFrame, record_id: str) -> pd.DataFrame:
    """The rows of `frame` whose record (`record_id`) is in the generator's `truth`, with its
    `fraud` label and `critical` (outcome 2): every record labelled, as if every one were
    inspected, for benchmarks that need a realistic volume of labels."""
    labels = truth.assign(critical=(truth["outcome"] == 2).astype(int))[["record_key", "fraud", "critical"]]
    return frame.merge(labels.rename(columns={"record_key": record_id}), on=record_id)


@dataclass
class GeneratedLake:
    """The days written and the hidden truth of every record."""

    start: dt.date
    days: int
    truth: pd.DataFrame
    world: World

    @property
    def last(self) -> dt.date:
        """The last day with records."""
        return self.start + dt.timedelta(days=self.days - 1)


def typed(spark: SparkSession, spec: SourceSpec, frame: pd.DataFrame) -> DataFrame:
    """Landing-style frame (headers, strings) -> typed rows of the source's silver schema."""
    delivered = frame[[c.header for c in spec.columns]].astype(str).replace({"": None, "nan": None, "None": None})
    schema = T.StructType([T.StructField(c.header, T.StringType()) for c in spec.columns])
    return spec.typed(spark.createDataFrame(delivered, schema))


def _with_lineage(df: DataFrame, table: str) -> DataFrame:
    """The lineage columns ingestion writes (row hash, file, line, ingest time), so the daily
    pipeline can land later days onto this lake as onto an ingested one."""
    if "_row_hash" in df.columns:
        return df
    return (df.withColumn("_row_hash", row_hash(SOURCES[table], df.columns))
            .withColumn("_source_file", F.lit(f"generated://{table}"))
            .withColumn("_line_number", F.monotonically_increasing_id() + 2)
            .withColumn("_ingested_at", F.current_timestamp()))


def _write(df: DataFrame, settings: Settings, table: str, mode: str) -> None:
    spec = SOURCES[table]
    df = _with_lineage(df, table)
    writer = df.write.format("delta").mode(mode).option("overwriteSchema", "true" if mode == "overwrite" else "false")
    if spec.partition_column:
        writer = writer.partitionBy(spec.partition_column)
    writer.save(str(settings.table_path("silver", table)))


def _with_outcomes(spark: SparkSession, channel: str, rows: pd.DataFrame, results: pd.DataFrame) -> DataFrame:
    """The channel's typed rows with the inspection outcome merged on, as the feedback step does."""
    spec = SOURCES[channel]
    key = spec.key[0]
    outcome = typed(spark, SOURCES["inspection_results"], results).where(F.col("channel") == channel).select(
        F.col("record_key").alias(key), "inspection_date", F.col("outcome").alias("inspection_outcome"),
        F.col("finding").alias("inspection_finding"))
    silver = typed(spark, spec, rows).join(outcome, key, "left")
    if channel == "declarations":
        silver = (silver.withColumn("fraud", (F.col("inspection_outcome") > 0).cast("int"))
                  .withColumn("critical_fraud", F.col("inspection_outcome")))
    return silver


def build_lake(spark: SparkSession, settings: Settings, start: dt.date, days: int, seed: int = 5,
               volumes: dict[str, int] | None = None, scale: float = 0.3, chunk_days: int = 10,
               volume_on: Callable[[dt.date], dict[str, int]] | None = None,
               progress: Callable[[str], None] = lambda _: None) -> GeneratedLake:
    """Write silver tables of the channels in `volumes` (records per day; `volume_on(day)` can
    change them per day), the references and the inspection results known by the last day, for
    `days` generated days from `start`, `chunk_days` days per Delta commit."""
    volumes = volumes or SMALL_VOLUMES
    config = GeneratorConfig(seed=seed, scale=scale)
    world = World(config, start)
    last = start + dt.timedelta(days=days - 1)
    truths, all_results, mode = [], [], "overwrite"
    for first in range(0, days, chunk_days):
        rows: dict[str, list[pd.DataFrame]] = {c: [] for c in volumes}
        results, orders = [], []
        for i in range(first, min(days, first + chunk_days)):
            day = start + dt.timedelta(days=i)
            rng = np.random.default_rng([seed, i])
            for channel, n in (volume_on(day) if volume_on else volumes).items():
                batch = getattr(channels, channel)(world, day, n, config.rates, rng)
                rows[channel].append(batch.rows)
                truths.append(batch.truth)
                results.append(inspect(channel, batch.rows, batch.truth, world, day, config.rates, rng))
                if channel == "express":
                    orders.append(channels.platform_orders(batch.rows, batch.truth, rng))
        known = pd.concat(results)
        known = known[known["Inspection Date"] <= last.isoformat()]
        all_results.append(known)
        for channel, frames in rows.items():
            if frames:
                _write(_with_outcomes(spark, channel, pd.concat(frames), known), settings, channel, mode)
        if orders:
            _write(typed(spark, SOURCES["platform_orders"], pd.concat(orders)), settings, "platform_orders", mode)
        mode = "append"
        progress(f"  silver days {first + 1}-{min(days, first + chunk_days)} of {days} written")
    _write(typed(spark, SOURCES["inspection_results"], pd.concat(all_results)), settings, "inspection_results",
           "overwrite")
    history = {"_valid_from": F.lit(start), "_valid_to": F.lit(None).cast("date"), "_is_current": F.lit(True)}
    for table, frame in (("pccc_registry", world.registry()), ("watch_lists", world.watch)):
        spec = SOURCES[table]
        _write(typed(spark, spec, frame.rename(columns=lambda c, s=spec: s.column(c).header)).withColumns(history),
               settings, table, "overwrite")
    return GeneratedLake(start, days, pd.concat(truths, ignore_index=True), world)
