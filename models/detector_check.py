"""`customs-risk check-detectors`: how well the price-surge and supply-shock detectors find the
market events the generator injects, measured against its ground truth (`events.json`).

A year of declarations is generated straight into Spark (the detectors only read declarations
and the item master), the same functions the weekly assets call (`jobs.prices`, `jobs.supply`)
run over every week, and each alert is matched with the events:

- an event is **detected** when an alert for its item arrives for a week ending on or after its
  start and starting no later than 4 weeks after it; `weeks_to_detect` counts from its start to
  the end of the first such week;
- an alert is a **false alarm** when no event of its kind touching one of the item's HS6 codes
  had started by the end of that week (items share codes, so a surge on one item's code is a real
  surge of another item's too); the rate is per 100 item-weeks that could have raised an alert
  (surges: at least `min_declarations` declarations with a code baseline; supply: `has_base`).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from generator import channels
from generator.config import Events, GeneratorConfig
from generator.world import World
from jobs.prices import (
    PRICE_LISTS,
    SurgeRule,
    item_codes,
    item_declarations,
    price_surges,
    week_changes,
    weekly_price_index,
)
from jobs.supply import SUPPLY_LISTS, SupplyRule, alert_rows, supply_evidence, supply_metrics

DETECTION_WEEKS = 4
DETECTOR_COLUMNS = {"Declaration ID": "declaration_id", "Date": "date", "HS6 Code": "hs6_code",
                    "Country of Origin": "country_of_origin", "Net Mass": "net_mass", "Item Price": "item_price"}


@dataclass(frozen=True)
class CheckConfig:
    """What to generate: `weeks` weeks from a Monday, `scale` x 200 declarations a weekday (30 %
    on weekends), events starting after a 9-week baseline and at least 5 weeks before the end."""

    weeks: int = 52
    seed: int = 7
    scale: float = 20.0
    start: dt.date = dt.date(2023, 1, 2)

    @property
    def last_day(self) -> dt.date:
        """The last generated day."""
        return self.start + dt.timedelta(weeks=self.weeks, days=-1)

    @property
    def checked_weeks(self) -> list[dt.date]:
        """The weeks the detectors judge: every week but the first."""
        return [self.start + dt.timedelta(weeks=w) for w in range(1, self.weeks)]

    def generator_config(self) -> GeneratorConfig:
        """The generator's config with the events placed inside the checked year."""
        return GeneratorConfig(seed=self.seed, scale=self.scale,
                               events=replace(Events(), start_days=(63, max(64, 7 * self.weeks - 35))))


def log_stderr(line: str) -> None:
    """Progress goes to stderr: stdout carries the JSON result only."""
    print(line, file=sys.stderr, flush=True)


def generated_inputs(spark: SparkSession, config: CheckConfig, log: Callable[[str], None]
                     ) -> tuple[DataFrame, DataFrame, World]:
    """Declarations (only the columns the detectors read) and the item master of one seeded
    world, as Spark DataFrames."""
    gen = config.generator_config()
    world = World(gen, config.start)
    frames = []
    for i in range(7 * config.weeks):
        day = config.start + dt.timedelta(days=i)
        n = max(1, int(gen.declarations_per_day * config.scale * (0.3 if day.weekday() >= 5 else 1.0)))
        batch = channels.declarations(world, day, n, gen.rates, np.random.default_rng([config.seed, i]))
        frames.append(batch.rows[list(DETECTOR_COLUMNS)].rename(columns=DETECTOR_COLUMNS))
        if (i + 1) % 28 == 0:
            log(f"  generated week {(i + 1) // 7} of {config.weeks}")
    rows = pd.concat(frames, ignore_index=True)
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    rows["net_mass"] = pd.to_numeric(rows["net_mass"], errors="coerce")
    rows["item_price"] = pd.to_numeric(rows["item_price"], errors="coerce")
    declarations = spark.createDataFrame(
        rows, "declaration_id string, date date, hs6_code string, country_of_origin string, "
              "net_mass double, item_price double")
    items = world.items.assign(_valid_from=config.start, _valid_to=None)
    monitored = spark.createDataFrame(
        items, "item_code string, list_type string, name_ko string, name_en string, hs6_codes string, "
               "_valid_from date, _valid_to date")
    log(f"  {len(rows):,} declarations, {len(items):,} monitored items")
    return declarations, monitored, world


def event_alerts(alerts: pd.DataFrame, event: dict) -> pd.DataFrame:
    """The alerts (item_code, week_start, week_end) that detect `event`: for its item, for a week
    ending on or after its start and starting at most `DETECTION_WEEKS` weeks after it."""
    start = event["start"]
    return alerts[(alerts["item_code"] == event["item_code"]) & (alerts["week_end"] >= start)
                  & (alerts["week_start"] <= start + dt.timedelta(weeks=DETECTION_WEEKS))]


def detection(alerts: pd.DataFrame, events: list[dict], eligible: int, item_hs: dict[str, set[str]]) -> dict:
    """Recall, false alarms per 100 eligible item-weeks and median weeks to detect, of `alerts`
    (item_code, week_start, week_end) against `events` of one kind."""
    detected, delays = 0, []
    for event in events:
        mine = event_alerts(alerts, event)
        if len(mine):
            detected += 1
            delays.append(((mine["week_end"].min() - event["start"]).days + 1) / 7)

    def explained(row) -> bool:
        codes = item_hs.get(row["item_code"], set())
        return any(codes & set(e["hs6"]) and e["start"] <= row["week_end"] for e in events)

    false_alarms = int((~alerts.apply(explained, axis=1)).sum()) if len(alerts) else 0
    return {"recall": round(detected / len(events), 3) if events else None,
            "false_alarms_per_100_item_weeks": round(100 * false_alarms / eligible, 3) if eligible else None,
            "median_weeks_to_detect": round(statistics.median(delays), 1) if delays else None,
            "events": len(events), "detected": detected, "alerts": len(alerts), "false_alarms": false_alarms,
            "item_weeks": eligible}


def check_detectors(spark: SparkSession, config: CheckConfig, surge_rule: SurgeRule | None = None,
                    supply_rule: SupplyRule | None = None, log: Callable[[str], None] = log_stderr) -> dict:
    """Generate, detect, score: {"surge": {...}, "supply": {...}} (see the module docstring)."""
    surge_rule, supply_rule = surge_rule or SurgeRule(), supply_rule or SupplyRule()
    began = time.perf_counter()
    log(f"check-detectors: {config.weeks} weeks from {config.start}, seed {config.seed}, scale {config.scale}")
    declarations, monitored, world = generated_inputs(spark, config, log)
    last, weeks = config.last_day, config.checked_weeks
    item_hs = {r.item_code: set(r.hs6_codes.split(";")) for r in world.items.itertuples()}

    log("  price index and surge checks ...")
    price_rows = item_declarations(declarations, item_codes(monitored, PRICE_LISTS), config.start, last).cache()
    index = weekly_price_index(price_rows, surge_rule.min_declarations)
    changes = week_changes(price_rows, weeks, surge_rule).cache()
    surges = price_surges(price_rows, index, weeks, surge_rule, changes).select("item_code", "week_start", "week_end")
    surge_alerts = surges.toPandas()
    eligible = changes.where(F.col("declarations") >= surge_rule.min_declarations).count()
    changes.unpersist()
    surge_events = [e for e in world.events if e["kind"] == "price_surge"]
    result = {"surge": detection(surge_alerts, surge_events, eligible, item_hs)}
    price_rows.unpersist()

    log("  supply metrics and alerts ...")
    supply_rows = item_declarations(declarations, item_codes(monitored, SUPPLY_LISTS), config.start, last).cache()
    metrics = supply_metrics(supply_rows).cache()
    evidence = supply_evidence(metrics, weeks, supply_rule).cache()
    alerts = alert_rows(evidence, supply_rule).select("item_code", "week_start", "week_end").distinct()
    supply_found = alerts.toPandas()
    eligible = evidence.where("has_base").count()
    evidence.unpersist()
    shock_events = [e for e in world.events if e["kind"] == "supply_shock"]
    result["supply"] = detection(supply_found, shock_events, eligible, item_hs)
    supply_rows.unpersist()
    metrics.unpersist()
    log(f"check-detectors finished in {time.perf_counter() - began:.0f}s: surge recall {result['surge']['recall']}, "
        f"supply recall {result['supply']['recall']}")
    return result
