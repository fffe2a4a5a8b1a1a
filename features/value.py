"""Value features: declared unit price against what the same HS6 (and HS6 x origin) cost before
the record's day, plus the plain attributes of a declaration. Label-free."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.profiles import entity_key, sums_before_each_day

PRICE_GROUPS = {"hs6": ("hs6_code",), "hs6_origin": ("hs6_code", "country_of_origin")}
PRICE_SUMS = ["_n", "_s", "_ss"]


def price_etype(group: str) -> str:
    """Entity type under which the entity state keeps a price group's sums."""
    return f"price:{group}"


def with_log_unit_price(df: DataFrame) -> DataFrame:
    """Add `_lup`, the log unit price (KRW per kg; net mass floored at 1 g)."""
    return df.withColumn("_lup", F.log1p(F.col("item_price")) - F.log1p(F.greatest(F.col("net_mass"), F.lit(0.001))))


def exact_sum(column: str | F.Column) -> F.Column:
    """The sum of a double column with each value rounded to 18 decimals, added up exactly as
    decimal(38,18) and rounded once to a double: the result does not depend on how rows are split
    into partitions or in what order they arrive, so a cluster and local mode (or a rerun with other
    shuffle settings) produce the same state bit for bit. Floating-point addition is not
    associative; this is. A NaN or infinite value (no decimal) is left out, as a null is."""
    value = F.col(column) if isinstance(column, str) else column
    return F.sum(value.try_cast("decimal(38,18)")).cast("double")


def _group_keys(groups: dict[str, tuple[str, ...]]):
    """One (`_etype`, `_entity`) row per price group of each row (exploded)."""
    return F.explode(F.array(*[F.struct(F.lit(price_etype(name)).alias("_etype"), entity_key(cols).alias("_entity"))
                               for name, cols in groups.items()])).alias("_e")


def price_sums_long(history: DataFrame, groups: dict[str, tuple[str, ...]] = PRICE_GROUPS,
                    day_column: str = "date") -> DataFrame:
    """Per (price group type, group, day): records `_n`, sum `_s` and sum of squares `_ss` of the
    log unit price: what the running means and spreads are made of."""
    history = with_log_unit_price(history)
    return (history.select(F.col(day_column).alias("_day"), "_lup", _group_keys(groups)).select("_day", "_lup", "_e.*")
            .groupBy("_etype", "_entity", "_day")
            .agg(F.count(F.lit(1)).alias("_n"), exact_sum("_lup").alias("_s"),
                 exact_sum(F.col("_lup") ** 2).alias("_ss")))


def _price_columns(records: DataFrame, sums: DataFrame, groups: dict[str, tuple[str, ...]], record_id: str,
                   day_column: str) -> DataFrame:
    """Per record and group: how many earlier prices, and the record's log ratio and z-score
    against their mean and spread, from `sums` (`_etype`, `_entity`, `_day`, `_n`, `_s`, `_ss`:
    the sums before that day)."""
    records = with_log_unit_price(records)
    out = records.select(record_id, "_lup")
    for name, cols in groups.items():
        n, s, ss = F.col("_n").cast("double"), F.col("_s"), F.col("_ss")
        mean = F.try_divide(s, n)  # null when the group has no history yet
        std = F.sqrt(F.greatest(F.try_divide(ss, n) - mean ** 2, F.lit(0.0))) + F.lit(0.25)
        feats = sums.where(F.col("_etype") == price_etype(name)).select(
            "_entity", "_day", n.alias(f"{name}_price_n"), mean.alias("_mean"), std.alias("_std"))
        keyed = records.select(record_id, "_lup", entity_key(cols).alias("_entity"), F.col(day_column).alias("_day"))
        joined = keyed.join(feats, ["_entity", "_day"], "left").select(
            record_id, f"{name}_price_n",
            (F.col("_lup") - F.col("_mean")).alias(f"{name}_log_price_ratio"),
            F.try_divide(F.col("_lup") - F.col("_mean"), F.col("_std")).alias(f"{name}_price_z"),
        )
        out = out.join(joined, record_id, "left")
    return out.withColumnRenamed("_lup", "log_unit_price")


def _asked_groups(records: DataFrame, groups: dict[str, tuple[str, ...]], day_column: str) -> DataFrame:
    return (records.select(F.col(day_column).alias("_day"), _group_keys(groups))
            .select("_e._etype", "_e._entity", "_day").distinct())


def unit_price_features(records: DataFrame, history: DataFrame, record_id: str = "declaration_id",
                        day_column: str = "date", groups: dict[str, tuple[str, ...]] = PRICE_GROUPS) -> DataFrame:
    """Per record: mean and spread of the log unit price of the same group in `history` before the
    record's day, the record's ratio to it and its z-score."""
    sums = sums_before_each_day(_asked_groups(records, groups, day_column),
                                price_sums_long(history, groups, day_column), ["_etype", "_entity"], PRICE_SUMS)
    return _price_columns(records, sums, groups, record_id, day_column)


def unit_price_features_from_state(records: DataFrame, state: DataFrame, record_id: str = "declaration_id",
                                   day_column: str = "date",
                                   groups: dict[str, tuple[str, ...]] = PRICE_GROUPS) -> DataFrame:
    """`unit_price_features` for the records of one day from the entity state as it stood before
    that day (the price groups' cumulative `r`, `s`, `ss`)."""
    sums = (_asked_groups(records, groups, day_column)
            .join(state.select(F.col("etype").alias("_etype"), F.col("entity").alias("_entity"),
                               F.col("r").alias("_n"), F.col("s").alias("_s"), F.col("ss").alias("_ss")),
                  ["_etype", "_entity"], "left")
            .fillna(0, PRICE_SUMS))
    return _price_columns(records, sums, groups, record_id, day_column)


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
