"""The daily run at national volume, end to end, as the Dagster job executes it.

    .venv/bin/python benchmarks/daily_run.py --records 1000000 --history-days 30 --setup-dir .bench/h30
    make bench                                   # every size after 30 and 180 days of history
    .venv/bin/python benchmarks/daily_run.py --table     # the README table of the results so far

Set-up (not timed as the run): --history-days of history at --history-volume records a day
(declarations : express : mail = 2 : 2 : 1) written straight into silver with the generator's
legacy inspections as labels, the three champions trained, registered and promoted in MLflow on
that history, and the entity state advanced to the day before the last history day. Then one day
of --records records (same 2 : 2 : 1) is landed as CSV files and the `daily_pipeline` job runs for
it in-process (one SparkSession, as `customs-risk run` does): land and validate each source, the
entity state, scores and target lists, the feedback table and the KPI dashboard. Stage times come
from Dagster's own step events; the peak memory is the whole process tree's (driver JVM and Python
workers included). The weekly price and supply checks run after it, timed apart; then training a
selector on --train-rows labelled rows (the day's features, labelled with the generator's truth),
and the plain pandas script (benchmarks/pandas_daily.py) on the same day of declarations, in its
own process, with Spark stopped and under a memory watchdog. Writes
benchmarks/results/daily_run-<records>-h<days>.json.

`--setup-dir DIR` builds the set-up once in DIR (its own process) and starts every run from a copy
of it in an empty work folder, so the timed run's JVM starts cold, as a morning's run does.
`--profile DIR` also records Spark's event log, py-spy's samples of the driver and its Python
workers and the steps' times (read with benchmarks/profile_report.py); such a run is written as
`...-profiled.json` and left out of the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.profiling import PySpy, record_event_log  # noqa: E402

START = dt.date(2024, 1, 1)
TRAIN_DAYS = 30
SHARES = {"declarations": 0.4, "express": 0.4, "mail": 0.2}
STAGES = {  # Dagster step key prefix -> stage of the daily run
    "bronze__": "land", "validate_and_publish_": "validate", "state__": "state",
    "gold__selection_performance": "feedback", "gold__": "score_and_lists", "publish__kpi_dashboard": "dashboard",
}


def log(message: str) -> None:
    print(message, flush=True)


def split(total: int) -> dict[str, int]:
    """`total` records as declarations : express : mail = 2 : 2 : 1."""
    counts = {c: int(total * s) for c, s in SHARES.items()}
    counts["declarations"] += total - sum(counts.values())
    return counts


def stage_of(step_key: str) -> str:
    return next(stage for prefix, stage in STAGES.items() if step_key.startswith(prefix))


def step_windows(instance, run_id: str) -> dict[str, tuple[float, float]]:
    """Each finished step's (start, end) epoch seconds, from the run's event log."""
    starts, windows = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not entry.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[entry.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in starts:
            windows[entry.step_key] = (starts[entry.step_key], entry.timestamp)
    return windows


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Seconds from each step's start to its success or failure, from the run's event log."""
    return {key: round(end - start, 2) for key, (start, end) in step_windows(instance, run_id).items()}


def land_day(config, world, landing: Path, day: dt.date, counts: dict[str, int], file_rows: int = 0):
    """Write the day's landing files per channel (with the generator's damaged rows): one file,
    or files of at most `file_rows` records (a national day arrives in batches); returns the truth
    of the declarations (for the training benchmark) and the records written."""
    import numpy as np
    import pandas as pd

    from generator import channels
    from generator.writer import land_rows

    truths, written = [], {}
    for source, rows in counts.items():
        rng = np.random.default_rng([config.seed, 11, day.toordinal(), rows])
        batch = getattr(channels, source)(world, day, rows, config.rates, rng)
        size = file_rows or len(batch.rows) or 1
        firsts = range(0, len(batch.rows), size) or range(1)  # an empty day still lands its (empty) file
        written[source] = 0
        for part, first in enumerate(firsts):
            name = f"{source}-{day}.csv" if len(firsts) == 1 else f"{source}-{day}-{part:03d}.csv"
            written[source] += land_rows(source, batch.rows.iloc[first:first + size], landing / source /
                                         day.isoformat() / name, config.rates.bad_rows, rng)
        if source == "declarations":
            truths.append(batch.truth)
    return pd.concat(truths), written


class StepProgress(threading.Thread):
    """Prints each step of the newest run of `job_name` as it finishes (the run goes on in this
    process; its console log is quiet)."""

    def __init__(self, instance, job_name: str, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.instance, self.job_name, self.every = instance, job_name, every
        self.stopped, self.seen = threading.Event(), set()
        self.before = {r.run_id for r in instance.get_runs(dg.RunsFilter(job_name=job_name))}

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.report()

    def report(self) -> None:
        runs = [r for r in self.instance.get_runs(dg.RunsFilter(job_name=self.job_name), limit=1)
                if r.run_id not in self.before]
        if runs:
            for key, seconds in step_seconds(self.instance, runs[0].run_id).items():
                if key not in self.seen:
                    self.seen.add(key)
                    log(f"    step {key}: {seconds}s")

    def __enter__(self) -> StepProgress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()
        self.report()


def land_references(world, landing: Path, day: dt.date) -> None:
    """The reference lists (PCCC registry, watch lists, monitored import items) as delivered on
    `day`, for the set-up's ingestion."""
    from generator.run import _headers, reference_lists
    from generator.writer import write_csv

    for source, frame in reference_lists(world):
        write_csv(frame.rename(columns=_headers(source)), landing / source / day.isoformat() / f"{source}.csv", [],
                  "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the day (2:2:1)")
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--history-volume", type=int, default=30_000, help="records a day of history (2:2:1)")
    parser.add_argument("--train-rows", type=int, default=0,
                        help="train a selector on this many labelled rows of the day (0: skip)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas script")
    parser.add_argument("--file-rows", type=int, default=0,
                        help="land each source's day as files of at most this many records (default: one file)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder, removed after")
    parser.add_argument("--setup-dir", type=Path, default=None,
                        help="build the set-up (history, reference lists, champions, state) once in DIR and start "
                             "each run from a copy of it; a DIR built before for the same history is reused")
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile the timed run into this folder: Spark's event log, py-spy's samples of the "
                             "driver and its Python workers, the steps' times (read it with "
                             "benchmarks/profile_report.py)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="run only the pandas script again, on the day of an earlier run kept with --workdir, and "
                             "update that run's JSON (e.g. after the script changed)")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--table", action="store_true", help="print the README table of the results so far")
    args = parser.parse_args()
    if args.table:
        print_table(args.out)
        return
    for folder in ("workdir", "setup_dir", "profile"):  # Dagster wants absolute paths
        if getattr(args, folder):
            setattr(args, folder, getattr(args, folder).resolve())
    if args.baseline_only:
        rerun_baseline(args)
        return
    if args.setup_only:
        use_workdir(args.workdir)
        write_setup(args, args.workdir)
        return
    prepared = None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="daily_run_"))
    if args.setup_dir:
        prepared = reuse_setup(args, workdir)
    use_workdir(workdir)
    if args.profile:
        record_event_log(args.profile)
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args)
    result = run(args, workdir, lambda figures: path.write_text(json.dumps(figures, indent=2)), prepared)
    path.write_text(json.dumps(result, indent=2))
    log(json.dumps(result))
    log(f"\n{summary(result)}\nwritten {path}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


def result_path(args: argparse.Namespace) -> Path:
    """Where a run's figures go; a profiled run is slower (py-spy samples every process), so it is
    kept apart from the measured table."""
    suffix = "-profiled" if args.profile else ""
    return args.out / f"daily_run-{args.records}-h{args.history_days}{suffix}.json"


def declaration_files(landing: Path, day: str) -> list[Path]:
    """The day's landed declarations files, in name order."""
    return sorted((landing / "declarations" / day).glob("*.csv"))


def rerun_baseline(args: argparse.Namespace) -> None:
    """The pandas script on the declarations landed by an earlier run in `--workdir`, with that
    run's history extract and booster; its result replaces the JSON's `pandas` and `ratio`."""
    if args.workdir is None or not (args.workdir / "baseline" / "fraud.ubj").exists():
        raise SystemExit("--baseline-only needs --workdir of an earlier run that kept its baseline/ folder")
    path = result_path(args)
    figures = json.loads(path.read_text())
    csvs = declaration_files(args.workdir / "landing", figures["day"])
    log(f"the plain pandas script on {len(csvs)} declarations file(s) of {figures['day']}")
    figures["pandas"] = run_pandas_script(csvs, args.workdir / "baseline", args.workdir / "baseline")
    figures["ratio"] = ratios(figures)
    path.write_text(json.dumps(figures, indent=2))
    log(f"{summary(figures)}\nwritten {path}")


def use_workdir(workdir: Path) -> None:
    """Everything a run touches lives in the work folder: lake, landing, publish, GX, MLflow, Dagster."""
    for name in [n for n in os.environ if n.startswith("CUSTOMS_")]:  # a shell's lake, profile or conf
        del os.environ[name]
    os.environ.update(CUSTOMS_HOME=str(workdir), DAGSTER_HOME=str(workdir / "dagster_home"),
                      MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'mlflow.db'}", GX_ANALYTICS_ENABLED="false")


def write_setup(args: argparse.Namespace, folder: Path) -> None:
    """Build the set-up in `folder` (its own process: `--setup-only`) and record what it holds."""
    from jobs.settings import Settings
    from orchestration.resources import SparkResource

    folder.mkdir(parents=True, exist_ok=True)
    spark = SparkResource().session()
    figures = prepare(spark, Settings.from_env(), args, folder, generated_world(), dagster_instance())
    figures.update(history_days=args.history_days, history_volume=args.history_volume)
    (folder / "setup.json").write_text(json.dumps(figures, indent=2))
    log(f"set-up ready in {folder}: {figures}")


def reuse_setup(args: argparse.Namespace, workdir: Path) -> dict:
    """Copy the set-up of `--setup-dir` (built first when missing) into `workdir`; its figures. MLflow's
    artifacts stay in the set-up folder (the copied tracking store points there)."""
    marker = args.setup_dir / "setup.json"
    if not marker.exists():
        log(f"building the set-up once in {args.setup_dir}")
        command = [sys.executable, __file__, "--setup-only", "--workdir", str(args.setup_dir),
                   "--history-days", str(args.history_days), "--history-volume", str(args.history_volume)]
        if subprocess.run(command).returncode != 0:
            raise SystemExit(f"building the set-up in {args.setup_dir} failed")
    prepared = json.loads(marker.read_text())
    if (prepared["history_days"], prepared["history_volume"]) != (args.history_days, args.history_volume):
        raise SystemExit(f"{args.setup_dir} holds {prepared['history_days']} days x {prepared['history_volume']} "
                         f"records, not {args.history_days} x {args.history_volume}: use another --setup-dir")
    log(f"1-2/7 set-up copied from {args.setup_dir} (built in {prepared['history_seconds']} + "
        f"{prepared['setup_seconds']} s)")
    if workdir.exists() and any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty: a run from a copied set-up needs an empty work folder")
    shutil.copytree(args.setup_dir, workdir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("train_lake", "setup.json", "mlruns"))
    os.sync()  # the copy's writes are not left to slow the timed run
    return prepared


def prepare(spark, settings, args: argparse.Namespace, workdir: Path, world, instance) -> dict:
    """The untimed set-up: history into silver, the reference lists ingested, the champions trained
    and promoted, the entity state advanced to the day before the last history day."""
    from generator.silver import build_lake
    from models.channels import SELECTORS
    from models.daily import advance_entity_state
    from models.pipeline import build_feature_table, train_channel_selector
    from models.train import TrainParams
    from orchestration.cli import QUIET
    from orchestration.definitions import defs
    from orchestration.launch import execute_job_in_workspace, partition_tags

    day = START + dt.timedelta(days=args.history_days)
    figures = {}
    log(f"1/7 history: {args.history_days} days x {args.history_volume:,} records into silver ({workdir})")
    began = time.perf_counter()
    build_lake(spark, settings, START, args.history_days, volumes=split(args.history_volume), scale=1.0,
               chunk_days=10, progress=log)
    land_references(world, Path(settings.landing_dir), START)
    references = execute_job_in_workspace(instance, "ingestion", run_config=QUIET, tags=partition_tags(
        defs.resolve_job_def("ingestion"), [START.isoformat()]))
    if not references.success:
        raise SystemExit(f"landing the reference lists failed: run {references.run_id}")
    figures["history_seconds"] = round(time.perf_counter() - began, 1)

    log("2/7 champions: feature tables, training, registration, promotion (MLflow); state to the day before")
    began = time.perf_counter()
    # A long history trains its champions on a 30-day lake of the same world (the full feature
    # rebuild over 180 days is the weekly job's cost, not the daily run's; the features are the same).
    trained_on = settings
    if args.history_days > TRAIN_DAYS:
        trained_on = replace(settings, lake_dir=workdir / "train_lake")
        build_lake(spark, trained_on, START, TRAIN_DAYS, volumes=split(args.history_volume), scale=1.0, chunk_days=10)
    for selector in SELECTORS.values():
        build_feature_table(spark, trained_on, selector)
        train_channel_selector(spark, trained_on, selector, TrainParams())
        advance_entity_state(spark, settings, selector, day - dt.timedelta(days=2))
    figures["setup_seconds"] = round(time.perf_counter() - began, 1)
    return figures


def generated_world():
    """The generator's world of the history (build_lake's seed): the day's importers, sellers and
    PCCCs are the history's, so the state lookups hit as they would in service."""
    from generator.config import GeneratorConfig
    from generator.world import World

    return World(GeneratorConfig(seed=5, scale=1.0), START)


def dagster_instance():
    """The work folder's Dagster instance (DAGSTER_HOME set by `use_workdir`)."""
    from orchestration.cli import _ensure_dagster_home

    _ensure_dagster_home()
    return dg.DagsterInstance.get()


def run(args: argparse.Namespace, workdir: Path, save, prepared: dict | None = None) -> dict:
    """The set-up (or `prepared`, its figures when copied from `--setup-dir`), the timed daily run
    and the extras; `save(figures)` after each measured part (a later part that fails keeps the
    earlier figures)."""
    from benchmarks.memory import PeakMemory
    from jobs.settings import Settings
    from orchestration.cli import QUIET
    from orchestration.definitions import defs
    from orchestration.launch import execute_job_in_workspace, partition_tags
    from orchestration.resources import SparkResource

    day = START + dt.timedelta(days=args.history_days)
    settings = Settings.from_env()
    spark = SparkResource().session()
    figures: dict = {"records": args.records, "history_days": args.history_days,
                     "history_volume": args.history_volume, "cores": os.cpu_count(), "day": day.isoformat(),
                     "measured_on": dt.date.today().isoformat()}
    world, instance = generated_world(), dagster_instance()
    if prepared is None:
        prepared = prepare(spark, settings, args, workdir, world, instance)
    figures.update(history_seconds=prepared["history_seconds"], setup_seconds=prepared["setup_seconds"])
    config = world.config

    log(f"3/7 landing {args.records:,} records for {day}: {split(args.records)}")
    truth, written = land_day(config, world, Path(settings.landing_dir), day, split(args.records), args.file_rows)
    figures["landed"] = written
    if args.file_rows:
        figures["file_rows"] = args.file_rows

    log(f"4/7 the daily_pipeline job for {day} (in-process, one SparkSession)")
    job = defs.resolve_job_def("daily_pipeline")
    with PeakMemory() as memory, StepProgress(instance, "daily_pipeline"), PySpy(args.profile):
        began = time.perf_counter()
        done = execute_job_in_workspace(instance, "daily_pipeline", tags=partition_tags(job, [day.isoformat()]),
                                        run_config=QUIET)
        figures["daily_run_seconds"] = round(time.perf_counter() - began, 1)
    if not done.success:
        raise SystemExit(f"the daily run failed: run {done.run_id} in {instance.root_directory}")
    steps = step_seconds(instance, done.run_id)
    if args.profile:
        (args.profile / "steps.json").write_text(json.dumps(step_windows(instance, done.run_id), indent=1))
    stages: dict[str, float] = {}
    for key, seconds in steps.items():
        stages[stage_of(key)] = round(stages.get(stage_of(key), 0) + seconds, 1)
    figures.update(stage_seconds=stages, step_seconds=steps, **memory.figures())
    log(f"    {figures['daily_run_seconds']}s, peak {figures['peak_memory_gb']} GB "
        f"(PSS {figures['peak_memory_pss_gb']}: {figures['peak_memory_pss_gb_by_process']}, "
        f"{figures['python_workers_at_most']} Python workers at most); stages {stages}")

    week = day - dt.timedelta(days=day.weekday() + 7)
    log(f"5/7 the weekly price-surge and supply checks for the week of {week}")
    began = time.perf_counter()
    markets = execute_job_in_workspace(instance, "weekly_markets",
                                       tags=partition_tags(defs.resolve_job_def("weekly_markets"), [week.isoformat()]),
                                       run_config=QUIET)
    figures["weekly_markets_seconds"] = round(time.perf_counter() - began, 1)
    figures["weekly_markets_ok"] = markets.success
    save(figures)

    if args.train_rows:
        figures["training"] = training_benchmark(spark, settings, day, truth, args.train_rows, workdir)
        save(figures)
    if not args.no_baseline:
        figures["pandas"] = pandas_baseline(spark, settings, day, workdir)
        figures["ratio"] = ratios(figures)
    return figures


def training_benchmark(spark, settings, day: dt.date, truth, rows: int, workdir: Path) -> dict:
    """Train a declarations selector (fraud and critical models, default size) on `rows` of the
    day's features labelled with the generator's truth: the training time at that volume. The
    features go through a parquet file (not through the driver JVM); a day with fewer declarations
    than `rows` is repeated up to `rows` (the cost of growing trees is per row and feature)."""
    import pandas as pd

    from generator.silver import with_truth_labels
    from models.channels import SELECTORS
    from models.daily import day_features
    from models.train import TrainParams, train_selector

    selector = SELECTORS["declarations"]
    log(f"6/7 training a selector on {rows:,} labelled rows")
    staged = workdir / "training_features"
    day_features(spark, settings, selector, day).frame.limit(rows).write.mode("overwrite").parquet(str(staged))
    frame = pd.read_parquet(staged)
    labelled = with_truth_labels(frame, truth, selector.record_id)
    if len(labelled) < rows:
        labelled = pd.concat([labelled] * (rows // len(labelled) + 1), ignore_index=True)[:rows]
    cut = int(len(labelled) * 0.8)
    began = time.perf_counter()
    trained = train_selector(labelled[:cut], labelled[cut:], selector.feature_columns(list(frame.columns)),
                             TrainParams())
    seconds = round(time.perf_counter() - began, 1)
    log(f"    {len(labelled):,} rows x {len(trained.features)} features in {seconds}s "
        f"({trained.info.get('fraud_best_iteration')} trees)")
    return {"rows": len(labelled), "features": len(trained.features), "seconds": seconds,
            "fraud_trees": trained.info.get("fraud_best_iteration")}


def pandas_baseline(spark, settings, day: dt.date, workdir: Path) -> dict:
    """The plain script on the same day of declarations, with the history as one parquet file and
    the champion's fraud booster: its stage times and peak memory (its own process)."""
    from pyspark.sql import functions as F

    from models.channels import SELECTORS
    from models.day_targets import load_champion

    log("7/7 the plain pandas script on the same day of declarations")
    history = workdir / "baseline" / "history.parquet"
    history.parent.mkdir(parents=True, exist_ok=True)
    # written by Spark (one file, as a data scientist's history extract would be), not collected
    (spark.read.format("delta").load(str(settings.table_path("silver", "declarations")))
     .where(F.col("date") < F.lit(day)).drop("_row_hash", "_source_file", "_line_number", "_ingested_at")
     .coalesce(1).write.mode("overwrite").parquet(str(history)))
    booster = workdir / "baseline" / "fraud.ubj"
    booster.write_bytes(load_champion(SELECTORS["declarations"]).fraud)
    csvs = declaration_files(Path(settings.landing_dir), day.isoformat())
    stop_spark(spark)  # the script gets the machine as a data scientist's laptop would give it
    return run_pandas_script(csvs, history.parent, history.parent)


def run_pandas_script(csvs: list[Path], baseline: Path, work: Path) -> dict:
    """benchmarks/pandas_daily.py on the day's declarations files `csvs` with `baseline`'s
    history.parquet and fraud.ubj, its list, figures and log in `work`, under the memory watchdog."""
    command = [sys.executable, str(ROOT / "benchmarks" / "pandas_daily.py"), "--day-csv", *map(str, csvs), "--history",
               str(baseline / "history.parquet"), "--booster", str(baseline / "fraud.ubj"), "--out",
               str(work / "top.csv"), "--json", str(work / "result.json")]
    return run_with_memory_limit(command, work / "pandas.log", work / "result.json")


def stop_spark(spark) -> None:
    """Stop the session and its driver JVM, so that the memory it held is free again."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    if gateway is not None:
        gateway.shutdown()
        jvm = getattr(gateway, "proc", None)
        if jvm is not None:
            jvm.terminate()
            try:
                jvm.wait(timeout=60)
            except subprocess.TimeoutExpired:
                jvm.kill()
                jvm.wait()
    SparkContext._gateway = SparkContext._jvm = None  # a later session starts a new JVM


def run_with_memory_limit(command: list[str], log_path: Path, result_path: Path) -> dict:
    """Run the pandas script, sampling its resident memory; past the memory this machine has free
    (less 0.5 GB for the system) it is stopped and reported out of memory with the stage it was in,
    instead of letting the kernel's OOM killer pick a victim."""
    import psutil

    limit = psutil.virtual_memory().available - 2**29
    peak, out_of_memory = 0, False
    began = time.perf_counter()
    with log_path.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = watched.memory_info().rss
            except psutil.Error:
                break
            peak = max(peak, rss)
            if rss > limit:
                out_of_memory = True
                proc.kill()
                break
            time.sleep(0.1)
        proc.wait()
    wall = round(time.perf_counter() - began, 1)
    lines = log_path.read_text().splitlines()
    if out_of_memory:
        stages = [line.strip() for line in lines if line.startswith("  pandas ")]
        stage = stages[-1] if stages else "before its first stage"
        log(f"    the pandas script ran out of memory: {peak / 2**30:.2f} GB resident > the {limit / 2**30:.2f} GB "
            f"free, after {wall}s (last finished: {stage})")
        return {"failed": True, "out_of_memory": True, "memory_limit_gb": round(limit / 2**30, 2),
                "peak_memory_gb": round(peak / 2**30, 2), "last_finished": stage, "wall_seconds": wall}
    if proc.returncode != 0:
        tail = "\n".join(lines[-20:])
        log(f"    the pandas script failed ({proc.returncode}): {tail[-800:]}")
        return {"failed": True, "returncode": proc.returncode, "error": tail[-2000:], "wall_seconds": wall}
    result = json.loads(result_path.read_text())
    result.update(wall_seconds=wall, peak_memory_gb_sampled=round(peak / 2**30, 2))
    log(f"    {result['total_seconds']}s, peak {result['peak_memory_gb']} GB: {result['seconds']}")
    return result


def ratios(figures: dict) -> dict:
    """Lakehouse over pandas for the declarations of the day, stage by stage and end to end: land
    + validate vs read + validate, state + score + list vs profiles + score + write."""
    pandas, steps = figures["pandas"], figures["step_seconds"]
    if pandas.get("failed"):
        return {}
    ingest = steps.get("bronze__declarations_bronze", 0) + steps.get("validate_and_publish_declarations", 0)
    select = steps.get("state__declarations_entities", 0) + steps.get("gold__declarations_targets", 0)
    p = pandas["seconds"]
    return {
        "ingest_validate": round(ingest / max(p["read"] + p["validate"], 0.01), 1),
        "features_score_list": round(select / max(p["profiles"] + p["score"] + p["write"], 0.01), 1),
        "declarations_end_to_end": round((ingest + select) / max(pandas["total_seconds"], 0.01), 1),
    }


def readme_row(f: dict) -> str:
    """The README table's row for one result."""
    st = f["stage_seconds"]
    pandas = f.get("pandas", {})
    if pandas.get("out_of_memory"):
        baseline = f"out of memory ({pandas['peak_memory_gb']} GB > {pandas['memory_limit_gb']} GB free)"
    elif not pandas or pandas.get("failed"):
        baseline = "-"
    elif "peak_memory_gb_sampled" in pandas:
        baseline = f"{pandas['total_seconds']} s, {pandas['peak_memory_gb_sampled']} GB"
    else:  # an older result: ru_maxrss, which inherits the forking parent's size
        baseline = f"{pandas['total_seconds']} s, (memory not sampled)"
    ratio = f.get("ratio", {}).get("declarations_end_to_end")
    ratio = "-" if ratio is None else f"{ratio}x"
    files = f" (files of {f['file_rows']:,})" if f.get("file_rows") else ""
    pss = f" (PSS {f['peak_memory_pss_gb']})" if "peak_memory_pss_gb" in f else ""
    return (f"| {f['records']:,}{files} | {f['history_days']} days | **{f['daily_run_seconds']} s** | "
            f"{st.get('land')} | {st.get('validate')} | {st.get('state')} | {st.get('score_and_lists')} | "
            f"{st.get('feedback')} | {st.get('dashboard')} | {f['peak_memory_gb']} GB{pss} | "
            f"{f['weekly_markets_seconds']} s | {baseline} | {ratio} | {f['measured_on']} |")


def print_table(folder: Path) -> None:
    """The README table from every result in `folder`."""
    results = []
    for path in sorted(folder.glob("daily_run-*.json")):
        if not path.stem.endswith("-profiled"):
            figures = json.loads(path.read_text())
            # results written before the date was recorded: the file's own date
            figures.setdefault("measured_on", dt.date.fromtimestamp(path.stat().st_mtime).isoformat())
            results.append(figures)
    for f in sorted(results, key=lambda f: (f["history_days"], f["records"])):
        print(readme_row(f))


def summary(figures: dict) -> str:
    """One readable paragraph of the figures."""
    stages = ", ".join(f"{k} {v}s" for k, v in figures["stage_seconds"].items())
    lines = [f"{figures['records']:,} records after {figures['history_days']} days of history: daily run "
             f"{figures['daily_run_seconds']}s ({stages}), peak memory {figures['peak_memory_gb']} GB; weekly "
             f"markets {figures['weekly_markets_seconds']}s"]
    if "training" in figures:
        t = figures["training"]
        lines.append(f"training on {t['rows']:,} labelled rows: {t['seconds']}s")
    if figures.get("pandas", {}).get("out_of_memory"):
        lines.append(f"pandas script (declarations only): out of memory at {figures['pandas']['peak_memory_gb']} GB "
                     f"resident ({figures['pandas']['memory_limit_gb']} GB free)")
    elif "pandas" in figures and not figures["pandas"].get("failed"):
        lines.append(f"pandas script (declarations only): {figures['pandas']['total_seconds']}s, "
                     f"{figures['pandas']['peak_memory_gb']} GB; lakehouse / pandas: {figures['ratio']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
