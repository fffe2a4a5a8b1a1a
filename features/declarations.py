"""The declarations selector's feature table: profiles, value features and attributes."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.profiles import DECLARATION_ENTITIES
from features.value import PRICE_GROUPS, declaration_attributes

RECORD_ID, DAY = "declaration_id", "date"
DECLARATION_STATE = EntityStateSpec(DECLARATION_ENTITIES, RECORD_ID, DAY, PRICE_GROUPS)


def labelled_history(declarations: DataFrame, label_day_column: str = "date") -> DataFrame:
    """Declarations whose outcome is known, with `fraud`, `critical` (critical_fraud = 2) and the
    day the label became known (`label_date`)."""
    return (
        declarations.where(F.col("fraud").isNotNull())
        .withColumn("critical", (F.col("critical_fraud") == 2).cast("int"))
        .withColumn("label_date", F.col(label_day_column))
    )


def lake_labels(declarations: DataFrame) -> DataFrame:
    """Labelled declarations of the lake: a label counts from its inspection date, or from the
    declaration's own day when it was delivered with the declaration (no inspection date)."""
    return labelled_history(declarations.withColumn("_label_day", F.coalesce("inspection_date", "date")),
                            "_label_day").drop("_label_day")


def declaration_features(records: DataFrame, history: DataFrame, label_day_column: str = "date") -> DataFrame:
    """One row per record of `records` with every feature, computed from `history` only (records
    of earlier days; labels known before the record's day). Pass the same frame twice for a
    pipeline day; for an evaluation, `history` is the training data alone."""
    return declaration_features_from(records, HistorySums(labelled_history(history, label_day_column), history))


def declaration_features_from(records: DataFrame, sums: Sums) -> DataFrame:
    """One row per record with every feature, the profiles and prices taken from `sums` (the full
    history, or the entity state before the records' day)."""
    profiles = sums.profiles(records, DECLARATION_ENTITIES, RECORD_ID, DAY)
    prices = sums.prices(records)
    attributes = declaration_attributes(records)
    return profiles.join(prices, RECORD_ID, "left").join(attributes, RECORD_ID, "left")
