"""The declarations selector's feature table: profiles, value features and attributes."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.profiles import profile_features
from features.value import declaration_attributes, unit_price_features


def labelled_history(declarations: DataFrame, label_day_column: str = "date") -> DataFrame:
    """Declarations whose outcome is known, with `fraud`, `critical` (critical_fraud = 2) and the
    day the label became known (`label_date`)."""
    return (
        declarations.where(F.col("fraud").isNotNull())
        .withColumn("critical", (F.col("critical_fraud") == 2).cast("int"))
        .withColumn("label_date", F.col(label_day_column))
    )


def declaration_features(records: DataFrame, history: DataFrame, label_day_column: str = "date") -> DataFrame:
    """One row per record of `records` with every feature, computed from `history` only (records
    of earlier days; labels known before the record's day). Pass the same frame twice for a
    pipeline day; for an evaluation, `history` is the training data alone."""
    labelled = labelled_history(history, label_day_column)
    profiles = profile_features(records, labelled)  # label_date = the day the label became known
    prices = unit_price_features(records, history)
    attributes = declaration_attributes(records)
    return profiles.join(prices, "declaration_id", "left").join(attributes, "declaration_id", "left")
