"""A small generated lake written straight into silver (no landing, no validation: fast), with
the generator's legacy inspections arriving 1-7 days after each record, as in the live flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from generator import channels
from generator.config import GeneratorConfig
from generator.inspection import inspect
from generator.world import World
from jobs.settings import Settings
from jobs.sources import SOURCES, SourceSpec

VOLUMES = {"declarations": 70, "express": 160, "mail": 60}


@dataclass
class GeneratedLake:
    """The days written and the hidden truth of every record."""

    start: dt.date
    days: int
    truth: pd.DataFrame

    @property
    def last(self) -> dt.date:
        """The last day with records."""
        return self.start + dt.timedelta(days=self.days - 1)


def typed(spark: SparkSession, spec: SourceSpec, frame: pd.DataFrame) -> DataFrame:
    """Landing-style frame (headers, strings) -> typed rows of the source's silver schema."""
    delivered = frame[[c.header for c in spec.columns]].astype(str).replace({"": None, "nan": None, "None": None})
    return spec.typed(spark.createDataFrame(delivered))


def _save(df: DataFrame, settings: Settings, table: str) -> None:
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(
        str(settings.table_path("silver", table)))


def build_lake(spark: SparkSession, settings: Settings, start: dt.date, days: int, seed: int = 5) -> GeneratedLake:
    """Write silver tables of every channel, the references and the inspection results (those dated
    up to the last day) for `days` generated days from `start`."""
    config = GeneratorConfig(seed=seed, scale=0.3)
    world = World(config, start)
    rows: dict[str, list[pd.DataFrame]] = {c: [] for c in VOLUMES}
    truths, results, orders = [], [], []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        rng = np.random.default_rng([seed, i])
        for channel, n in VOLUMES.items():
            batch = getattr(channels, channel)(world, day, n, config.rates, rng)
            rows[channel].append(batch.rows)
            truths.append(batch.truth)
            results.append(inspect(channel, batch.rows, batch.truth, world, day, config.rates, rng))
            if channel == "express":
                orders.append(channels.platform_orders(batch.rows, batch.truth, rng))
    last = start + dt.timedelta(days=days - 1)
    result_frame = pd.concat(results)
    result_frame = result_frame[result_frame["Inspection Date"] <= last.isoformat()]
    inspection = typed(spark, SOURCES["inspection_results"], result_frame).cache()
    _save(inspection, settings, "inspection_results")
    for channel, frames in rows.items():
        spec = SOURCES[channel]
        silver = typed(spark, spec, pd.concat(frames))
        key = spec.key[0]
        outcome = inspection.where(F.col("channel") == channel).select(
            F.col("record_key").alias(key), "inspection_date", F.col("outcome").alias("inspection_outcome"),
            F.col("finding").alias("inspection_finding"))
        silver = silver.join(outcome, key, "left")
        if channel == "declarations":
            silver = (silver.withColumn("fraud", (F.col("inspection_outcome") > 0).cast("int"))
                      .withColumn("critical_fraud", F.col("inspection_outcome")))
        _save(silver, settings, channel)
    history = {"_valid_from": F.lit(start), "_valid_to": F.lit(None).cast("date"), "_is_current": F.lit(True)}
    for table, frame in (("pccc_registry", world.registry()), ("watch_lists", world.watch)):
        spec = SOURCES[table]
        _save(typed(spark, spec, frame.rename(columns=lambda c, s=spec: s.column(c).header)).withColumns(history),
              settings, table)
    _save(typed(spark, SOURCES["platform_orders"], pd.concat(orders)), settings, "platform_orders")
    inspection.unpersist()
    return GeneratedLake(start, days, pd.concat(truths, ignore_index=True))
