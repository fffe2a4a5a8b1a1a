"""Supply-chain early warning for key import items (plan item 8, C-EWS): weekly volume, value and
origin concentration per item, and alerts on a sharp fall in imports or a new dependence on one
origin.

Volume is counted in **declarations** (shipments): the kilograms of a week are dominated by a few
bulk shipments (one ship's cargo can outweigh a month of containers), so a fall in mass says more
about one ship than about supply; mass and value are published beside the count. Concentration is
each origin's share of the item's declarations and the Herfindahl-Hirschman index (sum of squared
percentage shares, 0-10,000). The generator's key export items (450) have no export declarations
to measure and are not covered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.prices import ITEM_COLUMNS

SUPPLY_LISTS = ("supply_import",)


@dataclass(frozen=True)
class SupplyRule:
    """When a key item's week raises an alert; chosen on generated seeds other than the one reported."""

    baseline_weeks: int = 8
    min_baseline_weeks: int = 2
    min_baseline_declarations: float = 6.0  # median weekly declarations of the baseline
    volume_drop: float = 0.5         # at most half the baseline's weekly declarations ...
    drop_z: float = -4.0             # ... and that many Poisson standard deviations below it
    dependence_share: float = 0.7    # one origin's share of the week's declarations at or above this ...
    dependence_z: float = 5.0        # ... that many binomial standard deviations above its baseline share
    min_declarations: int = 6        # for a dependence alert


def supply_metrics(rows: DataFrame) -> DataFrame:
    """Per week and key item: declarations, kg, KRW, origins, the top origin and its share, the
    HHI, and each origin's share (`origin_shares`, for the baseline of the dependence alert)."""
    keys = ["week_start", *ITEM_COLUMNS]
    per_origin = rows.groupBy(*keys, F.col("country_of_origin").alias("origin")).agg(
        F.count("*").alias("n"), F.sum("net_mass").alias("kg"), F.sum("item_price").alias("krw"))
    total = Window.partitionBy(*keys)
    shares = (per_origin.withColumn("share", F.col("n") / F.sum("n").over(total))
              .withColumn("rank", F.row_number().over(total.orderBy(F.desc("n"), "origin"))))
    return (shares.groupBy(keys).agg(
        F.sum("n").alias("declarations"), F.sum("kg").alias("net_mass_kg"), F.sum("krw").alias("value_krw"),
        F.count("*").alias("origins"),
        F.max(F.when(F.col("rank") == 1, F.col("origin"))).alias("top_origin"),
        F.round(F.max("share"), 4).alias("top_origin_share"),
        F.round(F.sum(F.pow(F.col("share") * 100, 2)), 1).alias("hhi"),
        F.map_from_entries(F.collect_list(F.struct("origin", "n"))).alias("origin_declarations"))
        .withColumn("week_end", F.date_add("week_start", 6)))


def supply_alerts(metrics: DataFrame, weeks: list[dt.date], rule: SupplyRule) -> DataFrame:
    """Alerts of `weeks` against each item's trailing `baseline_weeks`: `volume_drop` (the week's
    declarations at most `volume_drop` of the baseline median and `drop_z` Poisson sd below it) and
    `origin_dependence` (the top origin's share at least `dependence_share` and `dependence_z`
    binomial sd above that origin's share of the baseline). A week without a single declaration
    of an item that had a baseline is a volume drop too. Each alert states its evidence."""
    spark = metrics.sparkSession
    items = metrics.select(*ITEM_COLUMNS).distinct()
    evaluated = spark.createDataFrame([(w,) for w in weeks], "week_start date")
    current = (items.crossJoin(F.broadcast(evaluated))
               .join(metrics, ["week_start", *ITEM_COLUMNS], "left")
               .fillna({"declarations": 0}))
    past = metrics.select(*ITEM_COLUMNS, F.col("week_start").alias("past_week"),
                          F.col("declarations").alias("past_n"), "origin_declarations")
    in_window = ((F.col("past_week") < F.col("week_start"))
                 & (F.col("past_week") >= F.date_sub(F.col("week_start"), 7 * rule.baseline_weeks)))
    keys = ["week_start", *ITEM_COLUMNS]
    base = (current.select(*keys, "top_origin").join(past, ITEM_COLUMNS).where(in_window)
            .groupBy(keys).agg(
                F.count("*").alias("baseline_weeks_with_imports"),
                F.sum("past_n").alias("baseline_total"),
                F.sum(F.coalesce(F.element_at("origin_declarations", F.col("top_origin")), F.lit(0)))
                .alias("baseline_top_origin_n")))
    # Weeks of the window without imports count as zeros; weeks before the item's first import do not.
    first_seen = metrics.groupBy(*ITEM_COLUMNS).agg(F.min("week_start").alias("first_week"))
    joined = current.join(base, keys, "left").join(first_seen, ITEM_COLUMNS, "left")
    weeks_in_base = F.least(F.lit(rule.baseline_weeks),
                            F.greatest(F.datediff("week_start", "first_week") / 7, F.lit(1)))
    baseline_n = F.coalesce(F.col("baseline_total"), F.lit(0)) / weeks_in_base
    baseline_share = (F.coalesce(F.col("baseline_top_origin_n"), F.lit(0))
                      / F.greatest(F.col("baseline_total"), F.lit(1)))
    enriched = (joined
                .withColumn("baseline_declarations_per_week", F.round(baseline_n, 2))
                .withColumn("baseline_top_origin_share", F.round(baseline_share, 4))
                .withColumn("drop_z", (F.col("declarations") - baseline_n)
                            / F.sqrt(F.greatest(baseline_n, F.lit(1e-9))))
                .withColumn("dependence_z", (F.col("top_origin_share") - baseline_share) /
                            F.sqrt(F.greatest(baseline_share * (1 - baseline_share), F.lit(0.01))
                                   / F.greatest(F.col("declarations"), F.lit(1)))))
    has_base = ((F.coalesce(F.col("baseline_weeks_with_imports"), F.lit(0)) >= rule.min_baseline_weeks)
                & (baseline_n >= rule.min_baseline_declarations))
    drop = has_base & (F.col("declarations") <= rule.volume_drop * baseline_n) & (F.col("drop_z") <= rule.drop_z)
    dependence = (has_base & (F.col("declarations") >= rule.min_declarations)
                  & (F.col("top_origin_share") >= rule.dependence_share)
                  & (F.col("dependence_z") >= rule.dependence_z))
    drop_reason = F.concat(
        F.lit("imports fell to "), F.col("declarations").cast("string"), F.lit(" declarations from "),
        F.format_number(baseline_n, 1), F.lit(" a week over the previous "), F.lit(str(rule.baseline_weeks)),
        F.lit(" weeks (z "), F.format_number("drop_z", 1), F.lit(")"))
    dependence_reason = F.concat(
        F.col("top_origin"), F.lit(" supplied "), F.format_number(F.col("top_origin_share") * 100, 0),
        F.lit("% of "), F.col("declarations").cast("string"), F.lit(" declarations against "),
        F.format_number(baseline_share * 100, 0), F.lit("% over the previous "), F.lit(str(rule.baseline_weeks)),
        F.lit(" weeks (HHI "), F.format_number("hhi", 0), F.lit(")"))
    alerts = F.filter(F.array(F.when(drop, F.struct(F.lit("volume_drop").alias("alert"), drop_reason.alias("reason"))),
                              F.when(dependence, F.struct(F.lit("origin_dependence").alias("alert"),
                                                          dependence_reason.alias("reason")))),
                      lambda a: a.isNotNull())
    return (enriched.withColumn("_alert", F.explode(alerts))
            .select("week_start", F.date_add("week_start", 6).alias("week_end"), *ITEM_COLUMNS,
                    F.col("_alert.alert").alias("alert"), "declarations", "net_mass_kg", "value_krw",
                    "baseline_declarations_per_week", "top_origin", "top_origin_share", "baseline_top_origin_share",
                    "hhi", F.round("drop_z", 2).alias("drop_z"), F.round("dependence_z", 2).alias("dependence_z"),
                    F.col("_alert.reason").alias("reason")))
