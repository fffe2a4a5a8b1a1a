"""The selectors, one per inspected channel, described as data: which silver table, which key
and day, how its labels, entity state and features are built. Training, the feature assets, the
daily state and scoring are written once against this description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.declarations import DECLARATION_STATE, declaration_features_from, lake_labels
from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.express import EXPRESS_STATE, express_features_from
from features.mail import MAIL_STATE, mail_features_from
from features.parcels import WINDOW_DAYS, ParcelReferences, parcel_labels
from jobs.publish import mask_name, mask_pccc, mask_phone, scrub_text

# (records, sums known before their day, references, the earlier records the windowed features look
# back into, None when the records are the whole history) -> one row per record
FeatureBuilder = Callable[[DataFrame, Sums, ParcelReferences | None, DataFrame | None], DataFrame]


def _declarations(records: DataFrame, sums: Sums, _refs: ParcelReferences | None,
                  _earlier: DataFrame | None) -> DataFrame:
    return declaration_features_from(records, sums)


@dataclass(frozen=True)
class ChannelSelector:
    """One channel's selector: its silver table, record key and day, labels, entity state and
    features."""

    channel: str
    model_name: str
    record_id: str
    day_column: str
    labelled: Callable[[DataFrame], DataFrame]  # silver -> labelled rows with fraud, critical, label_date
    state: EntityStateSpec
    features_from: FeatureBuilder
    needs_references: bool = False
    window_days: int = 0  # days of earlier records the windowed features read (0: none)
    description: str = ""
    # What an inspector needs to find the goods: list column -> expression over the silver row.
    # Personal data only ever through a mask.
    list_fields: tuple[tuple[str, Callable[[], Column]], ...] = ()

    def labels(self, silver: DataFrame) -> DataFrame:
        """(record key, fraud, critical) of the labelled records."""
        return self.labelled(silver).select(self.record_id, "fraud", "critical")

    def build_features(self, records: DataFrame, history: DataFrame, refs: ParcelReferences | None) -> DataFrame:
        """Every record's features from the full `history` (the weekly feature table)."""
        price_history = history if self.state.price_groups else None
        return self.features_from(records, HistorySums(self.labelled(history), price_history), refs, None)

    def feature_columns(self, columns: list[str]) -> list[str]:
        """Model inputs among a feature table's columns (all but the key and the day)."""
        return [c for c in columns if c not in (self.record_id, self.day_column, "fraud", "critical")]


def _col(name: str) -> Callable[[], Column]:
    return lambda: F.col(name)


DECLARATION_FIELDS = (
    ("office_id", _col("office_id")), ("courier_id", _col("courier_id")), ("importer_id", _col("importer_id")),
    ("hs6_code", _col("hs6_code")), ("origin_country", _col("country_of_origin")),
    ("net_mass_kg", _col("net_mass")), ("declared_value", _col("item_price")), ("currency", lambda: F.lit("KRW")),
)
EXPRESS_FIELDS = (
    ("master_awb", _col("master_awb")), ("courier_id", _col("courier_id")), ("hs6_code", _col("hs6_code")),
    ("goods_description", lambda: scrub_text(F.col("item_description"))),
    ("origin_country", _col("country_of_origin")),
    ("declared_value", _col("declared_value")), ("currency", _col("currency")),
    ("recipient_name_masked", lambda: mask_name(F.col("recipient_name"))),
    ("recipient_pccc_masked", lambda: mask_pccc(F.col("recipient_pccc"))),
    ("recipient_phone_masked", lambda: mask_phone(F.col("recipient_phone"))),
)
MAIL_FIELDS = (
    ("mail_class", _col("mail_class")), ("goods_description", lambda: scrub_text(F.col("contents_description"))),
    ("declared_category", _col("contents_category")), ("origin_country", _col("posting_country")),
    ("declared_value", _col("declared_value")), ("currency", _col("currency")),
    ("recipient_name_masked", lambda: mask_name(F.col("recipient_name"))),
    ("recipient_pccc_masked", lambda: mask_pccc(F.col("recipient_pccc"))),
)

SELECTORS: dict[str, ChannelSelector] = {
    s.channel: s for s in (
        ChannelSelector("declarations", "declarations_selector", "declaration_id", "date", lake_labels,
                        DECLARATION_STATE, _declarations,
                        description="general-cargo declarations: importer/declarant/seller/HS/country profiles, "
                        "unit price against the HS6 norm", list_fields=DECLARATION_FIELDS),
        ChannelSelector("express", "express_selector", "house_awb", "arrival_date", parcel_labels, EXPRESS_STATE,
                        express_features_from, needs_references=True, window_days=WINDOW_DAYS,
                        description="express parcels: PCCC identity and usage, split shipments, declared vs "
                        "paid, watch lists, contents words, profiles", list_fields=EXPRESS_FIELDS),
        ChannelSelector("mail", "mail_selector", "mail_id", "arrival_date", parcel_labels, MAIL_STATE,
                        mail_features_from, needs_references=True, window_days=WINDOW_DAYS,
                        description="international mail: supplements/medicines as gifts, PCCC identity, "
                        "watch-list keywords, profiles", list_fields=MAIL_FIELDS),
    )
}
