"""Ingestion at national volume: one generated day of --rows records per source landed into
bronze (parsed on the executors), validated with the GX suite, MERGEd into silver and quarantined;
a small day before it (the fixed cost of a daily run) and a month's backfill as one run after.
Prints stage times and the peak memory of the whole process tree, writes JSON.

    .venv/bin/python benchmarks/ingest_day.py                      # 1,000,000 declarations + express
    .venv/bin/python benchmarks/ingest_day.py --rows 200000 --sources express
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.memory import PeakMemory  # noqa: E402
from generator import channels  # noqa: E402
from generator.config import GeneratorConfig  # noqa: E402
from generator.world import World  # noqa: E402
from generator.writer import land_rows  # noqa: E402

DAY = dt.date(2024, 3, 5)
MAKERS = {"declarations": channels.declarations, "express": channels.express, "mail": channels.mail}


def log(message: str) -> None:
    print(message, flush=True)


def land_generated(world: World, config: GeneratorConfig, landing: Path, source: str, day: dt.date,
                   rows: int) -> int:
    """Write one generated day of `source` (with the generator's usual damaged rows) as a landing
    file; returns the records written."""
    rng = np.random.default_rng([config.seed, 7, day.toordinal(), rows])
    batch = MAKERS[source](world, day, rows, config.rates, rng)
    return land_rows(source, batch.rows, landing / source / day.isoformat() / f"{source}-{day}.csv",
                     config.rates.bad_rows, rng)


def write_landing(args: argparse.Namespace, landing: Path, small_day: dt.date, big_day: dt.date,
                  backfill: list[dt.date], backfill_source: str) -> None:
    """Write the small day, the big day and the backfill days as landing files (not timed)."""
    config = GeneratorConfig(seed=args.seed)
    world = World(config, DAY - dt.timedelta(days=60))
    log(f"writing landing files under {landing} ...")
    began = time.perf_counter()
    for source in args.sources:
        land_generated(world, config, landing, source, small_day, args.small_rows)
        n = land_generated(world, config, landing, source, big_day, args.rows)
        log(f"  {source}: {n} records for {big_day}")
    for i, day in enumerate(backfill, start=1):
        land_generated(world, config, landing, backfill_source, day, args.backfill_rows_per_day)
        if i % 10 == 0 or i == len(backfill):
            log(f"  {backfill_source} backfill: {i}/{len(backfill)} days written")
    log(f"landing files written in {time.perf_counter() - began:.0f}s (not part of the figures)")


def ingest(spark, settings, source: str, days: list[dt.date]) -> dict:
    """Land, validate and publish `days` of `source` as one run; stage times and counts."""
    from expectations.runner import GxValidator
    from jobs.ingest import land_bronze, refine_silver
    from jobs.sources import SOURCES

    spec = SOURCES[source]
    t0 = time.perf_counter()
    bronze = land_bronze(spark, spec, settings, days)
    t1 = time.perf_counter()
    result = refine_silver(spark, spec, settings, days, GxValidator(settings.gx_dir), max_quarantine_share=None)
    t2 = time.perf_counter()
    return {"rows": bronze.rows, "files": len(bronze.files), "bronze_s": round(t1 - t0, 2),
            "silver_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2), "valid": result.valid_rows,
            "quarantined": result.quarantined, "reconciles": result.reconciles,
            "rows_per_s": round(bronze.rows / (t2 - t0)) if t2 > t0 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records of the big day, per source")
    parser.add_argument("--sources", nargs="+", default=["declarations", "express"], choices=sorted(MAKERS))
    parser.add_argument("--small-rows", type=int, default=200, help="records of the small day (fixed cost)")
    parser.add_argument("--backfill-days", type=int, default=30, help="0: no backfill")
    parser.add_argument("--backfill-rows-per-day", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--driver-memory", default=None,
                        help="Spark driver heap for this run (e.g. 1500m; default: the project's, 4g)")
    parser.add_argument("--driver-java-options", default=None,
                        help="the driver JVM's options instead of the project's (-XX:+UseParallelGC), e.g. "
                             "--driver-java-options=-XX:+UseG1GC to compare collectors")
    parser.add_argument("--no-worker-reuse", action="store_true",
                        help="a fresh Python worker for each Spark task (spark.python.worker.reuse=false): an idle "
                             "worker otherwise keeps ~0.5 GB while the JVM validates and merges the day")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest_day.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ingest-day-"))
    os.environ.update({"CUSTOMS_LANDING_DIR": str(work / "landing"), "CUSTOMS_LAKE_DIR": str(work / "lake"),
                       "CUSTOMS_GX_DIR": str(work / "gx")})
    from jobs.settings import parse_spark_conf
    conf = parse_spark_conf(os.environ.get("CUSTOMS_SPARK_CONF", ""))
    if args.driver_memory:
        conf["spark.driver.memory"] = args.driver_memory
    if args.driver_java_options:
        conf["spark.driver.extraJavaOptions"] = args.driver_java_options
    if args.no_worker_reuse:
        conf["spark.python.worker.reuse"] = "false"
    os.environ["CUSTOMS_SPARK_CONF"] = json.dumps(conf)
    from jobs.settings import Settings
    from jobs.spark_session import build_spark_session

    settings = Settings.from_env()
    small_day, big_day = DAY - dt.timedelta(days=1), DAY
    backfill = [DAY + dt.timedelta(days=1 + i) for i in range(args.backfill_days)]
    backfill_source = args.sources[0]
    # In a child process that ends before Spark starts: the generator's memory is not the pipeline's.
    writer = multiprocessing.get_context("fork").Process(
        target=write_landing, args=(args, settings.landing_dir, small_day, big_day, backfill, backfill_source))
    writer.start()
    writer.join()
    if writer.exitcode:
        raise SystemExit(f"writing the landing files failed (exit code {writer.exitcode})")

    began = time.perf_counter()
    spark = build_spark_session(settings, app_name="bench-ingest-day")
    startup_s = time.perf_counter() - began
    results: dict[str, dict] = {}
    for source in args.sources:
        small = ingest(spark, settings, source, [small_day])
        log(f"{source} small day ({small['rows']} rows): {small['total_s']}s "
            f"(bronze {small['bronze_s']}s, silver+quarantine {small['silver_s']}s)")
        with PeakMemory() as memory:
            big = ingest(spark, settings, source, [big_day])
        big.update(memory.figures(unit=1e9))
        log(f"{source} big day ({big['rows']} rows): {big['total_s']}s (bronze {big['bronze_s']}s, "
            f"silver+quarantine {big['silver_s']}s), {big['rows_per_s']} rows/s, peak memory "
            f"{big['peak_memory_gb']} GB at {big['peak_at_s']}s {big['peak_memory_gb_at_peak']} "
            f"(each kind's own peak {big['peak_memory_gb_by_process']}) "
            f"(PSS {big['peak_memory_pss_gb']} GB), reconciles {big['reconciles']}")
        results[source] = {"small_day": small, "big_day": big}
    month = None
    if backfill:
        with PeakMemory() as memory:
            month = ingest(spark, settings, backfill_source, backfill)
        month.update(memory.figures(unit=1e9))
        log(f"{backfill_source} backfill of {len(backfill)} days as one run ({month['rows']} rows): "
            f"{month['total_s']}s (bronze {month['bronze_s']}s, silver+quarantine {month['silver_s']}s), "
            f"{month['rows_per_s']} rows/s, peak memory {month['peak_memory_gb']} GB")
    summary = {
        "rows_per_big_day": args.rows, "sources": results,
        "backfill": {"source": backfill_source, "days": len(backfill), **month} if month else None,
        "spark_startup_s": round(startup_s, 1), "cores": os.cpu_count(),
        "spark_master": os.environ.get("CUSTOMS_SPARK_MASTER", "local[2]"),
        "spark_driver_memory": spark.conf.get("spark.driver.memory"),
        "spark_driver_java_options": spark.conf.get("spark.driver.extraJavaOptions", ""),
        "driver_gc": sorted(b.getName() for b in
                            spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()),
        "python_worker_reuse": spark.conf.get("spark.python.worker.reuse", "true"),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    days = ", ".join(f"{s} {r['big_day']['rows']} rows in {r['big_day']['total_s']}s" for s, r in results.items())
    backfilled = f"; backfill {month['rows_per_s']} rows/s" if month else ""
    log(f"\nsummary: {days}{backfilled}\nresults: {args.out}\nlake: {work / 'lake'}")


if __name__ == "__main__":
    main()
