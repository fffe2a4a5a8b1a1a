"""The express selector's feature table: PCCC identity and usage, split-shipment sums, declared
vs paid, watch-list hits, contents words, parcel attributes and point-in-time risk profiles."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.parcels import (
    IDENTITY_FLAGS,
    PAID_COLUMNS,
    ParcelReferences,
    content_flags,
    earlier_and_records,
    parcel_labels,
    scored_rows,
    split_shipment_columns,
    usage_columns,
    watch_columns,
    with_declared_vs_paid,
    with_pccc_identity,
    with_pccc_usage,
    with_split_shipment_sums,
    with_values,
    with_watch_levels,
)
from features.profiles import profile_columns

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


def express_attributes() -> dict[str, Column]:
    """What the parcel itself says: value against the de minimis, weight, channel of purchase
    (name -> column over a row with `with_values`' columns)."""
    ratio = F.col("value_usd") / F.col("de_minimis_usd")
    return {
        "log_value_usd": F.log1p("value_usd"),
        "value_to_de_minimis": ratio,
        "just_under_de_minimis": ratio.between(0.7, 1.0).cast("double"),
        "log_gross_weight": F.log1p("gross_weight_kg"),
        "log_value_per_kg": F.log1p("value_usd") - F.log1p("gross_weight_kg"),
        "quantity": F.col("quantity").cast("double"),
        "bought_online": F.col("order_id").isNotNull().cast("double"),
        "commercial": (F.col("purpose") == "commercial").cast("double"),
        "full_clearance": (F.col("clearance_type") == "full").cast("double"),
        "hs6_missing": F.col("hs6_code").isNull().cast("double"),
        "origin_ne_departure": (F.col("country_of_origin") != F.col("country_of_departure")).cast("double"),
        "currency_not_usd": (F.col("currency") != "USD").cast("double"),
        "day_of_week": F.dayofweek(DAY).cast("double"),
    }


EXPRESS_STATE = EntityStateSpec(EXPRESS_ENTITIES, RECORD_ID, DAY)


def express_features(records: DataFrame, history: DataFrame, refs: ParcelReferences) -> DataFrame:
    """One row per express parcel of `records` with every feature: labels only from inspections
    of `history` dated before the parcel's day, references as known on that day."""
    return express_features_from(records, HistorySums(parcel_labels(history)), refs, None)


# The silver columns the features read (the rest of the row is not carried through the shuffles).
EXPRESS_INPUTS = (RECORD_ID, DAY, "courier_id", "country_of_departure", "country_of_origin", "seller_id", "platform",
                  "order_id", "recipient_pccc", "recipient_name", "recipient_phone", "recipient_postcode",
                  "item_description", "hs6_code", "quantity", "gross_weight_kg", "declared_value", "currency",
                  "clearance_type", "purpose")
WATCH_KEYS = {"seller": "seller_id", "hs6": "hs6_code"}
USAGE_ATTRIBUTES = {"names": "recipient_name", "phones": "recipient_phone", "postcodes": "recipient_postcode"}


def express_features_from(records: DataFrame, sums: Sums, refs: ParcelReferences,
                          earlier: DataFrame | None) -> DataFrame:
    """Every feature of the parcels of `records`: profiles from `sums` (full history or the state
    before the day), windowed usage and split-shipment sums over the parcels of `records` and
    `earlier` (the parcels of the `WINDOW_DAYS` days before the records' day, or None when
    `records` are the whole history).

    Every part is added as columns of one frame: the windows are computed on the records and the
    earlier rows together and the records' rows kept, references travel to the rows by their own
    key, so no part is joined back on the parcel key."""
    rows = earlier_and_records(records.select(*EXPRESS_INPUTS), earlier)
    rows = with_split_shipment_sums(with_pccc_usage(with_values(rows), RECORD_ID, DAY, USAGE_ATTRIBUTES),
                                    RECORD_ID, DAY)
    frame = scored_rows(rows)
    paid: tuple[str, ...] = ()
    if refs.platform_orders is not None:
        frame, paid = with_declared_vs_paid(frame, refs.platform_orders, DAY), PAID_COLUMNS
    frame = with_pccc_identity(frame, refs.registry, DAY)
    frame = with_watch_levels(frame, refs.watch_lists, DAY, WATCH_KEYS, "item_description")
    attributes, contents = express_attributes(), content_flags("item_description")
    frame = frame.withColumns({**attributes, **contents})  # replaces an input of the same name (quantity)
    frame = sums.with_profiles(frame, EXPRESS_ENTITIES, RECORD_ID, DAY)
    return frame.select(RECORD_ID, *attributes, *IDENTITY_FLAGS, *usage_columns(USAGE_ATTRIBUTES),
                        *split_shipment_columns(), *watch_columns(WATCH_KEYS, "item_description"), *contents,
                        *profile_columns(EXPRESS_ENTITIES), *paid, DAY)
