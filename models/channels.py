"""The selectors, one per inspected channel, described as data: which silver table, which key
and day, how its labelled history and feature table are built. Training, the feature assets and
(later) scoring are written once against this description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.declarations import declaration_features, labelled_history
from features.express import express_features
from features.mail import mail_features
from features.parcels import ParcelReferences, parcel_labels

# (records, history, references) -> one feature row per record
FeatureBuilder = Callable[[DataFrame, DataFrame, ParcelReferences | None], DataFrame]


def declaration_labels(silver: DataFrame) -> DataFrame:
    """Labelled declarations: `fraud` and `critical` (KCS `critical_fraud` = 2)."""
    return labelled_history(silver).select("declaration_id", "fraud", "critical")


def parcel_outcome_labels(record_id: str) -> Callable[[DataFrame], DataFrame]:
    """Labelled parcels: outcome >= 1 is fraud, 2 critical."""
    def labels(silver: DataFrame) -> DataFrame:
        return parcel_labels(silver).select(record_id, "fraud", "critical")
    return labels


def _declarations(records: DataFrame, history: DataFrame, _refs: ParcelReferences | None) -> DataFrame:
    history = history.withColumn("label_day", F.coalesce("inspection_date", "date"))
    return declaration_features(records, history, label_day_column="label_day")


@dataclass(frozen=True)
class ChannelSelector:
    """One channel's selector: its silver table, record key and day, labels and features."""

    channel: str
    model_name: str
    record_id: str
    day_column: str
    labels: Callable[[DataFrame], DataFrame]  # silver -> (record key, fraud, critical) of labelled rows
    build_features: FeatureBuilder
    needs_references: bool = False
    description: str = ""

    def feature_columns(self, columns: list[str]) -> list[str]:
        """Model inputs among a feature table's columns (all but the key and the day)."""
        return [c for c in columns if c not in (self.record_id, self.day_column, "fraud", "critical")]


SELECTORS: dict[str, ChannelSelector] = {
    s.channel: s for s in (
        ChannelSelector("declarations", "declarations_selector", "declaration_id", "date", declaration_labels,
                        _declarations,
                        description="general-cargo declarations: importer/declarant/seller/HS/country profiles, "
                        "unit price against the HS6 norm"),
        ChannelSelector("express", "express_selector", "house_awb", "arrival_date",
                        parcel_outcome_labels("house_awb"), express_features, needs_references=True,
                        description="express parcels: PCCC identity and usage, split shipments, declared vs "
                        "paid, watch lists, contents words, profiles"),
        ChannelSelector("mail", "mail_selector", "mail_id", "arrival_date", parcel_outcome_labels("mail_id"),
                        mail_features, needs_references=True,
                        description="international mail: supplements/medicines as gifts, PCCC identity, "
                        "watch-list keywords, profiles"),
    )
}
