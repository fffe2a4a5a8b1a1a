"""Scoring plus list building for one generated day of one channel, after days of history:
the day's features from the entity state, scores, rules, lanes, reasons, gold tables and the
published files, as the daily target-list asset runs them (`models.day_targets.build_day_targets`).

    .venv/bin/python benchmarks/score_day.py --records 1000000 --history-days 30
    .venv/bin/python benchmarks/score_day.py --records 1000000 --history-days 180

History is generated straight into silver at --history-volume records a day (the generator's
legacy inspections as labels), the entity state is bootstrapped from it (timed apart), and a
model of the default size is trained on the last history day (labelled with the generator's
truth: it only has to be of a realistic size, nothing is evaluated here). Prints the figures, the peak
memory of the whole process tree (Python, the driver JVM and its Python workers), and writes JSON
to benchmarks/results/.

`--profile DIR` also records Spark's event log, py-spy's samples and each stage's window, read
with `benchmarks/profile_report.py DIR --step features`; such a run's JSON is `...-profiled.json`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.memory import PeakMemory  # noqa: E402
from benchmarks.profiling import PySpy, event_log_conf  # noqa: E402
from generator.silver import build_lake, with_truth_labels  # noqa: E402
from jobs.settings import Settings  # noqa: E402
from jobs.spark_session import build_spark_session  # noqa: E402
from models.channels import SELECTORS  # noqa: E402
from models.daily import advance_entity_state, day_features  # noqa: E402
from models.day_targets import build_day_targets  # noqa: E402
from models.scoring import ScoringModel  # noqa: E402
from models.train import TrainParams, train_selector  # noqa: E402

START = dt.date(2024, 1, 1)


def log(message: str) -> None:
    print(message, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channel", choices=sorted(SELECTORS), default="declarations")
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the scored day")
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--history-volume", type=int, default=20_000, help="records a day of history")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the lake here (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile the scoring into this folder: Spark's event log, py-spy's samples, the stages' "
                             "windows (read with benchmarks/profile_report.py DIR --step features)")
    args = parser.parse_args()

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="score_day_"))).resolve()
    settings = replace(Settings.from_env(), lake_dir=workdir / "lake", publish_dir=workdir / "publish")
    if args.profile:
        settings = replace(settings, spark_conf={**settings.spark_conf, **event_log_conf(args.profile)})
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    spark = build_spark_session(settings, app_name="score-day-benchmark")
    selector = SELECTORS[args.channel]
    day = START + dt.timedelta(days=args.history_days)
    model_file = workdir / "model.pickle"
    if model_file.exists():  # a lake this script generated before (--workdir): measure again on it
        log(f"1/4 reusing the lake and model in {workdir}")
        model = pickle.loads(model_file.read_bytes())
        generate_s = setup_s = 0.0
    else:
        generate_s, setup_s, model = prepare(spark, settings, selector, args, day, workdir)
        model_file.write_bytes(pickle.dumps(model))

    log(f"3/4 scoring and list building for {day} ({args.records:,} records)")
    with PeakMemory() as memory, PySpy(args.profile):
        began = time.perf_counter()
        published = build_day_targets(spark, settings, selector, day, model)
        seconds = time.perf_counter() - began
    result = {
        "channel": args.channel, "records": published.counts["records"], "history_days": args.history_days,
        "history_volume": args.history_volume, "score_and_list_seconds": round(seconds, 1),
        "seconds_per_stage": published.seconds, "records_per_second": round(published.counts["records"] / seconds),
        **memory.figures(),
        "counts": published.counts, "generate_seconds": round(generate_s, 1), "setup_seconds": round(setup_s, 1),
        "cores": os.cpu_count(), "spark_master": settings.spark_master,
    }
    log(f"4/4 {published.counts['records']:,} records scored and listed in {seconds:.1f}s "
        f"({result['records_per_second']:,} records/s; {published.seconds}), peak memory "
        f"{result['peak_memory_gb']} GB {result['peak_memory_gb_by_process']} (PSS {result['peak_memory_pss_gb']} GB "
        f"{result['peak_memory_pss_gb_by_process']}); list: red {published.counts['red']}, "
        f"yellow {published.counts['yellow']} -> {published.csv_path}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.profile:
        (args.profile / "steps.json").write_text(json.dumps(published.windows, indent=1))
    suffix = "-profiled" if args.profile else ""  # py-spy slows the run: kept apart from the figures
    path = args.out / f"score_day-{args.channel}-{args.records}-h{args.history_days}{suffix}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    log(f"written {path}")


def prepare(spark, settings: Settings, selector, args: argparse.Namespace, day: dt.date,
            workdir: Path) -> tuple[float, float, ScoringModel]:
    """Generate the lake, bootstrap the state, train a model; returns the seconds and the model."""
    log(f"1/4 generating {args.history_days} days x {args.history_volume:,} {args.channel} records of history "
        f"and a day of {args.records:,} into {workdir}")
    began = time.perf_counter()
    lake = build_lake(spark, settings, START, args.history_days + 1, volumes={args.channel: args.history_volume},
                      scale=1.0, chunk_days=10, progress=log,
                      volume_on=lambda d: {args.channel: args.records if d == day else args.history_volume})
    generate_s = time.perf_counter() - began

    log("2/4 entity state from the history and a champion trained on the last history day")
    began = time.perf_counter()
    last_history = day - dt.timedelta(days=1)
    advance_entity_state(spark, settings, selector, last_history - dt.timedelta(days=1))
    train_day = day_features(spark, settings, selector, last_history).frame.toPandas()
    # The generator's truth labels the whole day: the model only has to be of a realistic size here.
    labelled = with_truth_labels(train_day, lake.truth, selector.record_id)
    half = len(labelled) // 2
    columns = selector.feature_columns(list(train_day.columns))
    trained = train_selector(labelled[:half], labelled[half:], columns, TrainParams())
    trained.info.update(model_name=selector.model_name, version="benchmark")
    model = ScoringModel.from_selector(trained)
    advance_entity_state(spark, settings, selector, last_history)
    setup_s = time.perf_counter() - began
    log(f"    state and model ready in {setup_s:.0f}s ({len(labelled)} labelled rows, "
        f"{trained.info.get('fraud_best_iteration')} trees)")
    return generate_s, setup_s, model


if __name__ == "__main__":
    main()
