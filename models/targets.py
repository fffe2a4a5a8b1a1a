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

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.settings import LaneCapacity

LANES = ("red", "yellow", "overflow")
CRITICAL_RESERVE, EXPLORATION, MODEL = "critical_reserve", "exploration", "model"
LISTED_SCHEMA = "record_key string, lane string, selection_reason string, rank int"


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


def _top(frame: DataFrame, n: int, *order: Column) -> DataFrame:
    """The first `n` rows in `order` (a top-k, not a full sort)."""
    return frame.orderBy(*order, F.col("record_key")).limit(max(n, 0))


def candidate_pool(scored: DataFrame, red: int, yellow: int, explore_n: int, reserve_n: int, seed: str) -> pd.DataFrame:
    """Every record the allocation could list, and nothing else: rule hits, the top by fraud and by
    critical score (deep enough to fill the lanes whatever the rules take), and the exploration
    draw (a seeded hash order over records outside the model's own top and the rules). Its size
    is bounded by capacity plus rule hits, so it is allocated exactly on the driver."""
    rules = scored.where(F.size("rule_hits") > 0)
    n_rules = rules.count()
    by_fraud = _top(scored, red + yellow + reserve_n + n_rules, F.col("fraud_score").desc())
    by_critical = _top(scored, reserve_n + n_rules, F.col("critical_score").desc())
    own = (_top(scored, red + yellow, F.col("fraud_score").desc()).select("record_key")
           .union(_top(scored, reserve_n, F.col("critical_score").desc()).select("record_key")))
    drawn = _top(scored.where(F.size("rule_hits") == 0).join(F.broadcast(own), "record_key", "left_anti"),
                 explore_n, F.xxhash64("record_key", F.lit(seed)))
    pool = (by_fraud.unionByName(by_critical).unionByName(rules).withColumn("_drawn", F.lit(False))
            .unionByName(drawn.withColumn("_drawn", F.lit(True)))
            .groupBy("record_key").agg(F.first("fraud_score").alias("fraud_score"),
                                       F.first("critical_score").alias("critical_score"),
                                       F.first("rule_hits").alias("rule_hits"), F.max("_drawn").alias("_drawn")))
    return pool.toPandas()


def allocate_pool(pool: pd.DataFrame, red: int, yellow: int, explore_n: int, reserve_n: int) -> pd.DataFrame:
    """Lanes and reasons for the candidate pool, in the order the module docstring gives:
    (`record_key`, `lane`, `selection_reason`, `rank`)."""
    pool = pool.assign(_rules=pool["rule_hits"].map(len) > 0)
    by_fraud = pool.sort_values(["fraud_score", "record_key"], ascending=[False, True], kind="stable")
    by_critical = pool.sort_values(["critical_score", "record_key"], ascending=[False, True], kind="stable")
    taken: dict[str, tuple[str, str]] = {}

    def take(frame: pd.DataFrame, n: int, lane: str, reason: str | None) -> int:
        rows = frame[~frame["record_key"].isin(list(taken))].head(max(n, 0))
        for key, hits in zip(rows["record_key"], rows["rule_hits"], strict=True):
            taken[key] = (lane, reason or f"rule:{hits[0]}")
        return len(rows)

    explored = take(pool[pool["_drawn"]], explore_n, "red", EXPLORATION)
    rules = by_fraud[by_fraud["_rules"]]
    by_rule = take(rules, red - explored, "red", None)
    reserved = take(by_critical, min(reserve_n, red - explored - by_rule), "red", CRITICAL_RESERVE)
    take(by_fraud, red - explored - by_rule - reserved, "red", MODEL)
    yellow_rules = take(rules, yellow, "yellow", None)
    take(by_fraud, yellow - yellow_rules, "yellow", MODEL)
    take(rules, len(rules), "overflow", None)
    listed = pd.DataFrame([(k, lane, reason) for k, (lane, reason) in taken.items()],
                          columns=["record_key", "lane", "selection_reason"]).merge(pool[["record_key", "fraud_score"]])
    listed["_lane"] = listed["lane"].map(LANES.index)
    listed = listed.sort_values(["_lane", "fraud_score", "record_key"], ascending=[True, False, True], kind="stable")
    listed["rank"] = range(1, len(listed) + 1)
    return listed[["record_key", "lane", "selection_reason", "rank"]].reset_index(drop=True)


def allocate(scored: DataFrame, policy: SelectionPolicy, seed: str) -> Allocation:
    """Lanes for the day's `scored` records (`record_key`, `fraud_score`, `critical_score`,
    `rule_hits`). `seed` (channel and day) fixes the exploration draw."""
    total = scored.count()
    red, yellow = policy.capacity.sizes(total)
    explore_n = round(red * policy.exploration_share)
    reserve_n = round(red * policy.critical_share)
    pool = candidate_pool(scored, red, yellow, explore_n, reserve_n, seed)
    listed = allocate_pool(pool, red, yellow, explore_n, reserve_n)
    reasons = listed["selection_reason"]
    lanes = listed["lane"].value_counts()
    counts = {
        "records": total, "red_capacity": red, "yellow_capacity": yellow,
        "red": int(lanes.get("red", 0)), "yellow": int(lanes.get("yellow", 0)),
        "overflow": int(lanes.get("overflow", 0)), "exploration": int((reasons == EXPLORATION).sum()),
        "critical_reserve": int((reasons == CRITICAL_RESERVE).sum()),
        "rule_hits": int((pool["rule_hits"].map(len) > 0).sum()),
        "rule_picks_red": int(((listed["lane"] == "red") & reasons.str.startswith("rule:")).sum()),
        "rule_picks_yellow": int(((listed["lane"] == "yellow") & reasons.str.startswith("rule:")).sum()),
    }
    spark = scored.sparkSession
    return Allocation(spark.createDataFrame(listed, LISTED_SCHEMA), counts)
