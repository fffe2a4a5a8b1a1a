"""Training a declarations selector on a national volume of labelled rows: how long each set of
hyperparameters takes, and what it costs in selection quality, on one generated world.

    .venv/bin/python benchmarks/train_speed.py --seed 3 --variants "default;learning_rate=0.1"

The world: `--days` days of `--per-day` generated declarations (seed `--seed`), the weekly feature
table built from silver (each row from what was known before its day), every record labelled with
the generator's truth (as if every record had been inspected: the volume a national year of
results would give). The
last `--eval-days` days are the evaluation window; the `--rows` records before them are cut in time
order at a day boundary: the last `--stop-days` days (8: 20 % of the rows) for early stopping, the
days before for training, as the weekly job cuts its history by days (`--cut random` shuffles the
rows first and cuts 80 / 20, a control: early stopping on rows of the same days as training). Each
variant (`name=value` fields of `models.train.TrainParams`, `;` between variants, `default` for
`TrainParams()`) trains the fraud and critical boosters and is timed; its fraud precision and
critical recall at 1, 2, 5 and 10 % of the evaluation window are printed beside the seconds.

The labelled frame is cached in `--cache` (per seed, days, volume and a hash of the feature and
generator code), so a second call only trains. Each call rewrites its seed's JSON.
Choose variants on development seeds; the README's reported seed for generated data is 7."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.metrics import ranking_report  # noqa: E402
from models.selection import fraud_ranking  # noqa: E402
from models.train import TrainParams, train_selector  # noqa: E402

START = dt.date(2024, 1, 1)
RATES = [0.01, 0.02, 0.05, 0.1]


def log(message: str) -> None:
    print(message, flush=True)


def parse_variants(text: str) -> dict[str, TrainParams]:
    """`default;learning_rate=0.1,max_bin=64` -> {name: TrainParams}; unknown fields refused."""
    fields = {f.name: f.type for f in dataclasses.fields(TrainParams)}
    variants: dict[str, TrainParams] = {}
    for spec in filter(None, (v.strip() for v in text.split(";"))):
        if spec == "default":
            variants[spec] = TrainParams()
            continue
        changes = {}
        for pair in spec.split(","):
            name, _, value = pair.partition("=")
            name = name.strip()
            if name not in fields:
                raise SystemExit(f"unknown TrainParams field {name!r} in {spec!r}: one of {sorted(fields)}")
            changes[name] = int(value) if fields[name] in ("int", int) else float(value)
        variants[spec] = replace(TrainParams(), **changes)
    return variants


def code_hash() -> str:
    """A short hash of the code a cached frame depends on (features, generator, channel selectors),
    so a frame built by other code is not reused."""
    digest = hashlib.sha1()
    for path in sorted([*(ROOT / "features").glob("*.py"), *(ROOT / "generator").glob("*.py"),
                        ROOT / "models" / "channels.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def labelled_frame(args: argparse.Namespace, code: str) -> pd.DataFrame:
    """The declarations feature table of the generated world joined to the generator's truth,
    built once per seed, days, volume and `code` (`code_hash()`) and cached as parquet."""
    cache = args.cache / f"seed{args.seed}-{args.days}x{args.per_day}-{code}.parquet"
    if cache.exists():
        log(f"labelled frame from {cache}")
        return pd.read_parquet(cache)
    from generator.silver import build_lake, with_truth_labels
    from jobs.settings import Settings
    from jobs.spark_session import build_spark_session
    from models.channels import SELECTORS
    from models.pipeline import build_feature_table

    workdir = Path(tempfile.mkdtemp(prefix="train_speed_"))
    settings = replace(Settings.from_env(), lake_dir=workdir / "lake", publish_dir=workdir / "publish")
    spark = build_spark_session(settings, app_name="train-speed")
    selector = SELECTORS["declarations"]
    began = time.perf_counter()
    log(f"1/3 generating {args.days} days x {args.per_day:,} declarations (seed {args.seed}) into {workdir}")
    lake = build_lake(spark, settings, START, args.days, seed=args.seed, volumes={"declarations": args.per_day},
                      scale=1.0, progress=log)
    log(f"    {time.perf_counter() - began:.0f}s; 2/3 the feature table (point in time, from silver)")
    table = build_feature_table(spark, settings, selector)
    log(f"    {table.rows:,} rows x {table.features} features, {time.perf_counter() - began:.0f}s")
    staged = workdir / "features.parquet"
    spark.read.format("delta").load(table.path).write.parquet(str(staged))
    spark.stop()
    frame = with_truth_labels(pd.read_parquet(staged), lake.truth, selector.record_id)
    frame = frame.sort_values([selector.day_column, selector.record_id], ignore_index=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(cache)
    shutil.rmtree(workdir, ignore_errors=True)
    log(f"    cached {len(frame):,} labelled rows in {cache}")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--per-day", type=int, default=25_000, help="generated declarations a day")
    parser.add_argument("--eval-days", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000, help="training + early-stopping rows")
    parser.add_argument("--stop-days", type=int, default=8, help="days of the rows for early stopping")
    parser.add_argument("--cut", choices=("days", "random"), default="days",
                        help="days: early stopping on the last --stop-days days; random: rows shuffled, 80 / 20")
    parser.add_argument("--variants", default="default", help="`;`-separated TrainParams changes, e.g. "
                        "\"default;learning_rate=0.1;learning_rate=0.1,max_bin=64\"")
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench" / "train_speed")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    variants = parse_variants(args.variants)
    from models.channels import SELECTORS
    from models.pipeline import split_windows

    selector = SELECTORS["declarations"]
    code = code_hash()
    frame = labelled_frame(args, code)
    day = frame[selector.day_column]
    windows = split_windows(day, args.eval_days, args.stop_days)  # the weekly job's cut
    eval_from = windows.eval_from
    history, evaluation = frame[day < eval_from], frame[day >= eval_from]
    if len(history) < args.rows:
        raise SystemExit(f"only {len(history):,} rows before the evaluation window: raise --days or --per-day")
    history = history.iloc[len(history) - args.rows:]
    if args.cut == "days":
        late = history[selector.day_column] >= windows.stop_from
        train, stop = history[~late], history[late]
    else:
        shuffled = history.sample(frac=1.0, random_state=args.seed)
        cut = int(len(shuffled) * 0.8)
        train, stop = shuffled.iloc[:cut], shuffled.iloc[cut:]
    columns = selector.feature_columns(list(frame.columns))
    fraud, critical = evaluation["fraud"].to_numpy(), evaluation["critical"].to_numpy()
    log(f"3/3 {len(variants)} variant(s): training {len(train):,} + early stopping {len(stop):,} rows x "
        f"{len(columns)} features; evaluation {len(evaluation):,} rows from {eval_from} (fraud {fraud.mean():.3f})")
    results = {}
    for name, params in variants.items():
        trained = train_selector(train, stop, columns, params)
        score, critical_score = trained.scores(evaluation)
        report = ranking_report(fraud_ranking(score), fraud, critical, RATES)
        critical_order = ranking_report(fraud_ranking(critical_score), fraud, critical, RATES)
        results[name] = {"params": dataclasses.asdict(params), "seconds": round(trained.train_seconds, 1),
                         "fraud_trees": trained.info.get("fraud_best_iteration"),
                         "critical_trees": trained.info.get("critical_best_iteration"),
                         "precision_at": report["precision_at"],
                         "critical_recall_by_critical_score_at": critical_order["critical_recall_at"]}
        r = results[name]
        log(f"  {name:<40} {r['seconds']:>7.1f}s  trees {r['fraud_trees']}/{r['critical_trees']}  p@ "
            + " ".join(f"{r['precision_at'][str(x)]:.3f}" for x in RATES) + "  crit recall@ "
            + " ".join(f"{r['critical_recall_by_critical_score_at'][str(x)]}" for x in RATES))
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.cut == "days" else f"-{args.cut}"
    path = args.out / f"train_speed-seed{args.seed}{suffix}.json"
    path.write_text(json.dumps({
        "seed": args.seed, "days": args.days, "per_day": args.per_day, "rows": args.rows, "cut": args.cut,
        "train_rows": len(train), "early_stopping_rows": len(stop), "eval_from": eval_from.isoformat(),
        "eval_rows": len(evaluation), "code": code, "cores": os.cpu_count(), "variants": results}, indent=2))
    log(f"done: {len(results)} variant(s) on {args.rows:,} rows; {path}")


if __name__ == "__main__":
    main()
