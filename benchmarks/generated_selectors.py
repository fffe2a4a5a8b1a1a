"""The selectors on generated data, read against the ceiling: each channel's selector is trained as
the weekly job trains it (labels only from the legacy inspections, which miss 15 % of the fraud;
training, early-stopping and evaluation windows in time order) and scored on every record of the
evaluation window against the generator's truth; the oracle ranks the same records by the
probability the generator gave each of being fraud (from latent propensities: where a pattern
leaves a clear mark in the record, a selector can beat it; see the README).

    .venv/bin/python benchmarks/generated_selectors.py --days 42 --seed 7

Prints one table per channel (precision at each inspection rate: selector, oracle, and the
selector on the inspected labels the pipeline itself sees) and writes JSON to benchmarks/results/."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.config import GeneratorConfig  # noqa: E402
from generator.silver import build_lake  # noqa: E402
from jobs.settings import Settings  # noqa: E402
from jobs.spark_session import build_spark_session  # noqa: E402
from models.channels import SELECTORS  # noqa: E402
from models.metrics import ranking_report  # noqa: E402
from models.pipeline import build_feature_table, train_channel_selector  # noqa: E402
from models.registry import load_selector  # noqa: E402
from models.selection import fraud_ranking  # noqa: E402
from models.train import TrainParams  # noqa: E402

START = dt.date(2024, 1, 1)


def log(message: str) -> None:
    print(message, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--channels", default="declarations,express,mail")
    parser.add_argument("--rates", default="0.01,0.02,0.05,0.1")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="generated_selectors_"))
    settings = replace(Settings.from_env(), lake_dir=workdir / "lake", publish_dir=workdir / "publish")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    spark = build_spark_session(settings, app_name="generated-selectors")
    base = GeneratorConfig()
    volumes = {c: int(getattr(base, f"{c}_per_day") * args.scale) for c in args.channels.split(",")}
    began = time.perf_counter()
    log(f"generating {args.days} days ({volumes} a day, seed {args.seed}) into {workdir}")
    lake = build_lake(spark, settings, START, args.days, seed=args.seed, volumes=volumes, scale=args.scale,
                      progress=log)
    truth = lake.truth.assign(critical=(lake.truth["outcome"] == 2).astype(int))
    results = {}
    for channel in volumes:
        selector = SELECTORS[channel]
        log(f"{channel}: feature table, training with time windows")
        build_feature_table(spark, settings, selector)
        outcome = train_channel_selector(spark, settings, selector, TrainParams())
        model = load_selector(selector.model_name)
        window = (spark.read.format("delta").load(str(settings.table_path("features", channel)))
                  .where(f"{selector.day_column} >= DATE'{outcome.windows.eval_from.isoformat()}'").toPandas())
        window = window.merge(truth.rename(columns={"record_key": selector.record_id}), on=selector.record_id)
        fraud, critical = window["fraud"].to_numpy(), window["critical"].to_numpy()
        score, _ = model.scores(window)
        selector_report = ranking_report(fraud_ranking(score), fraud, critical, rates)
        oracle = ranking_report(fraud_ranking(window["fraud_probability"].to_numpy()), fraud, critical, rates)
        inspected = outcome.report["fraud_ranking"]["precision_at"]
        results[channel] = {
            "evaluation_window": outcome.windows.label(), "records": int(len(window)),
            "fraud_rate": round(float(fraud.mean()), 4), "inspected_labels_in_window": outcome.n_eval,
            "selector_on_truth": selector_report, "oracle_on_truth": oracle,
            "selector_on_inspected_labels": {"precision_at": inspected},
            "fraud_types_in_top_10pct": _types_found(window, score, 0.1),
        }
        log(f"  {channel} ({len(window)} records of {outcome.windows.label()}, fraud rate {fraud.mean():.3f}):")
        log("    rate       " + "  ".join(f"{r:>6.0%}" for r in rates))
        for name, report in (("selector", selector_report), ("oracle", oracle),
                             ("inspected", {"precision_at": inspected})):
            log(f"    {name:<10} " + "  ".join(f"{report['precision_at'][str(r)]:>6.3f}" for r in rates))
    path = args.out / f"generated_selectors-seed{args.seed}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"days": args.days, "seed": args.seed, "scale": args.scale, "channels": results},
                               indent=2))
    log(f"done in {time.perf_counter() - began:.0f}s: {path}")


def _types_found(window: pd.DataFrame, score: np.ndarray, rate: float) -> dict[str, float]:
    """Share of each fraud type of the window that the selector's top `rate` holds."""
    top = np.zeros(len(window), dtype=bool)
    top[fraud_ranking(score)[: max(1, int(np.ceil(rate * len(window))))]] = True
    frauds = window[window["fraud"] == 1]
    return {t: round(float(top[frauds.index[frauds["fraud_type"] == t]].mean()), 3)
            for t in sorted(frauds["fraud_type"].unique())}


if __name__ == "__main__":
    main()
