"""The mail selector's feature table: contents words against the declared category (supplements
and medicines sent as gifts), PCCC identity and usage, watch-list keywords, item attributes and
point-in-time risk profiles."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.entity_state import EntityStateSpec, HistorySums, Sums
from features.parcels import (
    ParcelReferences,
    content_flags,
    join_feature_parts,
    parcel_labels,
    pccc_given,
    pccc_identity,
    pccc_usage,
    watch_list_hits,
    with_values,
)

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


def mail_attributes(records: DataFrame) -> DataFrame:
    """What the item itself says: category, class, value, weight."""
    gift = F.col("contents_category") == "gift"
    return records.select(
        RECORD_ID,
        gift.cast("double").alias("declared_gift"),
        (F.col("contents_category") == "documents").cast("double").alias("declared_documents"),
        (F.col("contents_category") == "merchandise").cast("double").alias("declared_merchandise"),
        (F.col("mail_class") == "EMS").cast("double").alias("ems"),
        (F.col("mail_class") == "small_packet").cast("double").alias("small_packet"),
        F.log1p("value_usd").alias("log_value_usd"),
        (F.col("value_usd") / F.col("de_minimis_usd")).alias("value_to_de_minimis"),
        F.log1p("weight_kg").alias("log_weight"),
        (F.log1p("value_usd") - F.log1p("weight_kg")).alias("log_value_per_kg"),
        pccc_given().cast("double").alias("pccc_given"),
        F.dayofweek(DAY).cast("double").alias("day_of_week"),
    )


MAIL_STATE = EntityStateSpec(MAIL_ENTITIES, RECORD_ID, DAY)


def mail_features(records: DataFrame, history: DataFrame, refs: ParcelReferences) -> DataFrame:
    """One row per postal item of `records` with every feature: labels only from inspections of
    `history` dated before the item's day, references as known on that day."""
    return mail_features_from(records, HistorySums(parcel_labels(history)), refs, records)


def mail_features_from(records: DataFrame, sums: Sums, refs: ParcelReferences, window: DataFrame) -> DataFrame:
    """Every feature of the items of `records`: profiles from `sums` (full history or the state
    before the day), PCCC usage over the items of `window` (the last `WINDOW_DAYS` days up to the
    records' day, or all of them)."""
    valued = with_values(records, departure_column="posting_country")
    contents = content_flags(records, RECORD_ID, "contents_description")
    gift = records.select(RECORD_ID, (F.col("contents_category") == "gift").alias("_gift"))
    contents = contents.join(gift, RECORD_ID).select(
        "*", (F.col("_gift") & (F.greatest("contents_supplement_word", "contents_medicine_word") > 0))
        .cast("double").alias("gift_with_regulated_words")).drop("_gift")
    parts = [
        mail_attributes(valued),
        contents,
        pccc_identity(records, refs.registry, RECORD_ID, DAY, phone_column=None),
        pccc_usage(window, RECORD_ID, DAY, {"names": "recipient_name"}),
        watch_list_hits(records, refs.watch_lists, RECORD_ID, DAY, {}, "contents_description"),
        sums.profiles(records, MAIL_ENTITIES, RECORD_ID, DAY),
    ]
    return join_feature_parts(records, parts, RECORD_ID, DAY)
