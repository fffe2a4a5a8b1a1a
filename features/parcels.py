"""Features of small parcels (express cargo and international mail), pure Spark and label-free:
identity checks of the recipient's PCCC against the registry, how a PCCC is being used, value
against the de minimis and against what the platform says was paid, watch-list hits and what
the contents description says.

Every reference (registry, watch lists, platform orders) is taken as it was known on the record's
day: registry and watch-list rows by their history validity (`_valid_from` <= day < `_valid_to`),
orders dated on or before the arrival. Windows over other records look back from the record's day
and include that day (the day's batch is all known when it is scored)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Rates used to compare values across currencies (KRW per unit). Customs publishes weekly rates;
# these fixed 2024 averages are close enough for ratios against a USD 150/200 threshold.
KRW_PER_UNIT = {"KRW": 1.0, "USD": 1350.0, "CNY": 187.0, "EUR": 1470.0, "JPY": 9.1, "GBP": 1710.0,
                "HKD": 173.0, "VND": 0.054, "AUD": 890.0, "CAD": 990.0, "THB": 37.5, "PHP": 23.5}
DE_MINIMIS_USD = 150.0
PCCC_USAGE_DAYS = 30  # look-back of the PCCC usage counts
SPLIT_SHIPMENT_DAYS = 7  # look-back of the split-shipment sums
WINDOW_DAYS = max(PCCC_USAGE_DAYS, SPLIT_SHIPMENT_DAYS)  # the parcels a day's windowed features read
ORDER_LOOKBACK_DAYS = 60  # a platform order older than this before the arrival is not the parcel's order
DE_MINIMIS_USD_FROM_US = 200.0
# Words in a contents description that point at supplements and medicines (the "gift" pattern).
SUPPLEMENT_WORDS = ("vitamin", "비타민", "omega", "probiotic", "propolis", "프로폴리스", "홍삼", "ginseng",
                    "glucosamine", "melatonin", "멜라토닌", "collagen", "supplement")
MEDICINE_WORDS = ("painkiller", "antibiotic", "medicine", "pill", "capsule", "tablet", "의약품", "finasteride",
                  "sildenafil", "sibutramine", "시부트라민")


@dataclass(frozen=True)
class ParcelReferences:
    """Reference tables parcels are checked against (with their history columns)."""

    registry: DataFrame
    watch_lists: DataFrame
    platform_orders: DataFrame | None = None
    price_surges: DataFrame | None = None  # gold/price_surges: the weekly surge flags (declarations' rule)


def parcel_labels(history: DataFrame) -> DataFrame:
    """Inspected parcels with `fraud` (outcome >= 1), `critical` (outcome 2) and `label_date`
    (the inspection date: when the outcome became known)."""
    return (history.where(F.col("inspection_outcome").isNotNull())
            .withColumn("fraud", (F.col("inspection_outcome") >= 1).cast("int"))
            .withColumn("critical", (F.col("inspection_outcome") == 2).cast("int"))
            .withColumn("label_date", F.col("inspection_date")))


def pccc_given() -> Column:
    """The record carries a recipient PCCC (not null, not empty)."""
    return F.col("recipient_pccc").isNotNull() & (F.col("recipient_pccc") != "")


def join_feature_parts(records: DataFrame, parts: list[DataFrame], record_id: str, day_column: str) -> DataFrame:
    """One row per record: every part's columns joined on the key, then the record's day."""
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part.drop(day_column), record_id, "left")
    return out.join(records.select(record_id, day_column), record_id)


def _day_number(day_column: str) -> Column:
    return F.datediff(F.col(day_column), F.lit("1970-01-01"))


def _krw_rate(currency: Column) -> Column:
    mapping = F.create_map(*[F.lit(x) for pair in KRW_PER_UNIT.items() for x in pair])
    return mapping[F.upper(currency)]


def with_values(records: DataFrame, value_column: str = "declared_value", currency_column: str = "currency",
                departure_column: str | None = "country_of_departure") -> DataFrame:
    """Add `value_krw`, `value_usd` and `de_minimis_usd` (USD 200 from the US, else 150)."""
    krw = F.col(value_column) * _krw_rate(F.col(currency_column))
    limit = F.lit(DE_MINIMIS_USD)
    if departure_column:
        limit = F.when(F.col(departure_column) == "US", F.lit(DE_MINIMIS_USD_FROM_US)).otherwise(limit)
    return (records.withColumn("value_krw", krw)
            .withColumn("value_usd", krw / F.lit(KRW_PER_UNIT["USD"]))
            .withColumn("de_minimis_usd", limit))


def valid_on_record_day(history: DataFrame, day: Column) -> Column:
    """Condition: a reference-history row (`_valid_from`/`_valid_to`) was current on `day`."""
    return (history["_valid_from"] <= day) & (history["_valid_to"].isNull() | (history["_valid_to"] > day))


def pccc_identity(records: DataFrame, registry: DataFrame, record_id: str, day_column: str,
                  name_column: str = "recipient_name", phone_column: str | None = "recipient_phone") -> DataFrame:
    """The plan's identity rule: the PCCC must be registered and active, and the name (and phone,
    where the channel carries one) must match the holder registered on the record's day.
    Per record: `pccc_missing`, `pccc_unregistered`, `pccc_suspended`, `pccc_name_mismatch`,
    `pccc_phone_mismatch`, `pccc_identity_fail` (any of the last four)."""
    reg = registry.select(F.col("pccc").alias("_pccc"), F.col("holder_name").alias("_holder"),
                          F.col("phone").alias("_phone"), "status", "_valid_from", "_valid_to")
    rec = records.select(record_id, F.col(day_column).alias("_rday"), F.col("recipient_pccc").alias("_rpccc"),
                         F.col(name_column).alias("_rname"),
                         (F.col(phone_column) if phone_column else F.lit(None).cast("string")).alias("_rphone"))
    joined = rec.join(reg, (rec["_rpccc"] == reg["_pccc"]) & valid_on_record_day(reg, rec["_rday"]), "left")
    missing = F.col("_rpccc").isNull() | (F.trim(F.col("_rpccc")) == "")
    unregistered = ~missing & F.col("_pccc").isNull()
    known = ~missing & ~unregistered
    name_bad = known & ~F.col("_rname").eqNullSafe(F.col("_holder"))
    phone_bad = known & F.col("_rphone").isNotNull() & ~F.col("_rphone").eqNullSafe(F.col("_phone"))
    suspended = known & (F.col("status") != "active")
    flags = {"pccc_missing": missing, "pccc_unregistered": unregistered, "pccc_suspended": suspended,
             "pccc_name_mismatch": name_bad, "pccc_phone_mismatch": phone_bad,
             "pccc_identity_fail": unregistered | suspended | name_bad | phone_bad}
    return joined.select(record_id, *[flag.cast("double").alias(name) for name, flag in flags.items()])


def trailing_window(keys: list[str], day_column: str, days: int) -> Window:
    """Rows of the same `keys` from `days - 1` days before the row's day up to that day."""
    return Window.partitionBy(*keys).orderBy(_day_number(day_column)).rangeBetween(-(days - 1), 0)


def pccc_usage(records: DataFrame, record_id: str, day_column: str, attributes: dict[str, str],
               days: int = PCCC_USAGE_DAYS) -> DataFrame:
    """How a PCCC is used: parcels and distinct values of each attribute (`name` -> column) under
    the same PCCC over the trailing `days` days (one code used by many names or phones is misuse).
    Records without a PCCC get nulls."""
    has = records.where(pccc_given())
    window = trailing_window(["recipient_pccc"], day_column, days)
    columns = [F.count(F.lit(1)).over(window).cast("double").alias(f"pccc_parcels_{days}d")]
    columns += [F.size(F.collect_set(column).over(window)).cast("double").alias(f"pccc_distinct_{name}_{days}d")
                for name, column in attributes.items()]
    usage = has.select(record_id, *columns)
    return records.select(record_id).join(usage, record_id, "left")


def split_shipment_sums(records: DataFrame, record_id: str, day_column: str,
                        days: int = SPLIT_SHIPMENT_DAYS) -> DataFrame:
    """Parcels and summed USD value per PCCC, and per PCCC x seller, over the trailing `days`
    days, against the de minimis: several parcels that are each under it but together over it is
    the split-shipment pattern. Needs `value_usd` and `de_minimis_usd` (see `with_values`)."""
    has = records.where(pccc_given())
    out = []
    for name, keys in (("pccc", ["recipient_pccc"]), ("pccc_seller", ["recipient_pccc", "seller_id"])):
        window = trailing_window(keys, day_column, days)
        total = F.sum("value_usd").over(window)
        out += [F.count(F.lit(1)).over(window).cast("double").alias(f"{name}_parcels_{days}d"),
                total.alias(f"{name}_value_usd_{days}d"),
                (total / F.col("de_minimis_usd")).alias(f"{name}_value_to_de_minimis_{days}d")]
    sums = has.select(record_id, *out)
    return records.select(record_id).join(sums, record_id, "left")


def declared_vs_paid(records: DataFrame, orders: DataFrame, record_id: str, day_column: str) -> DataFrame:
    """Declared value against the platform's amount paid for the same order (orders dated on or
    before the arrival, at most `ORDER_LOOKBACK_DAYS` earlier): `paid_known`, `declared_to_paid`
    (well below 1 is under-valuation), and whether the order's buyer PCCC differs from the
    recipient's."""
    o = orders.select(F.col("platform").alias("_platform"), F.col("order_id").alias("_order"),
                      F.col("order_date").alias("_odate"), F.col("amount_paid_krw").alias("_paid"),
                      F.col("buyer_pccc").alias("_buyer"))
    r = records.select(record_id, "platform", "order_id", "value_krw", "recipient_pccc", F.col(day_column).alias("_d"))
    joined = r.join(o, (r["platform"] == o["_platform"]) & (r["order_id"] == o["_order"])
                    & (o["_odate"] <= r["_d"]) & (o["_odate"] >= F.date_sub(r["_d"], ORDER_LOOKBACK_DAYS)),
                    "left")
    known = F.col("_paid").isNotNull() & (F.col("_paid") > 0)
    return joined.groupBy(record_id).agg(
        F.max(known.cast("double")).alias("paid_known"),
        F.min(F.when(known, F.col("value_krw") / F.col("_paid"))).alias("declared_to_paid"),
        F.max(F.when(known, (~F.col("_buyer").eqNullSafe(F.col("recipient_pccc"))).cast("double"))
              ).alias("buyer_pccc_differs"),
    )


def _word_hits(text: Column, words: tuple[str, ...]) -> Column:
    lowered = F.lower(F.coalesce(text, F.lit("")))
    return F.greatest(*[F.instr(lowered, w.lower()) > 0 for w in words]).cast("double")


def content_flags(records: DataFrame, record_id: str, text_column: str) -> DataFrame:
    """Supplement and medicine words in the contents description."""
    return records.select(record_id,
                          _word_hits(F.col(text_column), SUPPLEMENT_WORDS).alias("contents_supplement_word"),
                          _word_hits(F.col(text_column), MEDICINE_WORDS).alias("contents_medicine_word"))


def watch_list_hits(records: DataFrame, watch: DataFrame, record_id: str, day_column: str,
                    keys: dict[str, str], text_column: str | None) -> DataFrame:
    """Highest risk level of the watch-list entries a record hits on its day: by exact value for
    each `key_type -> column` in `keys` (seller, hs6 ...) and, with `text_column`, by keyword in
    the description. One column `watch_<key_type>_level` each (0 when no hit)."""
    rec = records.select(record_id, F.col(day_column).alias("_rday"), *set(keys.values()),
                         *([text_column] if text_column else []))
    kinds = dict(keys, **({"keyword": text_column} if text_column else {}))
    hits = []
    for key_type, column in kinds.items():
        entries = watch.where(F.col("key_type") == key_type).select(
            F.col("key_value").alias("_value"), F.col("risk_level").cast("double").alias("_level"),
            F.col("valid_from").alias("_listed_from"), F.col("valid_to").alias("_listed_to"),
            "_valid_from", "_valid_to")
        day = F.col("_rday")
        in_force = (valid_on_record_day(entries, day)
                    & (F.col("_listed_from").isNull() | (F.col("_listed_from") <= day))
                    & (F.col("_listed_to").isNull() | (F.col("_listed_to") >= day)))
        match = (F.instr(F.lower(F.col(column)), F.lower(F.col("_value"))) > 0 if key_type == "keyword"
                 else F.col(column) == F.col("_value"))
        hits.append(rec.join(F.broadcast(entries), match & in_force).select(
            record_id, F.lit(key_type).alias("_kind"), "_level"))
    names = [f"watch_{k}_level" for k in kinds]
    if not hits:
        return records.select(record_id)
    # Every kind's hits (few rows) in one table, joined to the records once.
    levels = reduce(DataFrame.unionByName, hits).groupBy(record_id).agg(
        *[F.max(F.when(F.col("_kind") == kind, F.col("_level"))).alias(f"watch_{kind}_level") for kind in kinds])
    return records.select(record_id).join(levels, record_id, "left").fillna(0.0, names)
