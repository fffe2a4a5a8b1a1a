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

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.prices import ITEM_COLUMNS

SUPPLY_LISTS = ("supply_import",)


@dataclass(frozen=True)
class SupplyRule:
    """When a key item's week raises an alert; chosen on generated development seeds, never on the
    reported or held-out ones (`benchmarks/supply_rule_grid.py`): the highest recall over ten
    development seeds among the rules at most 0.5 false alarms per 100 item-weeks (half the budget
    of 1, a margin for seeds not seen), then the fewest false alarms."""

    window_weeks: int = 2            # the weeks to the alert week pooled as its evidence
    baseline_weeks: int = 8          # the weeks before that window
    min_baseline_weeks: int = 2
    min_baseline_declarations: float = 4.0  # the baseline's declarations a week
    volume_drop: float = 0.6         # the window's declarations at most this share of the expected ...
    drop_z: float = -2.5             # ... and that many Poisson standard deviations below it
    dependence_share: float = 0.7    # one origin's share of the window's declarations at or above this ...
    dependence_z: float = 4.0        # ... that many binomial standard deviations above its baseline share
    min_declarations: int = 6        # in the window, for a dependence alert
    # A supply shock shows both at once: fewer shipments and most of what is left from one origin.
    # Together the two are strong evidence where each alone is too weak to alert on (a thin item's
    # fall from 13 to 5 declarations is 2.2 Poisson sd; 5 declarations are too few for dependence).
    # At a handful of declarations the binomial z of a new origin is large by construction (2 of 2
    # from a new origin is z 14): there the alert rests on the drop and on every remaining shipment
    # coming from an origin that had a small share. A minimum of 3 from the top origin missed one
    # of 56 development shocks at the same false-alarm rate (with the earlier, tighter rule on seven
    # seeds: benchmarks/supply_rule_grid.py).
    # None: no combined alert.
    combined_drop_z: float | None = -1.5     # with the drop share above, and ...
    combined_dependence_z: float = 3.0       # ... the dependence share above, at this z, ...
    combined_min_top_origin: int = 2         # ... the top origin with at least this many declarations


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


def supply_alerts(metrics: DataFrame, weeks: list[dt.date], rule: SupplyRule,
                  first_weeks: DataFrame | None = None) -> DataFrame:
    """Alerts of `weeks` for each key item (`supply_evidence` where an alert fires), with the
    alert's kind and a one-line reason."""
    return alert_rows(supply_evidence(metrics, weeks, rule, first_weeks), rule)


def supply_evidence(metrics: DataFrame, weeks: list[dt.date], rule: SupplyRule,
                    first_weeks: DataFrame | None = None) -> DataFrame:
    """Per evaluated week and key item, the evidence the alerts are judged on. The evidence of
    week w is its `window_weeks` weeks to w pooled (a thin item's fall shows over two weeks where
    one week is noise), against the `baseline_weeks` weeks before that window (weeks without
    imports count as zero): the window's declarations, what the baseline rate expects, the drop in
    Poisson sd (`drop_z`), the top origin's share now and in the baseline and the rise in binomial
    sd (`dependence_z`). `first_weeks` (item columns + `first_week`): each item's first week with
    imports, when the caller knows more history than `metrics` holds. `has_base`: the item-week
    has enough baseline to alert."""
    spark = metrics.sparkSession
    keys = ["week_start", *ITEM_COLUMNS]
    counts = metrics.select(*ITEM_COLUMNS, F.col("week_start").alias("seen_week"),
                            F.explode("origin_declarations").alias("origin", "n"))
    evaluated = spark.createDataFrame([(w,) for w in weeks], "week_start date")
    window_start = F.date_sub("week_start", 7 * (rule.window_weeks - 1))
    in_window = (F.col("seen_week") >= window_start) & (F.col("seen_week") <= F.col("week_start"))
    in_base = ((F.col("seen_week") < window_start)
               & (F.col("seen_week") >= F.date_sub(window_start, 7 * rule.baseline_weeks)))
    by_origin = (counts.crossJoin(F.broadcast(evaluated)).where(in_window | in_base)
                 .groupBy(*keys, "origin").agg(F.sum(F.when(in_window, F.col("n")).otherwise(0)).alias("now_n"),
                                               F.sum(F.when(in_base, F.col("n")).otherwise(0)).alias("base_n")))
    ranked = by_origin.withColumn("rank", F.row_number().over(
        Window.partitionBy(*keys).orderBy(F.desc("now_n"), F.desc("base_n"), "origin")))
    per_item = ranked.groupBy(keys).agg(
        F.sum("now_n").alias("declarations"), F.sum("base_n").alias("baseline_total"),
        F.max(F.when((F.col("rank") == 1) & (F.col("now_n") > 0), F.col("origin"))).alias("top_origin"),
        F.max(F.when(F.col("rank") == 1, F.col("now_n"))).alias("top_n"),
        F.max(F.when(F.col("rank") == 1, F.col("base_n"))).alias("top_base_n"))
    # Weeks before the item's first import are not part of its baseline.
    first_seen = metrics.groupBy(*ITEM_COLUMNS).agg(F.min("week_start").alias("first_week"))
    if first_weeks is not None:
        first_seen = (first_seen.unionByName(first_weeks.select(*ITEM_COLUMNS, "first_week"))
                      .groupBy(*ITEM_COLUMNS).agg(F.min("first_week").alias("first_week")))
    base_weeks = F.least(F.lit(rule.baseline_weeks),
                         F.greatest(F.datediff(window_start, "first_week") / 7, F.lit(0)))
    expected = F.col("baseline_total") / F.greatest(base_weeks, F.lit(1)) * rule.window_weeks
    share = F.col("top_n") / F.greatest(F.col("declarations"), F.lit(1))
    base_share = F.col("top_base_n") / F.greatest(F.col("baseline_total"), F.lit(1))
    window_figures = (metrics.join(evaluated, "week_start").select(*keys, "net_mass_kg", "value_krw", "hhi"))
    enriched = (per_item.join(first_seen, ITEM_COLUMNS)
                .withColumn("baseline_weeks_used", base_weeks)
                .withColumn("expected", expected)
                .withColumn("top_origin_share", F.round(share, 4))
                .withColumn("baseline_top_origin_share", F.round(base_share, 4))
                .withColumn("drop_z", (F.col("declarations") - expected) / F.sqrt(F.greatest(expected, F.lit(1e-9))))
                .withColumn("dependence_z", (share - base_share)
                            / F.sqrt(F.greatest(base_share * (1 - base_share), F.lit(0.01))
                                     / F.greatest(F.col("declarations"), F.lit(1))))
                .join(window_figures, keys, "left"))
    return enriched.withColumn("has_base", has_baseline(rule))


def has_baseline(rule: SupplyRule) -> Column:
    """Whether an item-week of `supply_evidence` has enough baseline to alert on: at least
    `min_baseline_weeks` weeks of it, at `min_baseline_declarations` declarations a week."""
    return ((F.col("baseline_weeks_used") >= rule.min_baseline_weeks)
            & (F.col("expected") / rule.window_weeks >= rule.min_baseline_declarations))


def alert_rows(enriched: DataFrame, rule: SupplyRule) -> DataFrame:
    """The item-weeks of `supply_evidence` that raise `volume_drop` (the window's declarations at
    most `volume_drop` of the expected and `drop_z` sd below it) or `origin_dependence` (one origin
    supplies at least `dependence_share` of at least `min_declarations` declarations,
    `dependence_z` sd above its baseline share) or `drop_with_dependence` (both at once on weaker
    evidence: the same shares at `combined_drop_z` and `combined_dependence_z` sd, the top origin
    with at least `combined_min_top_origin` declarations), each with a one-line reason."""
    expected = F.col("expected")
    has_base = F.col("has_base")
    fell = F.col("declarations") <= rule.volume_drop * expected
    one_origin = F.col("top_origin_share") >= rule.dependence_share
    drop = has_base & fell & (F.col("drop_z") <= rule.drop_z)
    dependence = (has_base & (F.col("declarations") >= rule.min_declarations) & one_origin
                  & (F.col("dependence_z") >= rule.dependence_z))
    combined = F.lit(False)
    if rule.combined_drop_z is not None:
        combined = (has_base & ~drop & ~dependence & fell & (F.col("drop_z") <= rule.combined_drop_z) & one_origin
                    & (F.col("dependence_z") >= rule.combined_dependence_z)
                    & (F.col("top_n") >= rule.combined_min_top_origin))
    span = f"{rule.window_weeks} weeks" if rule.window_weeks > 1 else "the week"
    drop_reason = F.concat(
        F.lit(f"imports over {span} to this one fell to "), F.col("declarations").cast("string"),
        F.lit(" declarations against "), F.format_number("expected", 1), F.lit(" expected from the previous "),
        F.col("baseline_weeks_used").cast("int").cast("string"), F.lit(" weeks (z "), F.format_number("drop_z", 1),
        F.lit(")"))
    dependence_reason = F.concat(
        F.col("top_origin"), F.lit(" supplied "), F.format_number(F.col("top_origin_share") * 100, 0),
        F.lit("% of the "), F.col("declarations").cast("string"), F.lit(f" declarations over {span} against "),
        F.format_number(F.col("baseline_top_origin_share") * 100, 0), F.lit("% over the previous "),
        F.col("baseline_weeks_used").cast("int").cast("string"), F.lit(" weeks (z "),
        F.format_number("dependence_z", 1), F.lit(")"))
    alerts = F.filter(F.array(F.when(drop, F.struct(F.lit("volume_drop").alias("alert"), drop_reason.alias("reason"))),
                              F.when(dependence, F.struct(F.lit("origin_dependence").alias("alert"),
                                                          dependence_reason.alias("reason"))),
                              F.when(combined, F.struct(F.lit("drop_with_dependence").alias("alert"),
                                                        F.concat(drop_reason, F.lit("; "), dependence_reason)
                                                        .alias("reason")))),
                      lambda a: a.isNotNull())
    return (enriched.withColumn("_alert", F.explode(alerts))
            .select("week_start", F.date_add("week_start", 6).alias("week_end"), *ITEM_COLUMNS,
                    F.col("_alert.alert").alias("alert"), "declarations", "net_mass_kg", "value_krw",
                    F.round(F.col("expected") / rule.window_weeks, 2).alias("baseline_declarations_per_week"),
                    "top_origin", "top_origin_share", "baseline_top_origin_share", "hhi",
                    F.round("drop_z", 2).alias("drop_z"), F.round("dependence_z", 2).alias("dependence_z"),
                    F.col("_alert.reason").alias("reason")))
