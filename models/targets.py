"""The day's target list of a channel: lanes sized by capacity, not by a score threshold, so the
list always fits the day.

Red (physical inspection) capacity R is spent in this order:
1. exploration: `exploration_share` of R, drawn at random (a seeded hash of the record key, so a
   re-run draws the same) among records the model would not pick itself (outside its top R + Y by
   fraud score and top critical reserve). Random rather than by uncertainty: a uniform draw is what
   measures the fraud the selector does not see (a pattern it has never been taught scores low,
   not uncertain), and the hit rate of the draw estimates the fraud rate outside the list;
2. rules: records a named rule puts on the list, ranked by fraud score, up to the rest of R;
3. the critical reserve: `critical_share` of R to the highest critical scores (as the published
   ranking does);
4. the model: the rest of R by fraud score.
Yellow (document check) capacity Y takes the rule hits red had no room for first, then the next
records by fraud score. Rule hits that fit neither lane are listed in an `overflow` lane, outside
capacity, and counted: never silently dropped. Green (cleared) is everyone else."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.settings import LaneCapacity

LANES = ("red", "yellow", "overflow")
CRITICAL_RESERVE, EXPLORATION, MODEL = "critical_reserve", "exploration", "model"


@dataclass(frozen=True)
class SelectionPolicy:
    """How a channel's capacity is spent."""

    capacity: LaneCapacity
    critical_share: float = 0.2
    exploration_share: float = 0.1


@dataclass
class Allocation:
    """The listed records (`record_key`, `lane`, `selection_reason`, `rank`) and the counts."""

    listed: DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def _by_fraud() -> list[Column]:
    return [F.col("fraud_score").desc(), F.col("record_key")]


def _take(frame: DataFrame, n: int, order: list[Column]) -> DataFrame:
    """The first `n` rows of `frame` in `order` (a top-k, not a full sort), as `record_key` only."""
    return frame.orderBy(*order).limit(max(n, 0)).select("record_key")


def _without(frame: DataFrame, *taken: DataFrame) -> DataFrame:
    for keys in taken:
        frame = frame.join(F.broadcast(keys), "record_key", "left_anti")
    return frame


def _pin(frame: DataFrame) -> DataFrame:
    """Compute a small key set now and cut its lineage: each step below builds on the previous
    ones, and without this the plans nest into each other."""
    return frame.localCheckpoint(eager=True)


def allocate(scored: DataFrame, policy: SelectionPolicy, seed: str) -> Allocation:
    """Lanes for the day's `scored` records (`record_key`, `fraud_score`, `critical_score`,
    `rule_hits`). `seed` (channel and day) fixes the exploration draw."""
    total = scored.count()
    red, yellow = policy.capacity.sizes(total)
    explore_n = round(red * policy.exploration_share)
    reserve_n = round(red * policy.critical_share)
    rules = _pin(scored.where(F.size("rule_hits") > 0))
    n_rule_hits = rules.count()

    own = _pin(_take(scored, red + yellow, _by_fraud()).union(
        _take(scored, reserve_n, [F.col("critical_score").desc(), F.col("record_key")])).distinct())
    explored = _pin(_take(_without(scored, own, rules.select("record_key")), explore_n,
                          [F.xxhash64("record_key", F.lit(seed)), F.col("record_key")]))
    n_explored = explored.count()
    rule_picks = _pin(_take(rules, red - n_explored, _by_fraud()))
    n_rules = rule_picks.count()
    reserve = _pin(_take(_without(scored, explored, rule_picks), min(reserve_n, red - n_explored - n_rules),
                         [F.col("critical_score").desc(), F.col("record_key")]))
    n_reserve = reserve.count()
    model = _pin(_take(_without(scored, explored, rule_picks, reserve), red - n_explored - n_rules - n_reserve,
                       _by_fraud()))
    red_keys = _pin(explored.union(rule_picks).union(reserve).union(model))
    leftover_rules = _pin(_without(rules, red_keys))
    yellow_rules = _pin(_take(leftover_rules, yellow, _by_fraud()))
    n_yellow_rules = yellow_rules.count()
    yellow_model = _pin(_take(_without(scored, red_keys, yellow_rules), yellow - n_yellow_rules, _by_fraud()))
    overflow = _pin(_without(leftover_rules, yellow_rules).select("record_key"))

    first_rule = F.concat(F.lit("rule:"), F.element_at("rule_hits", 1))
    parts = [(explored, "red", F.lit(EXPLORATION)), (rule_picks, "red", first_rule),
             (reserve, "red", F.lit(CRITICAL_RESERVE)), (model, "red", F.lit(MODEL)),
             (yellow_rules, "yellow", first_rule), (yellow_model, "yellow", F.lit(MODEL)),
             (overflow, "overflow", first_rule)]
    listed = None
    for keys, lane, reason in parts:
        part = keys.join(scored, "record_key").select("record_key", F.lit(lane).alias("lane"),
                                                      reason.alias("selection_reason"), "fraud_score")
        listed = part if listed is None else listed.unionByName(part)
    lane_order = F.array_position(F.array(*[F.lit(lane) for lane in LANES]), F.col("lane"))
    ranked = _pin(listed.withColumn("rank", F.row_number().over(Window.orderBy(lane_order, *_by_fraud())).cast("int"))
                  .drop("fraud_score"))
    by_lane = {r["lane"]: r["n"] for r in ranked.groupBy("lane").agg(F.count(F.lit(1)).alias("n")).collect()}
    counts = {
        "records": total, "red_capacity": red, "yellow_capacity": yellow,
        "red": by_lane.get("red", 0), "yellow": by_lane.get("yellow", 0), "overflow": by_lane.get("overflow", 0),
        "exploration": n_explored, "rule_picks_red": n_rules, "critical_reserve": n_reserve,
        "rule_hits": n_rule_hits, "rule_picks_yellow": n_yellow_rules,
    }
    return Allocation(ranked, counts)
