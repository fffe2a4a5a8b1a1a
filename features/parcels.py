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


IDENTITY_FLAGS = ("pccc_missing", "pccc_unregistered", "pccc_suspended", "pccc_name_mismatch",
                  "pccc_phone_mismatch", "pccc_identity_fail")
PAID_COLUMNS = ("paid_known", "declared_to_paid", "buyer_pccc_differs")
SCORED = "_scored"  # marks the rows of `earlier_and_records` that are the records themselves
PCCC_GROUP = "_pccc_group"


def earlier_and_records(records: DataFrame, earlier: DataFrame | None) -> DataFrame:
    """The records and the `earlier` rows their windows look back into, as one frame with the
    boolean `SCORED` (the record rows): every windowed feature is computed on this one frame and
    its record rows kept, instead of computed apart and joined back by key."""
    rows = records.withColumn(SCORED, F.lit(True))
    if earlier is None:
        return rows
    return rows.unionByName(earlier.select(*records.columns).withColumn(SCORED, F.lit(False)))


def scored_rows(rows: DataFrame) -> DataFrame:
    """The record rows of `earlier_and_records`' frame, without its working columns."""
    return rows.where(F.col(SCORED)).drop(SCORED, PCCC_GROUP)


def with_pccc_group(rows: DataFrame, record_id: str) -> DataFrame:
    """Add `PCCC_GROUP`, what the PCCC windows are partitioned by: the PCCC where one is given,
    else the record's own key (a record without a PCCC is a window of its own, and its windowed
    features are null), so that records without a PCCC do not make one huge window."""
    if PCCC_GROUP in rows.columns:
        return rows
    return rows.withColumn(PCCC_GROUP, F.when(pccc_given(), F.concat(F.lit("p"), F.col("recipient_pccc")))
                           .otherwise(F.concat(F.lit("r"), F.col(record_id).cast("string"))))


def with_pccc_identity(frame: DataFrame, registry: DataFrame, day_column: str, name_column: str = "recipient_name",
                       phone_column: str | None = "recipient_phone") -> DataFrame:
    """The plan's identity rule: the PCCC must be registered and active, and the name (and phone,
    where the channel carries one) must match the holder registered on the record's day.
    Adds `pccc_missing`, `pccc_unregistered`, `pccc_suspended`, `pccc_name_mismatch`,
    `pccc_phone_mismatch`, `pccc_identity_fail` (any of the last four). The registry's history
    rows of one PCCC do not overlap, so each record meets at most one."""
    reg = registry.select(F.col("pccc").alias("_reg_pccc"), F.col("holder_name").alias("_reg_holder"),
                          F.col("phone").alias("_reg_phone"), F.col("status").alias("_reg_status"),
                          F.col("_valid_from").alias("_reg_from"), F.col("_valid_to").alias("_reg_to"))
    day = F.col(day_column)
    in_force = (F.col("_reg_from") <= day) & (F.col("_reg_to").isNull() | (F.col("_reg_to") > day))
    joined = frame.join(reg, (F.col("recipient_pccc") == F.col("_reg_pccc")) & in_force, "left")
    given = F.col("recipient_pccc")
    phone = F.col(phone_column) if phone_column else F.lit(None).cast("string")
    missing = given.isNull() | (F.trim(given) == "")
    unregistered = ~missing & F.col("_reg_pccc").isNull()
    known = ~missing & ~unregistered
    name_bad = known & ~F.col(name_column).eqNullSafe(F.col("_reg_holder"))
    phone_bad = known & phone.isNotNull() & ~phone.eqNullSafe(F.col("_reg_phone"))
    suspended = known & (F.col("_reg_status") != "active")
    flags = [missing, unregistered, suspended, name_bad, phone_bad, unregistered | suspended | name_bad | phone_bad]
    return joined.select(*frame.columns, *[flag.cast("double").alias(name)
                                           for name, flag in zip(IDENTITY_FLAGS, flags, strict=True)])


def trailing_window(keys: list[str], day_column: str, days: int) -> Window:
    """Rows of the same `keys` from `days - 1` days before the row's day up to that day."""
    return Window.partitionBy(*keys).orderBy(_day_number(day_column)).rangeBetween(-(days - 1), 0)


def usage_columns(attributes: dict[str, str], days: int = PCCC_USAGE_DAYS) -> list[str]:
    """The columns `with_pccc_usage` adds."""
    return [f"pccc_parcels_{days}d", *[f"pccc_distinct_{name}_{days}d" for name in attributes]]


def with_pccc_usage(rows: DataFrame, record_id: str, day_column: str, attributes: dict[str, str],
                    days: int = PCCC_USAGE_DAYS) -> DataFrame:
    """Add how a PCCC is used: parcels and distinct values of each attribute (`name` -> column)
    under the same PCCC over the trailing `days` days of `rows` (one code used by many names or
    phones is misuse). Records without a PCCC get nulls."""
    rows = with_pccc_group(rows, record_id)
    window = trailing_window([PCCC_GROUP], day_column, days)
    values = [F.count(F.lit(1)).over(window), *[F.size(F.collect_set(column).over(window))
                                                for column in attributes.values()]]
    return rows.select("*", *[F.when(pccc_given(), value).cast("double").alias(name)
                              for name, value in zip(usage_columns(attributes, days), values, strict=True)])


def split_shipment_columns(days: int = SPLIT_SHIPMENT_DAYS) -> list[str]:
    """The columns `with_split_shipment_sums` adds."""
    return [f"{name}_{stat}_{days}d" for name in ("pccc", "pccc_seller")
            for stat in ("parcels", "value_usd", "value_to_de_minimis")]


def with_split_shipment_sums(rows: DataFrame, record_id: str, day_column: str,
                             days: int = SPLIT_SHIPMENT_DAYS) -> DataFrame:
    """Add parcels and summed USD value per PCCC, and per PCCC x seller, over the trailing `days`
    days of `rows`, against the de minimis: several parcels that are each under it but together
    over it is the split-shipment pattern. Needs `value_usd` and `de_minimis_usd` (see
    `with_values`). Records without a PCCC get nulls."""
    rows = with_pccc_group(rows, record_id)
    columns = {}
    for name, keys in (("pccc", [PCCC_GROUP]), ("pccc_seller", [PCCC_GROUP, "seller_id"])):
        window = trailing_window(keys, day_column, days)
        total = F.sum("value_usd").over(window)
        columns.update({f"{name}_parcels_{days}d": F.count(F.lit(1)).over(window).cast("double"),
                        f"{name}_value_usd_{days}d": total,
                        f"{name}_value_to_de_minimis_{days}d": total / F.col("de_minimis_usd")})
    return rows.select("*", *[F.when(pccc_given(), value).alias(name) for name, value in columns.items()])


def with_declared_vs_paid(frame: DataFrame, orders: DataFrame, day_column: str) -> DataFrame:
    """Add the declared value against the platform's amount paid for the same order (orders dated
    on or before the arrival, at most `ORDER_LOOKBACK_DAYS` earlier): `paid_known`,
    `declared_to_paid` (well below 1 is under-valuation; the lowest over the matching orders), and
    whether a matching order's buyer PCCC differs from the recipient's. The orders are grouped per
    (platform, order id) first, so each record meets one row and nothing is regrouped per record."""
    per_order = orders.groupBy(F.col("platform").alias("_o_platform"), F.col("order_id").alias("_o_order")).agg(
        F.collect_list(F.struct(F.col("order_date").alias("date"), F.col("amount_paid_krw").alias("paid"),
                                F.col("buyer_pccc").alias("buyer"))).alias("_orders"))
    joined = frame.join(per_order, (F.col("platform") == F.col("_o_platform"))
                        & (F.col("order_id") == F.col("_o_order")), "left")
    day = F.col(day_column)
    paid = F.filter("_orders", lambda o: (o["date"] <= day) & (o["date"] >= F.date_sub(day, ORDER_LOOKBACK_DAYS))
                    & o["paid"].isNotNull() & (o["paid"] > 0))
    any_paid = F.coalesce(F.size(paid) > 0, F.lit(False))
    lowest = F.aggregate(paid, F.lit(None).cast("double"),
                         lambda low, o: F.least(low, F.col("value_krw") / o["paid"]))
    differs = F.exists(paid, lambda o: ~o["buyer"].eqNullSafe(F.col("recipient_pccc")))
    values = [any_paid.cast("double"), lowest, F.when(any_paid, differs.cast("double"))]
    return joined.select(*frame.columns, *[value.alias(name) for name, value in zip(PAID_COLUMNS, values, strict=True)])


def _word_hits(text: Column, words: tuple[str, ...]) -> Column:
    lowered = F.lower(F.coalesce(text, F.lit("")))
    return F.greatest(*[F.instr(lowered, w.lower()) > 0 for w in words]).cast("double")


def content_flags(text_column: str) -> dict[str, Column]:
    """Supplement and medicine words in the contents description (name -> column)."""
    return {"contents_supplement_word": _word_hits(F.col(text_column), SUPPLEMENT_WORDS),
            "contents_medicine_word": _word_hits(F.col(text_column), MEDICINE_WORDS)}


def watch_columns(keys: dict[str, str], text_column: str | None) -> list[str]:
    """The columns `with_watch_levels` adds."""
    return [f"watch_{kind}_level" for kind in (*keys, *(["keyword"] if text_column else []))]


def _watch_entry() -> Column:
    return F.struct(F.col("key_value").alias("value"), F.col("risk_level").cast("double").alias("level"),
                    F.col("valid_from").alias("listed_from"), F.col("valid_to").alias("listed_to"),
                    F.col("_valid_from").alias("known_from"), F.col("_valid_to").alias("known_to"))


def _in_force(entry: dict | Column, day: Column) -> Column:
    """Condition: a watch-list entry (an array element, or a row collected on the driver whose
    bounds become literals) is listed and known on `day`; a missing end is open, a missing start of
    knowledge never matches."""
    bound = (lambda name: entry[name]) if isinstance(entry, Column) else (lambda name: F.lit(entry[name]))
    return ((bound("known_from") <= day) & (bound("known_to").isNull() | (bound("known_to") > day))
            & (bound("listed_from").isNull() | (bound("listed_from") <= day))
            & (bound("listed_to").isNull() | (bound("listed_to") >= day)))


# Keyword entries up to this many (rows of the watch list's history, in force or not) are matched
# by one generated expression (compiled, fast); a longer list travels to the records as an array
# and is matched element by element (interpreted: about 10 % of a 1M day's features).
KEYWORD_EXPRESSION_LIMIT = 200


def _keyword_level(frame: DataFrame, entries: DataFrame, column: str, day: Column) -> tuple[DataFrame, Column]:
    """The highest level among the keyword `entries` in force that the text in `column` contains."""
    text = F.lower(F.col(column))
    listed = entries.select(_watch_entry().alias("e")).limit(KEYWORD_EXPRESSION_LIMIT + 1).collect()
    if len(listed) <= KEYWORD_EXPRESSION_LIMIT:
        levels = [F.when(_in_force(row["e"].asDict(), day) & (F.instr(text, F.lower(F.lit(row["e"]["value"]))) > 0),
                         F.lit(row["e"]["level"]).cast("double")) for row in listed]
        level = (F.lit(None).cast("double") if not levels else levels[0] if len(levels) == 1
                 else F.greatest(*levels))
        return frame, level
    every = entries.agg(F.collect_list(_watch_entry()).alias("_entries"))
    frame = frame.crossJoin(F.broadcast(every))
    hits = F.filter("_entries", lambda e: _in_force(e, day) & (F.instr(text, F.lower(e["value"])) > 0))
    return frame, F.array_max(F.transform(hits, lambda e: e["level"]))


def with_watch_levels(frame: DataFrame, watch: DataFrame, day_column: str, keys: dict[str, str],
                      text_column: str | None) -> DataFrame:
    """Add the highest risk level of the watch-list entries a record hits on its day: by exact value
    for each `key_type -> column` in `keys` (seller, hs6 ...) and, with `text_column`, by keyword
    in the description. One column `watch_<key_type>_level` each (0 when no hit). A watch list is
    short, so no record is regrouped: the entries of each value travel to the records as an array
    (a broadcast join), and the keywords become one expression (see `KEYWORD_EXPRESSION_LIMIT`)."""
    kinds = dict(keys, **({"keyword": text_column} if text_column else {}))
    day = F.col(day_column)
    out = frame
    for key_type, column in kinds.items():
        entries = watch.where(F.col("key_type") == key_type)
        if key_type == "keyword":
            out, level = _keyword_level(out, entries, column, day)
        else:
            listed = entries.groupBy(F.col("key_value").alias("_listed_value")).agg(
                F.collect_list(_watch_entry()).alias("_entries"))
            out = out.join(F.broadcast(listed), F.col(column) == F.col("_listed_value"), "left")
            level = F.array_max(F.transform(F.filter("_entries", lambda e: _in_force(e, day)), lambda e: e["level"]))
        out = out.select(*[c for c in out.columns if c not in ("_entries", "_listed_value")],
                         F.coalesce(level, F.lit(0.0)).alias(f"watch_{key_type}_level"))
    return out
