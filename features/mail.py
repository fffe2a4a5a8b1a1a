"""The mail selector's feature table: contents words against the declared category (supplements
and medicines sent as gifts), PCCC identity and usage, watch-list keywords, item attributes and
point-in-time risk profiles."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.parcels import (
    IDENTITY_FLAGS,
    ParcelReferences,
    content_flags,
    earlier_and_records,
    parcel_labels,
    pccc_given,
    scored_rows,
    usage_columns,
    watch_columns,
    with_pccc_identity,
    with_pccc_usage,
    with_values,
    with_watch_levels,
)
from features.profiles import profile_columns

RECORD_ID, DAY = "mail_id", "arrival_date"
MAIL_ENTITIES: dict[str, tuple[str, ...]] = {
    "posting_country": ("posting_country",),
    "mail_class": ("mail_class",),
    "category": ("contents_category",),
    "sender": ("sender_name",),
    "pccc": ("recipient_pccc",),
    "country_class": ("posting_country", "mail_class"),
    "country_category": ("posting_country", "contents_category"),
    "sender_country": ("sender_name", "posting_country"),
}


def mail_attributes() -> dict[str, Column]:
    """What the item itself says: category, class, value, weight (name -> column over a row with
    `with_values`' columns)."""
    return {
        "declared_gift": (F.col("contents_category") == "gift").cast("double"),
        "declared_documents": (F.col("contents_category") == "documents").cast("double"),
        "declared_merchandise": (F.col("contents_category") == "merchandise").cast("double"),
        "ems": (F.col("mail_class") == "EMS").cast("double"),
        "small_packet": (F.col("mail_class") == "small_packet").cast("double"),
        "log_value_usd": F.log1p("value_usd"),
        "value_to_de_minimis": F.col("value_usd") / F.col("de_minimis_usd"),
        "log_weight": F.log1p("weight_kg"),
        "log_value_per_kg": F.log1p("value_usd") - F.log1p("weight_kg"),
        "pccc_given": pccc_given().cast("double"),
        "day_of_week": F.dayofweek(DAY).cast("double"),
    }


MAIL_STATE = EntityStateSpec(MAIL_ENTITIES, RECORD_ID, DAY)


def mail_features(records: DataFrame, history: DataFrame, refs: ParcelReferences) -> DataFrame:
    """One row per mail item of `records` with every feature: labels only from inspections of
    `history` dated before the item's day, references as known on that day."""
    return mail_features_from(records, HistorySums(parcel_labels(history)), refs, None)


# The silver columns the features read (the inspection and lineage columns are not carried).
MAIL_INPUTS = (RECORD_ID, DAY, "posting_country", "mail_class", "sender_name", "recipient_name", "recipient_pccc",
               "contents_description", "contents_category", "declared_value", "currency", "weight_kg")
USAGE_ATTRIBUTES = {"names": "recipient_name"}


def mail_features_from(records: DataFrame, sums: Sums, refs: ParcelReferences, earlier: DataFrame | None) -> DataFrame:
    """Every feature of the items of `records`: profiles from `sums` (full history or the state
    before the day), PCCC usage over the items of `records` and `earlier` (the items of the
    `WINDOW_DAYS` days before the records' day, or None when `records` are the whole history),
    each part added as columns of one frame (see `features.express.express_features_from`)."""
    rows = earlier_and_records(records.select(*MAIL_INPUTS), earlier)
    frame = with_pccc_usage(with_values(rows, departure_column="posting_country"), RECORD_ID, DAY,
                            USAGE_ATTRIBUTES)
    frame = scored_rows(frame)
    attributes, contents = mail_attributes(), content_flags("contents_description")
    frame = frame.withColumns({**attributes, **contents})
    regulated = F.greatest("contents_supplement_word", "contents_medicine_word") > 0
    frame = frame.withColumn("gift_with_regulated_words",
                             ((F.col("contents_category") == "gift") & regulated).cast("double"))
    frame = with_pccc_identity(frame, refs.registry, DAY, phone_column=None)
    frame = with_watch_levels(frame, refs.watch_lists, DAY, {}, "contents_description")
    frame = sums.with_profiles(frame, MAIL_ENTITIES, RECORD_ID, DAY)
    return frame.select(RECORD_ID, *attributes, *contents, "gift_with_regulated_words", *IDENTITY_FLAGS,
                        *usage_columns(USAGE_ATTRIBUTES), *watch_columns({}, "contents_description"),
                        *profile_columns(MAIL_ENTITIES), DAY)
