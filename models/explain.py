"""Feature names in the words an inspector uses, with the record's value: "importer: past fraud
rate 0.42", "declared value USD 148 (just under the de minimis)". Every feature of every channel
has a wording (tested), so no list row shows a raw column name."""

from __future__ import annotations

import math

from features.profiles import PROFILE_STATS

ENTITY_WORDS = {
    "importer": "importer", "declarant": "customs broker", "seller": "seller", "courier": "courier",
    "office": "customs office", "hs6": "HS6 code", "hs4": "HS4 heading", "origin": "origin country",
    "departure": "departure country", "tax_type": "tariff type", "import_use": "import use",
    "payment_type": "payment type", "origin_indicator": "origin marking", "process_type": "process type",
    "transport": "transport mode", "platform": "platform", "pccc": "recipient PCCC", "postcode": "recipient postcode",
    "posting_country": "posting country", "mail_class": "mail class", "category": "declared category",
    "sender": "sender", "hs6_mass": "same goods at the same net mass",
    "consignment": "identical consignment (HS6, mass, price)", "hs6_route_mass_band": "same goods, route and size",
    "mass": "net mass", "country": "country", "class": "class",
}
STAT_WORDS = {
    "n": "inspected so far", "frauds": "frauds found so far", "fraud_rate": "past fraud rate",
    "critical_rate": "past critical-find rate", "days_since": "days since last inspection",
    "records": "earlier records",
}
FEATURE_WORDS = {
    # declarations
    "log_unit_price": ("unit price, KRW/kg", "expm1"),
    "hs6_price_n": ("earlier prices of the same HS6", None),
    "hs6_log_price_ratio": ("unit price vs the HS6 average (log ratio)", None),
    "hs6_price_z": ("unit price vs the HS6 norm (z-score)", None),
    "hs6_origin_price_n": ("earlier prices of the same HS6 and origin", None),
    "hs6_origin_log_price_ratio": ("unit price vs the HS6 x origin average (log ratio)", None),
    "hs6_origin_price_z": ("unit price vs the HS6 x origin norm (z-score)", None),
    "tax_rate": ("duty rate %", None),
    "fta_claimed": ("FTA preference claimed", "flag"),
    "origin_ne_departure": ("origin differs from departure", "flag"),
    "log_net_mass": ("net mass, kg", "expm1"),
    "log_item_price": ("declared price, KRW", "expm1"),
    "has_courier": ("sent by courier", "flag"),
    "seller_missing": ("no seller given", "flag"),
    "day_of_week": ("day of week (1 = Sunday)", None),
    # parcels
    "pccc_missing": ("no PCCC given", "flag"),
    "pccc_unregistered": ("PCCC not in the registry", "flag"),
    "pccc_suspended": ("PCCC suspended or revoked", "flag"),
    "pccc_name_mismatch": ("name differs from the PCCC holder", "flag"),
    "pccc_phone_mismatch": ("phone differs from the PCCC holder", "flag"),
    "pccc_identity_fail": ("PCCC identity check failed", "flag"),
    "pccc_parcels_30d": ("parcels on this PCCC in 30 days", None),
    "pccc_distinct_names_30d": ("different names on this PCCC in 30 days", None),
    "pccc_distinct_phones_30d": ("different phones on this PCCC in 30 days", None),
    "pccc_distinct_postcodes_30d": ("different postcodes on this PCCC in 30 days", None),
    "pccc_parcels_7d": ("parcels to this PCCC in 7 days", None),
    "pccc_value_usd_7d": ("USD to this PCCC in 7 days", None),
    "pccc_value_to_de_minimis_7d": ("7-day value to this PCCC / de minimis", None),
    "pccc_seller_parcels_7d": ("parcels from this seller to this PCCC in 7 days", None),
    "pccc_seller_value_usd_7d": ("USD from this seller to this PCCC in 7 days", None),
    "pccc_seller_value_to_de_minimis_7d": ("7-day value from this seller / de minimis", None),
    "paid_known": ("platform order found", "flag"),
    "declared_to_paid": ("declared / paid on the platform", None),
    "buyer_pccc_differs": ("platform buyer's PCCC differs", "flag"),
    "watch_seller_level": ("seller watch-list level", None),
    "watch_hs6_level": ("HS6 watch-list level", None),
    "watch_keyword_level": ("contents watch-list keyword level", None),
    "contents_supplement_word": ("contents mention supplements", "flag"),
    "contents_medicine_word": ("contents mention medicines", "flag"),
    "gift_with_regulated_words": ("'gift' with supplement/medicine words", "flag"),
    "log_value_usd": ("declared value, USD", "expm1"),
    "value_to_de_minimis": ("declared value / de minimis", None),
    "just_under_de_minimis": ("just under the de minimis", "flag"),
    "log_gross_weight": ("gross weight, kg", "expm1"),
    "log_weight": ("weight, kg", "expm1"),
    "log_value_per_kg": ("value per kg (log)", None),
    "quantity": ("pieces", None),
    "bought_online": ("bought online", "flag"),
    "commercial": ("declared commercial", "flag"),
    "full_clearance": ("full declaration", "flag"),
    "hs6_missing": ("no HS6 code", "flag"),
    "currency_not_usd": ("priced in another currency than USD", "flag"),
    "declared_gift": ("declared as a gift", "flag"),
    "declared_documents": ("declared as documents", "flag"),
    "declared_merchandise": ("declared as merchandise", "flag"),
    "ems": ("EMS", "flag"),
    "small_packet": ("small packet", "flag"),
    "pccc_given": ("PCCC given", "flag"),
}


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _entity_words(name: str) -> str:
    if name in ENTITY_WORDS:
        return ENTITY_WORDS[name]
    return " x ".join(ENTITY_WORDS.get(part, part) for part in name.split("_"))


def _label(feature: str) -> tuple[str, str | None]:
    if feature in FEATURE_WORDS:
        return FEATURE_WORDS[feature]
    for stat in sorted(PROFILE_STATS, key=len, reverse=True):
        if feature.endswith(f"_{stat}"):
            return f"{_entity_words(feature[: -len(stat) - 1])}: {STAT_WORDS[stat]}", None
    raise KeyError(f"no wording for feature {feature!r}: add it to models/explain.py")


def describe(feature: str, value: float | None) -> str:
    """`feature` and the record's `value` in plain words."""
    label, kind = _label(feature)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label}: none yet"
    if kind == "flag":
        return label if value >= 0.5 else f"not {label}"
    if kind == "expm1":
        value = math.expm1(value)
    return f"{label} {_number(float(value))}"

