"""`customs-risk`: generate sample landing files, run the daily pipeline, run the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from jobs.settings import (
    POSTGRES_DRIVER,
    PROJECT_ROOT,
    PostgresServer,
    Settings,
    dagster_database,
    default_dagster_home,
    default_tracking_uri,
    profile,
    without_password,
)
from jobs.storage import local_path

# The console shows progress lines from this command; Dagster's own log goes to the run history.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bar per model loaded


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from err


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise SystemExit(f"--to {end} is before --from {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _ensure_dagster_home() -> Path:
    """Keep run history in DAGSTER_HOME (default .dagster_home/ in the project) so the UI shows it."""
    require_prod_secrets()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))
    home.mkdir(parents=True, exist_ok=True)
    ensure_instance_config(home / "dagster.yaml")
    return home


def ensure_instance_config(config: Path) -> None:
    """Give the instance the project's settings (`orchestration/dagster.yaml`): a new file is a
    copy; an existing one without a `concurrency:` section gets that section appended, keeping
    whatever else it configures (storage, run coordinator); in the prod profile a file without a
    `storage:` section gets the PostgreSQL one."""
    project = Path(__file__).with_name("dagster.yaml").read_text()
    current = config.read_text() if config.exists() else project
    if "concurrency:" not in current:
        current = current.rstrip("\n") + "\n" + project[project.index("concurrency:"):]
    if profile() == "prod" and "storage:" not in current:
        current = current.rstrip("\n") + "\n" + postgres_storage_section()
    if not config.exists() or config.read_text() != current:
        config.write_text(current)


def postgres_storage_section() -> str:
    """The prod profile's instance storage: runs, event logs and schedules in PostgreSQL. Host,
    port, role and database are written from the environment (PGHOST, PGPORT, PGUSER,
    CUSTOMS_DAGSTER_DB); the password stays a reference to PGPASSWORD, read when Dagster starts."""
    server = PostgresServer.from_env()
    return (
        "# The prod profile (CUSTOMS_ENV=prod): run history in PostgreSQL; the password only from PGPASSWORD.\n"
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {server.host}\n      port: {server.port}\n      username: {server.user}\n"
        "      password:\n        env: PGPASSWORD\n"
        f"      db_name: {dagster_database()}\n"
        f"      scheme: {POSTGRES_DRIVER}\n"
    )


def require_prod_secrets() -> None:
    """Stop with the variable to set when the prod profile lacks its database password (rather
    than a driver's authentication error deep inside a run)."""
    if profile() == "prod" and not os.environ.get("PGPASSWORD"):
        raise SystemExit("CUSTOMS_ENV=prod: set PGPASSWORD (the PostgreSQL password of PGUSER) in the environment")


def generate(start: dt.date, days: int, scale: float, seed: int, bad_rate: float | None = None,
             workers: int | None = None) -> dict:
    """Write `days` days of landing files for every source from `start` (and the ground truth
    beside them); returns the generator's summary."""
    from dataclasses import replace

    from generator.config import GeneratorConfig, Rates
    from generator.run import generate as generate_files

    settings = Settings.from_env()
    rates = Rates() if bad_rate is None else replace(Rates(), bad_rows=bad_rate)
    config = GeneratorConfig(seed=seed, scale=scale, rates=rates)
    # The generator writes local files (it stands in for the senders); the pipeline reads any URI.
    summary = generate_files(config, start, days, local_path(settings.landing_dir), settings.truth_dir,
                             progress=lambda line: print(line, flush=True), workers=workers)
    per_source = ", ".join(f"{k} {v}" for k, v in sorted(summary["rows"].items()))
    print(f"generated {summary['total_rows']} rows in {summary['seconds']}s "
          f"({summary['rows_per_second']} rows/s, {summary['workers']} worker(s)): {per_source}")
    print(f"landing files under {settings.landing_dir}; ground truth (never read by the pipeline) under "
          f"{settings.truth_dir}")
    return summary


def held_by_gate_only(result) -> bool:
    """Whether a failed run failed only because the quality gate held days back (every failed step
    is a failed blocking check, and every failed check is the quarantine-share gate)."""
    failures = [e for e in result.all_events if e.is_step_failure]
    errors = [e.event_specific_data.error for e in failures]
    checks = [c for c in result.get_asset_check_evaluations() if not c.passed and c.severity.value == "ERROR"]
    return (bool(failures) and all(err and err.cls_name == "DagsterAssetCheckFailedError" for err in errors)
            and bool(checks) and all(c.check_name == "quarantine_share_below_threshold" for c in checks))


def run(days: list[dt.date], per_day: bool = False, job_name: str = "daily_pipeline",
        tolerate_held: bool = False) -> int:
    """Materialize the job's assets for `days`, in-process on one SparkSession: one run over the
    whole range (Dagster single-run backfill), or one run per day with `per_day`. Returns failed
    runs; with `tolerate_held`, a run whose only failure is the quality gate holding days back
    (the gate doing its job on generated data) is reported but not counted."""
    _ensure_dagster_home()
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.launch import execute_job_in_workspace, partition_tags

    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def(job_name)
    batches = [[d] for d in days] if per_day or len(days) == 1 else [days]
    failed = 0
    for i, batch in enumerate(batches, start=1):
        began = time.perf_counter()
        label = str(batch[0]) if len(batch) == 1 else f"{batch[0]}..{batch[-1]}"
        tags = partition_tags(job, [d.isoformat() for d in batch])
        result = execute_job_in_workspace(instance, job_name, tags=tags, run_config=QUIET)
        held = not result.success and held_by_gate_only(result)
        failed += 0 if result.success or (held and tolerate_held) else 1
        status = "ok" if result.success else ("HELD by the quality gate" if held else "FAILED")
        print(f"  [{i}/{len(batches)}] {job_name} {label}: {status} in {time.perf_counter() - began:.1f}s "
              f"(run {result.run_id})", flush=True)
        for line in _summarize(result):
            print(f"      {line}", flush=True)
    return failed


def _summarize(result) -> list[str]:
    """One line per silver table (its partitions summed) and target list, and every failure with
    its reason."""
    parts = []
    seen = set()
    silver: dict[str, dict[str, int]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = mat.metadata
        if "rows_read" in meta:
            totals = silver.setdefault(mat.asset_key.to_user_string(), {})
            for name in ("rows_read", "valid_rows", "quarantined", "duplicates_skipped", "superseded"):
                totals[name] = totals.get(name, 0) + int(meta[name].value)
        elif "rows_by_week" in meta and mat.asset_key not in seen:
            seen.add(mat.asset_key)
            weeks = meta["rows_by_week"].value
            parts.append(f"{mat.asset_key.to_user_string()}: {sum(weeks.values())} rows over {len(weeks)} week(s) "
                         f"-> {meta['path'].value if 'path' in meta else ''}")
        elif "headline" in meta and mat.asset_key not in seen:
            seen.add(mat.asset_key)
            parts.append(f"KPI dashboard as of {meta['as_of'].value} ({meta['size_mb'].value} MB) "
                         f"-> {meta['path'].value}")
        elif "csv" in meta and mat.asset_key not in seen:
            seen.add(mat.asset_key)
            parts.append(f"{mat.asset_key.to_user_string()} ({meta['model'].value}): {meta['records'].value} records, "
                         f"red {meta['red'].value}, yellow {meta['yellow'].value}, overflow {meta['overflow'].value}"
                         f" -> {meta['csv'].value}")
    parts[:0] = [f"{key}: read {t['rows_read']}, valid {t['valid_rows']}, quarantined {t['quarantined']}, "
                 f"duplicates {t['duplicates_skipped']}, superseded {t['superseded']}" for key, t in silver.items()]
    for check in result.get_asset_check_evaluations():
        if not check.passed and (check.asset_key, check.check_name) not in seen:
            seen.add((check.asset_key, check.check_name))
            shown = getattr(check, "description", None) or {k: v.value for k, v in check.metadata.items()
                                                              if k not in ("gx_report", "by_day")}
            level = "WARNING" if check.severity.value == "WARN" else "CHECK FAILED"
            parts.append(f"{level} {check.asset_key.to_user_string()}:{check.check_name}: {shown}")
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            parts.append(f"FAILED {event.step_key}: {(error.message if error else '').strip().splitlines()[0]}")
    return parts


def print_locations(list_day: dt.date | None = None) -> None:
    """Where the outputs of a run are (and the target lists of `list_day`)."""
    s = Settings.from_env()
    print("\nWhere things are:")
    print(f"  landing files      {s.landing_dir}/<source>/<YYYY-MM-DD>/*.csv")
    print(f"  Delta tables       {s.lake_dir}/<bronze|silver|quarantine|state|gold>/<table>")
    print(f"  silver             {s.table_path('silver', 'declarations')}")
    print(f"  quarantine         {s.table_path('quarantine', 'declarations')}")
    print(f"  target lists       {s.table_path('gold', 'targets')}  (all days; feedback: gold/selection_performance)")
    if list_day is not None:
        folder = s.publish_dir / "targets" / list_day.isoformat()
        for channel in ("declarations", "express", "mail"):
            if (folder / f"{channel}.csv").exists():
                print(f"  {list_day} {channel:<12} {folder / f'{channel}.csv'}  (+ .parquet)")
    print(f"  price checks       {s.publish_dir / 'prices'}/<week>/price_index.csv, price_surges.csv "
          "(gold/price_index, gold/price_surges)")
    print(f"  supply warning     {s.publish_dir / 'supply'}/<week>/supply_metrics.csv, supply_alerts.csv "
          "(gold/supply_metrics, gold/supply_alerts)")
    if list_day is not None:
        week = list_day - dt.timedelta(days=list_day.weekday())
        if list_day.weekday() != 6:
            week -= dt.timedelta(weeks=1)  # the last complete week
        for folder in (s.publish_dir / "prices" / week.isoformat(), s.publish_dir / "supply" / week.isoformat()):
            if folder.is_dir():
                print(f"  week of {week}    {folder}/")
    print(f"  KPI dashboard      {s.publish_dir / 'dashboard' / 'index.html'}  (one offline page; make dashboard "
          "rebuilds it)")
    print(f"  validation report  {s.gx_dir}/gx/uncommitted/data_docs/local_site/index.html")
    history = f"PostgreSQL database {dagster_database()}" if profile() == "prod" else os.environ.get("DAGSTER_HOME")
    print(f"  run history        {history}  (make ui -> http://127.0.0.1:3000)")


def train_command() -> int:
    """Run the weekly training job in-process; print the model version and the promotion decision."""
    _ensure_dagster_home()
    import dagster as dg

    from orchestration.launch import execute_job_in_workspace

    os.environ.setdefault("MLFLOW_TRACKING_URI", default_tracking_uri())
    print("rebuilding feature tables and training the selectors (declarations, express, mail) ...", flush=True)
    result = execute_job_in_workspace(dg.DagsterInstance.get(), "weekly_training", run_config=QUIET)
    for event in result.get_asset_materialization_events():
        key = "/".join(event.asset_key.path)
        meta = event.event_specific_data.materialization.metadata
        if "model_version" in meta:
            print(f"  {key} version {meta['model_version'].value}: promoted={meta['promoted_to_champion'].value}, "
                  f"precision@5% {meta['precision_at_0.05'].value}, precision@10% {meta['precision_at_0.1'].value} "
                  f"on {meta['n_eval'].value} records of {meta['evaluation_window'].value} "
                  f"({meta['gate_reason'].value})")
        else:
            print(f"  {key}: {meta['rows'].value} rows x {meta['features'].value} features -> {meta['path'].value}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"  FAILED: {event.event_specific_data.error.message.strip()}")
    print(f"MLflow: {without_password(default_tracking_uri())}  (make mlflow-ui -> "
          "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning)")
    return 0 if result.success else 1


def evaluate_command(args: argparse.Namespace) -> int:
    """Run the benchmark contract and print one JSON object to stdout (progress to stderr)."""
    import json

    from jobs.spark_session import build_spark_session
    from models.evaluate import CRITICAL_SHARE, evaluate

    rates = [float(r) for r in args.rates.split(",")]
    spark = build_spark_session(Settings.from_env(), app_name="customs-risk-evaluate")
    share = CRITICAL_SHARE if args.critical_share is None else args.critical_share
    report, _ = evaluate(spark, args.train, args.valid, args.test, rates, share, label_lag_days=args.label_lag_days)
    print(json.dumps(report))
    return 0


def complete_weeks(first: dt.date, last: dt.date) -> list[dt.date]:
    """The Mondays of the Monday-Sunday weeks that lie wholly within `first`..`last`."""
    monday = first + dt.timedelta(days=-first.weekday() % 7)
    weeks = []
    while monday + dt.timedelta(days=6) <= last:
        weeks.append(monday)
        monday += dt.timedelta(weeks=1)
    return weeks


def demo(start: dt.date, days: int, seed: int, list_days: int) -> int:
    """Generate `days` days, ingest all but the last `list_days`, train the selectors on what is
    known by then, and run the whole daily pipeline (ingestion, state, target lists, feedback) for
    the last `list_days`: the selectors never score days whose labels they were trained on."""
    began = time.perf_counter()
    all_days = _days(start, start + dt.timedelta(days=days - 1))
    history, scored = all_days[:-list_days], all_days[-list_days:]
    print("1/5 generating sample landing files", flush=True)
    generate(start, days, 1.0, seed)
    print(f"2/5 ingesting {len(history)} day(s) of history ({history[0]}..{history[-1]})", flush=True)
    # A generated day can cross the quarantine threshold (a 60-row delivery with 4 bad rows): the
    # gate holds it and says so above; the demo goes on with the days that were published.
    failed = run(history, job_name="ingestion", tolerate_held=True)
    print("3/5 training the selectors on the labels known so far", flush=True)
    failed += train_command()
    print(f"4/5 the daily pipeline for {scored[0]}..{scored[-1]}: ingestion, entity state, target lists", flush=True)
    failed += run(scored)
    weeks = complete_weeks(all_days[0], all_days[-1])
    if weeks:
        print(f"5/5 the weekly price-surge checks and supply early warning for {len(weeks)} week(s) "
              f"({weeks[0]}..{weeks[-1]})", flush=True)
        failed += run(weeks, job_name="weekly_markets")
        # As the `dashboard_after_weekly_checks` sensor does: the page shows the new week's alerts.
        failed += run([scored[-1]], job_name="kpi_dashboard")
    print(f"demo finished in {time.perf_counter() - began:.1f}s: {days} day(s), {failed} failure(s)")
    print_locations(scored[-1])
    return 1 if failed else 0


def backtest_command(args: argparse.Namespace) -> int:
    """Replay generated weeks with only the selected labels revealed; print the table, save JSON and PNG."""
    from jobs.spark_session import build_spark_session
    from models.backtest import BacktestConfig, log_stderr, run_backtest, write_report

    config = BacktestConfig(channel=args.channel, weeks=args.weeks, warmup_weeks=args.warmup_weeks, rate=args.rate,
                            exploration=args.exploration, seed=args.seed, scale=args.scale)
    began = time.perf_counter()
    spark = build_spark_session(Settings.from_env(), app_name="customs-risk-backtest")
    log_stderr(f"backtest {config.channel}: {config.warmup_weeks} warm-up week(s) + {config.weeks} replayed, "
               f"inspect {config.rate:.1%}, exploration {config.exploration:.0%}, seed {config.seed}")
    result = run_backtest(spark, config, log_stderr)
    table = result.weekly.pivot(index="week", columns="policy", values="hit_rate")
    print("hit rate per week (hits / inspections):")
    print(table.to_string())
    print("\nover the replayed weeks:")
    for policy, summary in result.summary.items():
        print(f"  {policy:<13} hit rate {summary['hit_rate']:.3f}  "
              f"duty recovered {summary['duty_recovered_krw']:,.0f} KRW  critical finds {summary['critical_finds']}  "
              f"fraud never seen {summary['fraud_never_seen']:.1%}")
    json_path, chart = write_report(result, config, Path(args.out))
    print(f"\nbacktest finished in {time.perf_counter() - began:.0f}s: {json_path} and {chart}")
    return 0


def check_detectors_command(args: argparse.Namespace) -> int:
    """Generate a year of declarations, run the price-surge and supply detectors on it, score them
    against the generator's events; one JSON object on stdout, progress on stderr."""
    import json

    from jobs.spark_session import build_spark_session
    from models.detector_check import CheckConfig, check_detectors

    spark = build_spark_session(Settings.from_env(), app_name="customs-risk-check-detectors")
    report = check_detectors(spark, CheckConfig(weeks=args.weeks, seed=args.seed, scale=args.scale))
    print(json.dumps(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `customs-risk` console command."""
    parser = argparse.ArgumentParser(prog="customs-risk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write seeded sample landing files")
    gen.add_argument("--start", type=_date, required=True)
    gen.add_argument("--days", type=int, default=3)
    gen.add_argument("--scale", type=float, default=1.0,
                     help="volume multiplier (1.0 = 200 declarations, 600 parcels, 150 mail items a weekday)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--bad-rate", type=float, default=None, help="share of deliberately broken rows (0.01)")
    gen.add_argument("--workers", type=int, default=None,
                     help="processes generating days in parallel (default: one per core for large runs)")

    run_p = sub.add_parser("run", help="materialize every asset for one day or a range of days")
    run_p.add_argument("--date", type=_date)
    run_p.add_argument("--from", dest="start", type=_date)
    run_p.add_argument("--to", dest="end", type=_date)
    run_p.add_argument("--per-day", action="store_true", help="one run per day instead of one run for the range")
    run_p.add_argument("--ingest-only", action="store_true",
                       help="land and validate only (the `ingestion` job): no state, scores or lists")

    demo_p = sub.add_parser("demo", help="generate sample data and run the pipeline on it")
    demo_p.add_argument("--start", type=_date, default=dt.date(2024, 3, 4))
    demo_p.add_argument("--days", type=int, default=28)
    demo_p.add_argument("--seed", type=int, default=42)
    demo_p.add_argument("--list-days", type=int, default=3,
                      help="the last N days run the whole daily pipeline (target lists) after training")

    ev = sub.add_parser("evaluate", help="train the declarations selector on KCS-schema CSVs and score a test file")
    ev.add_argument("--train", nargs="+", required=True)
    ev.add_argument("--valid", required=True)
    ev.add_argument("--test", required=True)
    ev.add_argument("--rates", default="0.01,0.02,0.05,0.1")
    ev.add_argument("--critical-share", type=float, default=None,
                    help="share of capacity the published ranking reserves for critical scores (0.2)")
    ev.add_argument("--label-lag-days", type=int, default=0,
                    help="days after its declaration a training label may feed a profile (0: the next day)")

    sub.add_parser("train", help="run the weekly_training job now (train, register, promote)")

    bt = sub.add_parser("backtest", help="replay generated weeks revealing only the selected labels; compare "
                        "legacy rules, exploitation and the hybrid policy")
    bt.add_argument("--channel", choices=["declarations", "express", "mail"], default="declarations")
    bt.add_argument("--weeks", type=int, default=8)
    bt.add_argument("--warmup-weeks", type=int, default=2, help="weeks selected by the legacy rules first")
    bt.add_argument("--rate", type=float, default=0.05, help="inspection rate")
    bt.add_argument("--exploration", type=float, default=0.1, help="share of capacity explored (hybrid)")
    bt.add_argument("--seed", type=int, default=7)
    bt.add_argument("--scale", type=float, default=1.0)
    bt.add_argument("--out", default=str(PROJECT_ROOT / "benchmarks" / "results"))

    mk = sub.add_parser("markets", help="run the weekly price-surge checks and supply early warning for the "
                        "complete weeks (Monday-Sunday) within --from..--to")
    mk.add_argument("--from", dest="start", type=_date, required=True)
    mk.add_argument("--to", dest="end", type=_date, required=True)

    det = sub.add_parser("check-detectors", help="measure the price-surge and supply-shock detectors on generated "
                         "weeks against the injected events (JSON on stdout)")
    det.add_argument("--weeks", type=int, default=52)
    det.add_argument("--seed", type=int, default=7)
    det.add_argument("--scale", type=float, default=20.0,
                     help="x 200 declarations a weekday (20: about 1.1M declarations a year)")

    args = parser.parse_args(argv)
    if args.command == "check-detectors":
        return check_detectors_command(args)
    if args.command == "markets":
        weeks = complete_weeks(args.start, args.end)
        if not weeks:
            parser.error(f"no complete Monday-Sunday week within {args.start}..{args.end}")
        failed = run(weeks, job_name="weekly_markets")
        failed += run([weeks[-1] + dt.timedelta(days=6)], job_name="kpi_dashboard")  # the new alerts on the page
        print_locations(None)
        return 1 if failed else 0
    if args.command == "train":
        return train_command()
    if args.command == "backtest":
        return backtest_command(args)
    if args.command == "evaluate":
        return evaluate_command(args)
    if args.command == "generate":
        generate(args.start, args.days, args.scale, args.seed, args.bad_rate, args.workers)
        return 0
    if args.command == "run":
        if args.date and (args.start or args.end):
            parser.error("use --date or --from/--to, not both")
        if args.date:
            days = [args.date]
        elif args.start and args.end:
            days = _days(args.start, args.end)
        else:
            parser.error("give --date D or --from D1 --to D2")
        began = time.perf_counter()
        job_name = "ingestion" if args.ingest_only else "daily_pipeline"
        print(f"running {job_name} for {len(days)} day(s)", flush=True)
        failed = run(days, per_day=args.per_day, job_name=job_name)
        print(f"done: {len(days)} day(s), {failed} failed run(s) in {time.perf_counter() - began:.1f}s")
        print_locations(None if args.ingest_only else days[-1])
        return 1 if failed else 0
    if args.command == "demo":
        return demo(args.start, args.days, args.seed, args.list_days)
    return 2


if __name__ == "__main__":
    sys.exit(main())
