"""The point-in-time entity state: per entity type and entity, the running counts every profile
and price feature is made of (labels, frauds, critical finds, records, price sums, last label day).

A day's increment holds what that day adds: the labels that became known that day and the records
of that day. The state before day D is the sum of the increments of the days before D. Features
read "what was known before the record's day" through one of two `Sums`:

- `HistorySums`: running sums over the whole history, for every record at once (the weekly
  feature tables and `customs-risk evaluate`);
- `StateSums`: the state as it stood before one day, for that day's records (daily scoring, whose
  cost does not grow with history).

Both end in the same formulas (`profile_values`, the price columns), so they give the same values;
a test checks it day by day."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import Protocol

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from features.profiles import (
    asked_entities,
    entity_input_columns,
    label_counts_long,
    profile_features,
    profile_features_from_state,
    record_counts_long,
    with_derived_keys,
)
from features.value import (
    PRICE_GROUPS,
    exact_sum,
    price_sums_long,
    unit_price_features,
    unit_price_features_from_state,
)

STATE_SCHEMA = T.StructType([
    T.StructField("etype", T.StringType(), False),
    T.StructField("entity", T.StringType(), False),
    T.StructField("n", T.LongType(), False),
    T.StructField("f", T.LongType(), False),
    T.StructField("c", T.LongType(), False),
    T.StructField("r", T.LongType(), False),
    T.StructField("s", T.DoubleType(), False),
    T.StructField("ss", T.DoubleType(), False),
    T.StructField("last_label_day", T.DateType(), True),
])
INCREMENT_SCHEMA = T.StructType([T.StructField("day", T.DateType(), False), *STATE_SCHEMA.fields])
COUNTS = ("n", "f", "c", "r")
PRICE = ("s", "ss")


@dataclass(frozen=True)
class EntityStateSpec:
    """What a channel's state tracks: profiled entities (name -> columns) and, for declarations,
    price groups (name -> columns), keyed by the channel's record id and day."""

    entities: dict[str, tuple[str, ...]]
    record_id: str
    day_column: str
    price_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)


def entity_increments(spec: EntityStateSpec, records: DataFrame, labelled: DataFrame,
                      price_history: DataFrame | None = None) -> DataFrame:
    """Per day, entity type and entity: the labels that became known that day (`labelled`, with
    `label_date`, `fraud`, `critical`), the records of that day, and (with price groups) the price
    sums of `price_history`'s records of that day. One pass over any number of days."""
    records, labelled = with_derived_keys(records), with_derived_keys(labelled)
    labels = label_counts_long(labelled, spec.entities).withColumn(
        "last_label_day", F.when(F.col("_n") > 0, F.col("_day")))
    parts = [labels, record_counts_long(asked_entities(records, spec.entities, spec.record_id, spec.day_column))]
    if spec.price_groups:
        prices = price_sums_long(price_history if price_history is not None else records, spec.price_groups,
                                 spec.day_column)
        parts.append(prices.withColumnRenamed("_n", "_r"))
    long = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)
    for missing in {f"_{c}" for c in (*COUNTS, *PRICE)} - set(long.columns):
        long = long.withColumn(missing, F.lit(None))
    sums = [F.coalesce(F.sum(f"_{c}"), F.lit(0)).cast("long").alias(c) for c in COUNTS]
    sums += [F.coalesce(exact_sum(f"_{c}"), F.lit(0.0)).alias(c) for c in PRICE]
    return (long.groupBy(F.col("_day").alias("day"), F.col("_etype").alias("etype"), F.col("_entity").alias("entity"))
            .agg(*sums, F.max("last_label_day").alias("last_label_day"))
            .select([F.col(f.name).cast(f.dataType) for f in INCREMENT_SCHEMA.fields]))


def accumulate(state: DataFrame | None, increments: DataFrame) -> DataFrame:
    """`state` (None: empty) plus every row of `increments`: the state after their days."""
    rows = increments.drop("day")
    if state is not None:
        rows = state.unionByName(rows)
    sums = [F.sum(c).cast("long").alias(c) for c in COUNTS] + [exact_sum(c).alias(c) for c in PRICE]
    return (rows.groupBy("etype", "entity").agg(*sums, F.max("last_label_day").alias("last_label_day"))
            .select([F.col(f.name).cast(f.dataType) for f in STATE_SCHEMA.fields]))


class Sums(Protocol):
    """Where a record's "known before its day" figures come from."""

    def profiles(self, records: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                 day_column: str) -> DataFrame: ...

    def with_profiles(self, frame: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                      day_column: str) -> DataFrame: ...

    def prices(self, records: DataFrame) -> DataFrame: ...


@dataclass(frozen=True)
class HistorySums:
    """Running sums over the whole history: `labelled` (with `label_date`) for profiles,
    `price_history` (declarations) for unit prices."""

    labelled: DataFrame
    price_history: DataFrame | None = None

    def profiles(self, records: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                 day_column: str) -> DataFrame:
        """Profiles of every record from the labels known before its day."""
        return profile_features(records, self.labelled, entities, record_id, day_column)

    def with_profiles(self, frame: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                      day_column: str) -> DataFrame:
        """`frame` with its records' profiles added (joined back by key: the running sums regroup
        every record anyway). The profiles read only the key, the day and the entity columns, so
        the rest of `frame`'s lineage is not computed twice."""
        needed = entity_input_columns(entities)
        keys = frame.select(record_id, day_column, *[c for c in frame.columns if c in needed])
        profiles = self.profiles(keys, entities, record_id, day_column).drop(day_column)
        return frame.join(profiles, record_id, "left")

    def prices(self, records: DataFrame) -> DataFrame:
        """Unit-price features of every declaration from the prices declared before its day."""
        if self.price_history is None:
            raise ValueError("price features need a price history")
        return unit_price_features(records, self.price_history, groups=PRICE_GROUPS)


@dataclass(frozen=True)
class StateSums:
    """The entity state as it stood before the records' (one) day."""

    state: DataFrame

    def profiles(self, records: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                 day_column: str) -> DataFrame:
        """Profiles of the day's records from the state before the day."""
        return profile_features_from_state(records, self.state, entities, record_id, day_column)

    def with_profiles(self, frame: DataFrame, entities: dict[str, tuple[str, ...]], record_id: str,
                      day_column: str) -> DataFrame:
        """`frame` with its records' profiles added: every column of `frame` is carried through
        the state's broadcast joins; only entity types beyond the broadcast limits
        (`features.profiles.WIDE_JOINS`, `BROADCAST_STATE_ROWS`) are regrouped in long form and
        joined back on the key."""
        return profile_features_from_state(frame, self.state, entities, record_id, day_column, carry=True)

    def prices(self, records: DataFrame) -> DataFrame:
        """Unit-price features of the day's declarations from the state before the day."""
        return unit_price_features_from_state(records, self.state, groups=PRICE_GROUPS)
