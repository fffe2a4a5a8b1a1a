"""The express selector's feature table: PCCC identity and usage, split-shipment sums, declared
vs paid, watch-list hits, contents words, parcel attributes and point-in-time risk profiles."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.parcels import (
    ParcelReferences,
    content_flags,
    declared_vs_paid,
    join_feature_parts,
    parcel_labels,
    pccc_identity,
    pccc_usage,
    split_shipment_sums,
    watch_list_hits,
    with_values,
)

RECORD_ID, DAY = "house_awb", "arrival_date"
EXPRESS_ENTITIES: dict[str, tuple[str, ...]] = {
    "seller": ("seller_id",),
    "courier": ("courier_id",),
    "platform": ("platform",),
    "departure": ("country_of_departure",),
    "pccc": ("recipient_pccc",),
    "postcode": ("recipient_postcode",),
    "hs6": ("hs6_code",),
    "hs4": ("hs4",),
    "seller_departure": ("seller_id", "country_of_departure"),
    "seller_platform": ("seller_id", "platform"),
    "courier_departure": ("courier_id", "country_of_departure"),
}


def express_attributes(records: DataFrame) -> DataFrame:
    """What the parcel itself says: value against the de minimis, weight, channel of purchase."""
    ratio = F.col("value_usd") / F.col("de_minimis_usd")
    return records.select(
        RECORD_ID,
        F.log1p("value_usd").alias("log_value_usd"),
        ratio.alias("value_to_de_minimis"),
        ratio.between(0.7, 1.0).cast("double").alias("just_under_de_minimis"),
        F.log1p("gross_weight_kg").alias("log_gross_weight"),
        (F.log1p("value_usd") - F.log1p("gross_weight_kg")).alias("log_value_per_kg"),
        F.col("quantity").cast("double").alias("quantity"),
        F.col("order_id").isNotNull().cast("double").alias("bought_online"),
        (F.col("purpose") == "commercial").cast("double").alias("commercial"),
        (F.col("clearance_type") == "full").cast("double").alias("full_clearance"),
        F.col("hs6_code").isNull().cast("double").alias("hs6_missing"),
        (F.col("country_of_origin") != F.col("country_of_departure")).cast("double").alias("origin_ne_departure"),
        (F.col("currency") != "USD").cast("double").alias("currency_not_usd"),
        F.dayofweek(DAY).cast("double").alias("day_of_week"),
    )


EXPRESS_STATE = EntityStateSpec(EXPRESS_ENTITIES, RECORD_ID, DAY)


def express_features(records: DataFrame, history: DataFrame, refs: ParcelReferences) -> DataFrame:
    """One row per express parcel of `records` with every feature: labels only from inspections
    of `history` dated before the parcel's day, references as known on that day."""
    return express_features_from(records, HistorySums(parcel_labels(history)), refs, records)


def express_features_from(records: DataFrame, sums: Sums, refs: ParcelReferences, window: DataFrame) -> DataFrame:
    """Every feature of the parcels of `records`: profiles from `sums` (full history or the state
    before the day), windowed usage and split-shipment sums over the parcels of `window` (the last
    `WINDOW_DAYS` days up to the records' day, or all of them)."""
    valued = with_values(records)
    valued_window = with_values(window)
    parts = [
        express_attributes(valued),
        pccc_identity(records, refs.registry, RECORD_ID, DAY),
        pccc_usage(window, RECORD_ID, DAY, {"names": "recipient_name", "phones": "recipient_phone",
                                            "postcodes": "recipient_postcode"}),
        split_shipment_sums(valued_window, RECORD_ID, DAY),
        watch_list_hits(records, refs.watch_lists, RECORD_ID, DAY, {"seller": "seller_id", "hs6": "hs6_code"},
                        "item_description"),
        content_flags(records, RECORD_ID, "item_description"),
        sums.profiles(records, EXPRESS_ENTITIES, RECORD_ID, DAY),
    ]
    if refs.platform_orders is not None:
        parts.append(declared_vs_paid(valued, refs.platform_orders, RECORD_ID, DAY))
    return join_feature_parts(records, parts, RECORD_ID, DAY)
