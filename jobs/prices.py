"""Weekly import unit prices of monitored items and the price-surge checks (plan item 7).

Weeks run Monday to Sunday (`week_start` is the Monday). A declaration belongs to an item when its
HS6 code is one of the item's codes as valid on the declaration's date in `silver/monitored_items`
(history kept), so an item whose codes change mid-year is priced on the right codes each week.

The published price is the **median of the declarations' unit prices** (KRW per kg: the
declaration carries net mass, not a count of units), each declaration one vote: one absurd
shipment, however heavy, moves it by at most one rank, where a mass-weighted median or mean
lets a single shipment with more than half the week's kilograms set the price alone. The
mass-weighted unit value (value / mass) is published beside it for comparison.

Surges are judged on a composition-adjusted relative: each declaration's unit price over the
trailing baseline median of **its own HS6 code**, so a week that happens to import more of an
item's dearer code is not a surge; the item's change is the median relative of the week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

PRICE_LISTS = ("price_disclosure", "surge_check")
ALL_ORIGINS = "ALL"
ITEM_COLUMNS = ["item_code", "list_type", "name_ko", "name_en"]
# The median absolute deviation of a normal sample is 0.6745 sd; the median of n draws has a
# standard error of about 1.2533 sd / sqrt(n).
MAD_TO_SD = 1.4826
MEDIAN_SE = 1.2533


@dataclass(frozen=True)
class SurgeRule:
    """When a week's price is a surge; chosen on generated seeds other than the one reported
    (README, "Price and supply checks")."""

    rise: float = 0.25              # at least +25 % over the trailing baseline (and the year before)
    min_declarations: int = 8       # thinner item-weeks raise nothing
    baseline_weeks: int = 8         # trailing weeks the baseline is taken from
    min_baseline_weeks: int = 4     # a code's baseline needs declarations in at least this many of them
    min_baseline_declarations: int = 5  # per HS6 code, over the trailing weeks
    z_score: float = 3.0            # the rise must be this many standard errors of the week's median
    deviation_factor: float = 2.0   # a declaration of a surging item priced x2 or /2 its code's index


def week_start(date: Column) -> Column:
    """The Monday of the week a date falls in (weeks end on Sunday)."""
    return F.date_sub(F.next_day(date, "Mon"), 7)


def item_codes(monitored: DataFrame, list_types: tuple[str, ...]) -> DataFrame:
    """One row per (item, HS6 code, validity interval) of the given lists, from the item master's
    history (`_valid_to` null: still valid)."""
    return (monitored.where(F.col("list_type").isin(*list_types))
            .select(*ITEM_COLUMNS, F.explode(F.split("hs6_codes", ";")).alias("hs6_code"),
                    F.col("_valid_from").alias("valid_from"), F.col("_valid_to").alias("valid_to"))
            .withColumn("hs6_code", F.trim("hs6_code"))
            .where(F.col("hs6_code") != ""))


def item_declarations(declarations: DataFrame, codes: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Declarations dated `first`..`last` with a positive mass and price, each joined to every
    item whose codes cover its HS6 code on its date; adds `week_start` and `unit_price` (KRW/kg)."""
    rows = (declarations.where(F.col("date").between(F.lit(first), F.lit(last))
                               & (F.col("net_mass") > 0) & (F.col("item_price") > 0))
            .select("declaration_id", "date", "hs6_code", "country_of_origin", "net_mass", "item_price"))
    valid = ((F.col("d.date") >= F.col("c.valid_from"))
             & (F.col("c.valid_to").isNull() | (F.col("d.date") < F.col("c.valid_to"))))
    joined = rows.alias("d").join(F.broadcast(codes.alias("c")),
                                  (F.col("d.hs6_code") == F.col("c.hs6_code")) & valid)
    return (joined.select("d.*", *[F.col(f"c.{c}") for c in ITEM_COLUMNS])
            .withColumn("week_start", week_start(F.col("date")))
            .withColumn("unit_price", F.col("item_price") / F.col("net_mass")))


def weekly_price_index(rows: DataFrame, min_declarations: int) -> DataFrame:
    """Per week and item, over all origins (`origin` = "ALL") and per origin country with at
    least `min_declarations` declarations that week: declarations, kg, KRW, the median unit
    price with its quartiles, the mass-weighted unit value, the HS6 codes priced, and `thin`
    (fewer than `min_declarations`: published with its count, never flagged)."""
    scoped = (rows.withColumn("origin", F.lit(ALL_ORIGINS))
              .unionByName(rows.withColumn("origin", F.col("country_of_origin"))))
    keys = ["week_start", *ITEM_COLUMNS, "origin"]
    index = scoped.groupBy(keys).agg(
        F.count("*").alias("declarations"),
        F.sum("net_mass").alias("net_mass_kg"),
        F.sum("item_price").alias("value_krw"),
        F.median("unit_price").alias("unit_price_krw_per_kg"),
        F.percentile("unit_price", 0.25).alias("p25_krw_per_kg"),
        F.percentile("unit_price", 0.75).alias("p75_krw_per_kg"),
        F.array_sort(F.collect_set("hs6_code")).alias("hs6_codes"),
    )
    item_total = F.sum(F.when(F.col("origin") == ALL_ORIGINS, F.col("declarations"))).over(
        Window.partitionBy("week_start", "item_code", "list_type"))
    return (index.withColumn("origin_share", F.round(F.col("declarations") / item_total, 4))
            .where((F.col("origin") == ALL_ORIGINS) | (F.col("declarations") >= min_declarations))
            .withColumn("week_end", F.date_add("week_start", 6))
            .withColumn("unit_value_krw_per_kg", F.col("value_krw") / F.col("net_mass_kg"))
            .withColumn("thin", F.col("declarations") < min_declarations))


def code_baselines(rows: DataFrame, weeks: list[dt.date], rule: SurgeRule) -> DataFrame:
    """For each evaluated week and HS6 code: the median unit price of the code's declarations in
    the `baseline_weeks` weeks before it (pooled), when at least `min_baseline_declarations` in
    at least `min_baseline_weeks` different weeks."""
    per_code = rows.select("declaration_id", "hs6_code", "week_start", "unit_price").dropDuplicates(
        ["declaration_id", "hs6_code"])
    # Each declaration serves as baseline for the weeks that follow its own, up to baseline_weeks.
    later = F.sequence(F.date_add("week_start", 7), F.date_add("week_start", 7 * rule.baseline_weeks),
                       F.expr("INTERVAL 7 DAYS"))
    served = (per_code.withColumn("evaluated_week", F.explode(later))
              .where(F.col("evaluated_week").isin(*weeks))
              .withColumnRenamed("week_start", "own_week"))
    return (served.groupBy(F.col("evaluated_week").alias("week_start"), "hs6_code")
            .agg(F.median("unit_price").alias("code_baseline"), F.count("*").alias("code_baseline_n"),
                 F.countDistinct("own_week").alias("code_baseline_weeks"))
            .where((F.col("code_baseline_n") >= rule.min_baseline_declarations)
                   & (F.col("code_baseline_weeks") >= rule.min_baseline_weeks)))


def price_changes(rows: DataFrame, weeks: list[dt.date], rule: SurgeRule, window_weeks: int = 1) -> DataFrame:
    """Per evaluated week and item: the median of each declaration's unit price over its code's
    baseline (`relative`), its standard error, and what it rests on. The evidence of week w is
    the `window_weeks` weeks to w pooled, against the baseline weeks before that window."""
    back = 7 * (window_weeks - 1)
    span = F.sequence(F.col("week_start"), F.date_add("week_start", back), F.expr("INTERVAL 7 DAYS"))
    current = (rows.withColumn("evaluated_week", F.explode(span)).where(F.col("evaluated_week").isin(*weeks))
               .drop("week_start").withColumn("window_start", F.date_sub("evaluated_week", back)))
    starts = sorted({w - dt.timedelta(days=back) for w in weeks})
    baselines = code_baselines(rows, starts, rule).withColumnRenamed("week_start", "window_start")
    with_base = (current.join(baselines, ["window_start", "hs6_code"])
                 .withColumnRenamed("evaluated_week", "week_start"))
    with_log = with_base.withColumn("log_relative", F.log(F.col("unit_price") / F.col("code_baseline")))
    keys = ["week_start", *ITEM_COLUMNS]
    medians = with_log.groupBy(keys).agg(F.median("log_relative").alias("median_log_relative"))
    spread = (with_log.join(medians, keys)
              .groupBy(keys).agg(
                  F.count("*").alias("declarations"),
                  F.first("median_log_relative").alias("median_log_relative"),
                  F.median(F.abs(F.col("log_relative") - F.col("median_log_relative"))).alias("mad_log"),
                  F.min("code_baseline_weeks").alias("baseline_weeks"),
                  F.aggregate(F.collect_set(F.struct("hs6_code", "code_baseline_n")), F.lit(0).cast("long"),
                              lambda total, code: total + code["code_baseline_n"]).alias("baseline_declarations"),
                  F.array_sort(F.collect_set("hs6_code")).alias("hs6_codes"),
                  F.map_from_entries(F.collect_set(F.struct("hs6_code", "code_baseline"))).alias("code_baselines")))
    se = F.greatest(F.lit(MEDIAN_SE * MAD_TO_SD) * F.col("mad_log") / F.sqrt("declarations"), F.lit(0.01))
    return (spread.withColumn("relative", F.exp("median_log_relative"))
            .withColumn("z_score", F.col("median_log_relative") / se)
            .withColumn("window_weeks", F.lit(window_weeks)))


def week_changes(rows: DataFrame, weeks: list[dt.date], rule: SurgeRule) -> DataFrame:
    """`price_changes` of each item-week on the week alone when it has `min_declarations`, else on
    the two weeks to it pooled (a thin item's rise shows over two weeks where one is noise)."""
    single = price_changes(rows, weeks, rule, 1)
    enough = single.where(F.col("declarations") >= rule.min_declarations)
    pooled = price_changes(rows, weeks, rule, 2).join(
        enough.select("week_start", "item_code", "list_type"), ["week_start", "item_code", "list_type"], "left_anti")
    return enough.unionByName(pooled)


def price_surges(rows: DataFrame, index: DataFrame, weeks: list[dt.date], rule: SurgeRule,
                 changes: DataFrame | None = None) -> DataFrame:
    """The surge flags of `weeks`: items whose composition-adjusted price rose at least `rise`
    over the trailing baseline, by at least `z_score` standard errors, on at least
    `min_declarations` declarations, and (where the item has an index 52 weeks earlier) at
    least `rise` over that week too. Each row carries its evidence and a one-line reason.
    `changes`: `week_changes` of the same rows and weeks, when the caller already has them."""
    changes = week_changes(rows, weeks, rule) if changes is None else changes
    now = index.where(F.col("origin") == ALL_ORIGINS).select(
        "week_start", "item_code", "list_type", "unit_price_krw_per_kg", "week_end")
    year_ago = index.where((F.col("origin") == ALL_ORIGINS) & ~F.col("thin")).select(
        F.date_add("week_start", 364).alias("week_start"), "item_code", "list_type",
        F.col("unit_price_krw_per_kg").alias("year_ago_krw_per_kg"))
    joined = (changes.join(now, ["week_start", "item_code", "list_type"])
              .join(year_ago, ["week_start", "item_code", "list_type"], "left")
              .withColumn("baseline_krw_per_kg", F.col("unit_price_krw_per_kg") / F.col("relative"))
              .withColumn("change_pct", F.round((F.col("relative") - 1) * 100, 1))
              .withColumn("year_on_year_pct",
                          F.round((F.col("unit_price_krw_per_kg") / F.col("year_ago_krw_per_kg") - 1) * 100, 1)))
    yoy_ok = F.col("year_ago_krw_per_kg").isNull() | (F.col("year_on_year_pct") >= rule.rise * 100)
    flagged = joined.where((F.col("declarations") >= rule.min_declarations)
                           & (F.col("relative") >= 1 + rule.rise) & (F.col("z_score") >= rule.z_score) & yoy_ok)
    yoy_text = F.when(F.col("year_ago_krw_per_kg").isNull(), F.lit("no index 52 weeks earlier")).otherwise(
        F.concat(F.lit("up "), F.col("year_on_year_pct").cast("string"), F.lit("% on the same week a year earlier")))
    reason = F.concat_ws(
        " ", F.lit("up"), F.concat(F.col("change_pct").cast("string"), F.lit("%")),
        F.when(F.col("window_weeks") > 1, F.lit("over this and last week")),
        F.lit("on its own"), F.concat(F.col("baseline_weeks").cast("string"), F.lit("-week")),
        F.lit("baseline (per HS6 code), z"), F.format_number("z_score", 1), F.lit("on"),
        F.col("declarations").cast("string"), F.lit("declarations;"), yoy_text)
    return flagged.select(
        "week_start", "week_end", *ITEM_COLUMNS, "declarations", "unit_price_krw_per_kg", "baseline_krw_per_kg",
        "change_pct", F.round("relative", 4).alias("relative"), F.round("z_score", 2).alias("z_score"),
        "baseline_weeks", "baseline_declarations", "window_weeks",
        "year_ago_krw_per_kg", "year_on_year_pct", "hs6_codes", "code_baselines",
        reason.alias("reason"))


def surge_price_deviation(declarations: DataFrame, surges: DataFrame, day_column: str, rule: SurgeRule,
                          lookback_days: int = 28) -> DataFrame:
    """Rule input for the target lists: per declaration (`declaration_id`), whether its item was
    flagged in a week that ended before its day (within `lookback_days`) and its unit price is
    `deviation_factor` times above or below its code's price that week
    (`price_surge_deviation` 1.0/0.0), and the item it matched."""
    flags = surges.select("item_code", "week_end", "relative",
                          F.explode("code_baselines").alias("hs6_code", "code_baseline"))
    d = declarations.where((F.col("net_mass") > 0) & (F.col("item_price") > 0)).select(
        "declaration_id", F.col(day_column).alias("_day"), "hs6_code",
        (F.col("item_price") / F.col("net_mass")).alias("_unit_price"))
    recent = (F.col("f.week_end") < F.col("d._day")) & (F.col("f.week_end") >= F.date_sub("d._day", lookback_days))
    joined = d.alias("d").join(F.broadcast(flags.alias("f")),
                               (F.col("d.hs6_code") == F.col("f.hs6_code")) & recent)
    ratio = F.col("_unit_price") / (F.col("code_baseline") * F.col("relative"))
    hit = ((ratio >= rule.deviation_factor) | (ratio <= 1 / rule.deviation_factor)).cast("double")
    return (joined.withColumn("_hit", hit).groupBy("declaration_id")
            .agg(F.max("_hit").alias("price_surge_deviation"),
                 F.max_by("item_code", F.struct("_hit", "item_code")).alias("price_surge_item")))
