"""Ingestion benchmark on the public KCS sample: split it into daily landing files, then land,
validate and MERGE each day; prints per-day figures and a summary, writes JSON.

    .venv/bin/python benchmarks/ingest_kcs.py --days 10
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "kcs" / "declarations_2020-01_2020-12.csv"


def split_by_date(source: Path, landing: Path, days: int) -> dict[str, int]:
    """Write the first `days` dates of a KCS CSV as landing/declarations/<date>/kcs.csv."""
    with source.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        by_day: dict[str, list[list[str]]] = defaultdict(list)
        for row in reader:
            by_day[row[1]].append(row)
    counts = {}
    for day in sorted(by_day)[:days]:
        folder = landing / "declarations" / day
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "kcs.csv").open("w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(by_day[day])
        counts[day] = len(by_day[day])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--mode", choices=["day", "range"], default="day",
                        help="one batch per day (daily runs) or one batch for all days (a backfill run)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"KCS sample not found at {args.source}")

    work = Path(tempfile.mkdtemp(prefix="kcs-bench-"))
    os.environ.update({"CUSTOMS_LANDING_DIR": str(work / "landing"), "CUSTOMS_LAKE_DIR": str(work / "lake"),
                       "CUSTOMS_GX_DIR": str(work / "gx")})
    from expectations.runner import GxValidator
    from jobs.ingest import land_bronze, refine_silver
    from jobs.settings import Settings
    from jobs.sources import DECLARATIONS
    from jobs.spark_session import build_spark_session

    settings = Settings.from_env()
    counts = split_by_date(args.source, settings.landing_dir, args.days)
    print(f"split {sum(counts.values())} rows into {len(counts)} daily landing files under {work}", flush=True)
    began = time.perf_counter()
    spark = build_spark_session(settings, app_name="bench-ingest")
    startup = time.perf_counter() - began
    per_day = []
    batches = [[day] for day in counts] if args.mode == "day" else [list(counts)]
    for i, batch in enumerate(batches, start=1):
        days = [dt.date.fromisoformat(d) for d in batch]
        day = batch[0] if len(batch) == 1 else f"{batch[0]}..{batch[-1]}"
        t0 = time.perf_counter()
        bronze = land_bronze(spark, DECLARATIONS, settings, days)
        t1 = time.perf_counter()
        result = refine_silver(spark, DECLARATIONS, settings, days, GxValidator(settings.gx_dir))
        t2 = time.perf_counter()
        per_day.append({"day": day, "rows": bronze.rows, "bronze_s": round(t1 - t0, 2),
                        "silver_s": round(t2 - t1, 2), "valid": result.valid_rows,
                        "quarantined": result.quarantined, "reconciles": result.reconciles})
        print(f"  [{i}/{len(batches)}] {day}: {bronze.rows} rows, bronze {t1 - t0:.1f}s, "
              f"silver+quarantine {t2 - t1:.1f}s, quarantined {result.quarantined}", flush=True)
    total_rows = sum(d["rows"] for d in per_day)
    pipeline_s = sum(d["bronze_s"] + d["silver_s"] for d in per_day)
    summary = {
        "source": str(args.source), "mode": args.mode, "days": len(counts), "batches": len(per_day),
        "rows": total_rows,
        "spark_startup_s": round(startup, 1), "pipeline_s": round(pipeline_s, 1),
        "rows_per_s": round(total_rows / pipeline_s, 1) if pipeline_s else None,
        "mean_batch_s": round(pipeline_s / len(per_day), 2) if per_day else None,
        "all_reconcile": all(d["reconciles"] for d in per_day), "per_day": per_day,
        "cores": os.cpu_count(), "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out = args.out or ROOT / "benchmarks" / "results" / f"ingest_kcs_{args.mode}.json"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\n{total_rows} rows over {len(counts)} days in {len(per_day)} batch(es), {pipeline_s:.1f}s "
          f"({summary['rows_per_s']} rows/s, {summary['mean_batch_s']}s per batch; Spark start {startup:.1f}s); "
          f"all days reconcile: {summary['all_reconcile']}\nresults: {args.out}\nlake: {work / 'lake'}")


if __name__ == "__main__":
    main()
