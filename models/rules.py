"""Rules that put a record on the target list whatever its score, each with a name the list
shows: the plan's PCCC identity rule (code + name + phone), a highest-level border-agency
watch-list hit, supplements or medicines declared as a mail "gift", and a split shipment that
takes one buyer's purchases from one seller over the de minimis within a week; and a declaration of
an item whose import price is surging, priced far off that item's current price (the weekly
price-surge checks' rule)."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.parcels import ParcelReferences, with_watch_levels
from jobs.prices import SurgeRule, surge_price_deviation

HIGHEST_WATCH_LEVEL = 3
DECLARATION_WATCH_KEYS = {"seller": "seller_id", "hs6": "hs6_code"}  # watch-list key type -> declaration column


def _watch_level_3(*columns: str) -> Column:
    return F.greatest(*[F.coalesce(F.col(c), F.lit(0.0)) for c in columns], F.lit(0.0)) >= HIGHEST_WATCH_LEVEL


def _flag(column: str) -> Column:
    return F.coalesce(F.col(column), F.lit(0.0)) > 0


def _split_over_de_minimis() -> Column:
    """Several parcels from one seller to one PCCC within 7 days, together over the de minimis,
    this one under it."""
    return ((F.coalesce(F.col("pccc_seller_parcels_7d"), F.lit(0.0)) >= 2)
            & (F.coalesce(F.col("pccc_seller_value_to_de_minimis_7d"), F.lit(0.0)) > 1)
            & (F.col("value_to_de_minimis") <= 1))


# channel -> rule name -> condition over the day's feature rows (plus `rule_inputs` columns)
RULES: dict[str, dict[str, Callable[[], Column]]] = {
    "declarations": {
        "watch_list_level_3": lambda: _watch_level_3("watch_seller_level", "watch_hs6_level"),
        "price_surge_deviation": lambda: _flag("price_surge_deviation"),
    },
    "express": {
        "pccc_identity_failure": lambda: _flag("pccc_identity_fail"),
        "watch_list_level_3": lambda: _watch_level_3("watch_seller_level", "watch_hs6_level", "watch_keyword_level"),
        "split_shipment_over_de_minimis": _split_over_de_minimis,
    },
    "mail": {
        "pccc_identity_failure": lambda: _flag("pccc_identity_fail"),
        "watch_list_level_3": lambda: _watch_level_3("watch_keyword_level"),
        "gift_with_regulated_words": lambda: _flag("gift_with_regulated_words"),
    },
}


def rule_inputs(channel: str, features: DataFrame, records: DataFrame, refs: ParcelReferences,
                record_id: str, day_column: str) -> DataFrame:
    """The feature rows with what the channel's rules need beyond the model's features
    (declarations: watch-list levels of the seller and the HS6 code on the day, and whether the
    declaration is priced far off a surging item's price: `price_surge_deviation`)."""
    if channel != "declarations":
        return features
    keys = list(DECLARATION_WATCH_KEYS.values())
    hits = with_watch_levels(records.select(record_id, day_column, *keys), refs.watch_lists, day_column,
                             DECLARATION_WATCH_KEYS, None)
    out = features.join(hits.drop(day_column, *keys), record_id, "left")
    if refs.price_surges is None:
        return out.withColumn("price_surge_deviation", F.lit(0.0))
    deviation = surge_price_deviation(records, refs.price_surges, day_column, SurgeRule())
    return out.join(deviation.select(F.col("declaration_id").alias(record_id), "price_surge_deviation"),
                    record_id, "left")


def with_rule_hits(channel: str, frame: DataFrame) -> DataFrame:
    """Add `rule_hits`: the names of the rules each row meets (empty array: none), in rule order."""
    rules = RULES[channel]
    hits = F.array(*[F.when(condition(), F.lit(name)) for name, condition in rules.items()])
    return frame.withColumn("rule_hits", F.filter(hits, lambda h: h.isNotNull()))
