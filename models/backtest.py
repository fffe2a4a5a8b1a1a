"""Selection-bias backtest: replay generated weeks in which only the records a policy selects get
their labels revealed, as in reality (the generator's truth as an inspection reports it: a fraud is
found with the generator's inspection sensitivity, 1-7 days later), retraining weekly, and compare

- `legacy`: the generator's legacy rules (rule hits first, in random order, then random records),
- `exploitation`: the selector's list without exploration (critical reserve + fraud score),
- `hybrid`: the same with `exploration` of the capacity drawn at random outside the model's top,

all at the same inspection rate. Every policy starts from the same warm-up weeks selected by the
legacy rules (the history a first selector is trained on). Reported per week: inspections, hits,
hit rate, duty recovered, critical finds; at the end, the share of the fraud each policy never saw."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.entity_state import HistorySums
from features.parcels import ParcelReferences
from generator import channels
from generator.config import GeneratorConfig, Rates
from generator.inspection import legacy_rule_hits
from generator.world import World
from jobs.sources import SOURCES
from models.channels import SELECTORS
from models.metrics import top_n
from models.targets import allocate_pool
from models.train import TrainParams, train_selector

POLICIES = ("legacy", "exploitation", "hybrid")
VOLUME = {"declarations": "declarations_per_day", "express": "express_per_day", "mail": "mail_per_day"}


@dataclass(frozen=True)
class BacktestConfig:
    """What is replayed and how."""

    channel: str = "declarations"
    weeks: int = 8
    warmup_weeks: int = 2
    rate: float = 0.05
    exploration: float = 0.1
    critical_share: float = 0.2
    seed: int = 7
    scale: float = 1.0
    start: dt.date = dt.date(2024, 1, 1)
    params: TrainParams = field(default_factory=lambda: TrainParams(n_estimators=300, early_stopping_rounds=30))


@dataclass
class GeneratedWorld:
    """The generated records of the channel, their hidden truth, and the references."""

    records: DataFrame
    truth: pd.DataFrame  # record_key, day, fraud, outcome, duty_gap_krw, fraud_type, legacy_hit
    refs: ParcelReferences | None


def _typed(spark: SparkSession, source: str, frame: pd.DataFrame) -> DataFrame:
    spec = SOURCES[source]
    delivered = frame[[c.header for c in spec.columns]].astype(str).replace({"": None, "nan": None})
    return spec.typed(spark.createDataFrame(delivered))


def generate_days(spark: SparkSession, config: BacktestConfig, log: Callable[[str], None]) -> GeneratedWorld:
    """Every day of the warm-up and replay weeks, generated in memory."""
    gen = GeneratorConfig(seed=config.seed, scale=config.scale)
    world = World(gen, config.start)
    per_day = int(getattr(gen, VOLUME[config.channel]) * config.scale)
    rows, truths, orders = [], [], []
    days = 7 * (config.warmup_weeks + config.weeks)
    for i in range(days):
        day = config.start + dt.timedelta(days=i)
        rng = np.random.default_rng([config.seed, 300, i])
        batch = getattr(channels, config.channel)(world, day, per_day, gen.rates, rng)
        rows.append(batch.rows)
        truths.append(batch.truth.assign(day=day, legacy_hit=legacy_rule_hits(config.channel, batch.rows, world)))
        if config.channel == "express":
            orders.append(channels.platform_orders(batch.rows, batch.truth, rng))
    log(f"generated {days} days of {config.channel}: {sum(len(r) for r in rows)} records")
    records = _typed(spark, config.channel, pd.concat(rows)).cache()
    refs = None
    if SELECTORS[config.channel].needs_references:
        history = {"_valid_from": F.lit(config.start), "_valid_to": F.lit(None).cast("date")}
        registry = _typed(spark, "pccc_registry", world.registry().rename(
            columns=lambda c: SOURCES["pccc_registry"].column(c).header)).withColumns(history)
        watch = _typed(spark, "watch_lists", world.watch.rename(
            columns=lambda c: SOURCES["watch_lists"].column(c).header)).withColumns(history)
        platform = _typed(spark, "platform_orders", pd.concat(orders)) if orders else None
        refs = ParcelReferences(registry, watch, platform)
    truth = pd.concat(truths, ignore_index=True)[
        ["record_key", "day", "fraud", "outcome", "duty_gap_krw", "fraud_type", "legacy_hit"]]
    return GeneratedWorld(records, truth, refs)


def reveal(truth: pd.DataFrame, selected: list[str], rng: np.random.Generator,
           sensitivity: float = Rates().inspection_sensitivity) -> pd.DataFrame:
    """The labels of exactly the `selected` records, each known 1-7 days after its day, as the
    inspection reports them: a fraud is found with probability `sensitivity`, else reported clear.
    `duty_krw` is what the inspection recovered."""
    rows = truth[truth["record_key"].isin(selected)]
    lag = pd.to_timedelta(rng.integers(1, 8, len(rows)), unit="D")
    found = (rows["fraud"].to_numpy() == 1) & (rng.random(len(rows)) < sensitivity)
    return pd.DataFrame({"record_key": rows["record_key"].to_numpy(), "fraud": found.astype(int),
                         "critical": (found & (rows["outcome"] == 2).to_numpy()).astype(int),
                         "label_date": (pd.to_datetime(rows["day"]) + lag).dt.date.to_numpy(),
                         "duty_krw": np.where(found, rows["duty_gap_krw"].to_numpy(), 0.0)})


def legacy_selection(day_truth: pd.DataFrame, capacity: int, rng: np.random.Generator) -> list[str]:
    """The legacy rules at the same capacity: rule hits in random order, then random records."""
    order = day_truth.assign(_r=rng.random(len(day_truth))).sort_values(["legacy_hit", "_r"], ascending=[False, True])
    return order["record_key"].head(capacity).tolist()


def model_selection(day_scores: pd.DataFrame, capacity: int, exploration: float, critical_share: float,
                    rng: np.random.Generator) -> list[str]:
    """The target-list allocation (`models.targets.allocate_pool`) on one day's scores, red lane only."""
    explore_n, reserve_n = round(capacity * exploration), round(capacity * critical_share)
    pool = day_scores.assign(rule_hits=[[] for _ in range(len(day_scores))])
    own = set(pool.nlargest(capacity, "fraud_score")["record_key"]) | set(
        pool.nlargest(reserve_n, "critical_score")["record_key"])
    outside = pool[~pool["record_key"].isin(own)]
    drawn = set(outside["record_key"].sample(n=min(explore_n, len(outside)), random_state=rng).tolist())
    pool["_drawn"] = pool["record_key"].isin(drawn)
    listed = allocate_pool(pool, capacity, 0, explore_n, reserve_n)
    return listed.loc[listed["lane"] == "red", "record_key"].tolist()


def _features(spark: SparkSession, world: GeneratedWorld, config: BacktestConfig, labels: pd.DataFrame,
              until: dt.date) -> pd.DataFrame:
    """Point-in-time features of every record up to `until`, from the labels revealed so far."""
    selector = SELECTORS[config.channel]
    records = world.records.where(F.col(selector.day_column) <= F.lit(until))
    revealed = spark.createDataFrame(labels.rename(columns={"record_key": selector.record_id}),
                                     f"{selector.record_id} string, fraud int, critical int, label_date date")
    labelled = records.drop("fraud", "critical").join(revealed, selector.record_id)
    price_history = records if selector.state.price_groups else None
    features = selector.features_from(records, HistorySums(labelled, price_history), world.refs, None)
    return features.toPandas().rename(columns={selector.record_id: "record_key", selector.day_column: "day"})


@dataclass
class BacktestResult:
    """Per policy and week, and what each policy revealed."""

    weekly: pd.DataFrame
    summary: dict[str, dict[str, float]]
    revealed: dict[str, pd.DataFrame]
    selected: dict[str, set[str]]


def run_backtest(spark: SparkSession, config: BacktestConfig, log: Callable[[str], None] = print) -> BacktestResult:
    """Replay the weeks; see the module docstring."""
    world = generate_days(spark, config, log)
    truth = world.truth
    rng = np.random.default_rng([config.seed, 400])
    warmup_end = config.start + dt.timedelta(days=7 * config.warmup_weeks)
    labels = pd.DataFrame(columns=["record_key", "fraud", "critical", "label_date"])
    selected_warmup: set[str] = set()
    for _, day_truth in truth[truth["day"] < warmup_end].groupby("day"):
        picked = legacy_selection(day_truth, top_n(config.rate, len(day_truth)), rng)
        selected_warmup |= set(picked)
        labels = pd.concat([labels, reveal(truth, picked, rng)], ignore_index=True)
    revealed = {p: labels.copy() for p in POLICIES}
    selected = {p: set(selected_warmup) for p in POLICIES}
    rows = []
    for week in range(config.weeks):
        began = time.perf_counter()
        week_start = warmup_end + dt.timedelta(days=7 * week)
        week_end = week_start + dt.timedelta(days=6)
        week_truth = truth[(truth["day"] >= week_start) & (truth["day"] <= week_end)]
        for policy in POLICIES:
            rng_p = np.random.default_rng([config.seed, 500, week, POLICIES.index(policy)])
            if policy == "legacy":
                picks = [k for _, t in week_truth.groupby("day")
                         for k in legacy_selection(t, top_n(config.rate, len(t)), rng_p)]
            else:
                picks = _model_week(spark, world, config, revealed[policy], week_start, week_end,
                                    config.exploration if policy == "hybrid" else 0.0, rng_p)
            selected[policy] |= set(picks)
            found = reveal(truth, picks, rng_p)
            revealed[policy] = pd.concat([revealed[policy], found], ignore_index=True)
            rows.append({"week": week + 1, "week_start": week_start.isoformat(), "policy": policy,
                         "inspected": len(picks), "hits": int(found["fraud"].sum()),
                         "hit_rate": round(float(found["fraud"].mean()), 4) if len(found) else None,
                         "duty_recovered_krw": float(found["duty_krw"].sum()),
                         "critical_finds": int(found["critical"].sum()),
                         "frauds_in_week": int(week_truth["fraud"].sum())})
        line = "  ".join(f"{r['policy']} {r['hit_rate']}" for r in rows[-len(POLICIES):])
        log(f"  week {week + 1}/{config.weeks} ({week_start}): hit rate {line}  [{time.perf_counter() - began:.0f}s]")
    weekly = pd.DataFrame(rows)
    weekly["cumulative_duty_krw"] = weekly.groupby("policy")["duty_recovered_krw"].cumsum()
    return BacktestResult(weekly, _summary(weekly, truth, selected, warmup_end), revealed, selected)


def _model_week(spark: SparkSession, world: GeneratedWorld, config: BacktestConfig, labels: pd.DataFrame,
                week_start: dt.date, week_end: dt.date, exploration: float, rng: np.random.Generator) -> list[str]:
    """Train on the labels known before the week (the last week of them for early stopping), then
    select each day of the week by the target-list allocation."""
    known = labels[pd.to_datetime(labels["label_date"]).dt.date < week_start]
    features = _features(spark, world, config, known, week_end)
    selector = SELECTORS[config.channel]
    columns = selector.feature_columns([c for c in features.columns if c not in ("record_key", "day")])
    labelled = features.merge(known[["record_key", "fraud", "critical"]], on="record_key").sort_values(
        ["day", "record_key"], ignore_index=True)
    valid_from = week_start - dt.timedelta(days=7)
    trained = train_selector(labelled[labelled["day"] < valid_from], labelled[labelled["day"] >= valid_from],
                             columns, config.params)
    week = features[(features["day"] >= week_start) & (features["day"] <= week_end)].copy()
    week["fraud_score"], week["critical_score"] = trained.scores(week)
    return [k for _, day in week.groupby("day") for k in model_selection(
        day[["record_key", "fraud_score", "critical_score"]], top_n(config.rate, len(day)), exploration,
        config.critical_share, rng)]


def _summary(weekly: pd.DataFrame, truth: pd.DataFrame, selected: dict[str, set[str]],
             warmup_end: dt.date) -> dict[str, dict[str, float]]:
    replay = truth[truth["day"] >= warmup_end]
    frauds = replay[replay["fraud"] == 1]
    out = {}
    for policy, frame in weekly.groupby("policy"):
        seen = frauds["record_key"].isin(selected[policy])
        by_type = {t: round(float(seen[frauds["fraud_type"] == t].mean()), 4)
                   for t in sorted(frauds["fraud_type"].unique())}
        out[policy] = {"hit_rate": round(float(frame["hits"].sum() / frame["inspected"].sum()), 4),
                       "duty_recovered_krw": float(frame["duty_recovered_krw"].sum()),
                       "critical_finds": int(frame["critical_finds"].sum()),
                       "fraud_never_seen": round(float(1 - seen.mean()), 4) if len(frauds) else None,
                       "fraud_seen_by_type": by_type}
    return out


def save_chart(weekly: pd.DataFrame, path: Path, title: str) -> Path:
    """Hit rate per week and cumulative duty recovered, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for policy, frame in weekly.groupby("policy"):
        left.plot(frame["week"], frame["hit_rate"], marker="o", label=policy)
        right.plot(frame["week"], frame["cumulative_duty_krw"] / 1e6, marker="o", label=policy)
    left.set(title="hit rate per week", xlabel="week", ylabel="hits / inspections")
    right.set(title="cumulative duty recovered", xlabel="week", ylabel="million KRW")
    left.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(result: BacktestResult, config: BacktestConfig, folder: Path) -> tuple[Path, Path]:
    """The weekly table and summary as JSON, and the chart as PNG."""
    name = f"backtest-{config.channel}-seed{config.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, dt.date) else v) for k, v in asdict(config).items()}
    json_path = folder / f"{name}.json"
    json_path.write_text(json.dumps({"config": settings, "summary": result.summary,
                                     "weekly": result.weekly.to_dict("records")}, indent=2, default=str))
    chart = save_chart(result.weekly, folder / f"{name}.png",
                       f"{config.channel}: inspect {config.rate:.0%}, exploration {config.exploration:.0%} (hybrid)")
    return json_path, chart


def log_stderr(message: str) -> None:
    """Progress lines on stderr."""
    print(message, file=sys.stderr, flush=True)
