"""Value features: declared unit price against what the same HS6 (and HS6 x origin) cost before
the record's day, plus the plain attributes of a declaration. Label-free."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.profiles import entity_key, sums_before_each_day

PRICE_GROUPS = {"hs6": ("hs6_code",), "hs6_origin": ("hs6_code", "country_of_origin")}


def _log_unit_price(df: DataFrame) -> DataFrame:
    return df.withColumn("_lup", F.log1p(F.col("item_price")) - F.log1p(F.greatest(F.col("net_mass"), F.lit(0.001))))


def unit_price_features(records: DataFrame, history: DataFrame, record_id: str = "declaration_id",
                        day_column: str = "date") -> DataFrame:
    """Per record: mean and spread of the log unit price of the same group in `history` before the
    record's day, the record's ratio to it and its z-score."""
    records = _log_unit_price(records)
    history = _log_unit_price(history)
    out = records.select(record_id, "_lup")
    for name, cols in PRICE_GROUPS.items():
        daily = history.groupBy(entity_key(cols).alias("_g"), F.col(day_column).alias("_day")).agg(
            F.count(F.lit(1)).alias("_n"), F.sum("_lup").alias("_s"), F.sum(F.col("_lup") ** 2).alias("_ss"))
        asked = records.select(entity_key(cols).alias("_g"), F.col(day_column).alias("_day")).distinct()
        stats = sums_before_each_day(asked, daily, ["_g"], ["_n", "_s", "_ss"])
        n, s, ss = F.col("_n").cast("double"), F.col("_s"), F.col("_ss")
        mean = F.try_divide(s, n)  # null when the group has no history yet
        std = F.sqrt(F.greatest(F.try_divide(ss, n) - mean ** 2, F.lit(0.0))) + F.lit(0.25)
        feats = stats.select("_g", "_day", n.alias(f"{name}_price_n"), mean.alias("_mean"), std.alias("_std"))
        keyed = records.select(record_id, "_lup", entity_key(cols).alias("_g"), F.col(day_column).alias("_day"))
        joined = keyed.join(feats, ["_g", "_day"], "left").select(
            record_id, f"{name}_price_n",
            (F.col("_lup") - F.col("_mean")).alias(f"{name}_log_price_ratio"),
            F.try_divide(F.col("_lup") - F.col("_mean"), F.col("_std")).alias(f"{name}_price_z"),
        )
        out = out.join(joined, record_id, "left")
    return out.withColumnRenamed("_lup", "log_unit_price")


def declaration_attributes(records: DataFrame, record_id: str = "declaration_id") -> DataFrame:
    """Attributes of the declaration itself: rates, FTA claim, origin vs departure, sizes."""
    return records.select(
        record_id,
        F.col("tax_rate").alias("tax_rate"),
        F.col("tax_type").startswith("F").cast("double").alias("fta_claimed"),
        (F.col("country_of_origin") != F.col("country_of_departure")).cast("double").alias("origin_ne_departure"),
        F.log1p(F.col("net_mass")).alias("log_net_mass"),
        F.log1p(F.col("item_price")).alias("log_item_price"),
        F.col("courier_id").isNotNull().cast("double").alias("has_courier"),
        F.col("seller_id").isNull().cast("double").alias("seller_missing"),
        F.dayofweek("date").cast("double").alias("day_of_week"),
    )
