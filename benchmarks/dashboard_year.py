"""The KPI dashboard over a year of data: its size and its first paint in headless Chromium.

    .venv/bin/python -m benchmarks.dashboard_year [--days 365] [--out benchmarks/results/dashboard_year.json]

Generates a year of silver (declarations, express, mail and their inspection results, written
straight into silver by `generator.silver`), a year of feedback rows, builds the KPI tables and the
page, opens it with the network cut off and reads the browser's own paint timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pyspark.sql import functions as F

from jobs.settings import PROJECT_ROOT, Settings
from jobs.spark_session import build_spark_session

START = dt.date(2023, 4, 3)


def log(line: str) -> None:
    """Progress on stderr."""
    print(line, file=sys.stderr, flush=True)


def first_paint_ms(page_path: Path) -> dict[str, float]:
    """First paint and first contentful paint of the page, and the time until every chart drew."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1440, "height": 1800})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        began = time.perf_counter()
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 6")
        charts_ms = (time.perf_counter() - began) * 1000
        paints = page.evaluate(
            "Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))")
        browser.close()
    return {"first_paint_ms": round(paints.get("first-paint", -1), 1),
            "first_contentful_paint_ms": round(paints.get("first-contentful-paint", -1), 1),
            "all_charts_drawn_ms": round(charts_ms, 1)}


def main() -> None:
    """Build a year's dashboard and print its size and paint timings (JSON written too)."""
    from dashboard.build import build_dashboard
    from generator.silver import build_lake

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "benchmarks" / "results" / "dashboard_year.json"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dashboard-year-"))
    settings = replace(Settings.from_env(), lake_dir=root / "lake", publish_dir=root / "publish")
    spark = build_spark_session(settings, app_name="dashboard-year")
    began = time.perf_counter()
    log(f"generating {args.days} days of silver under {root} ...")
    build_lake(spark, settings, START, args.days, seed=9, volumes={"declarations": 200, "express": 600, "mail": 150},
               scale=0.5, chunk_days=30, progress=log)
    last = START + dt.timedelta(days=args.days - 1)
    reasons = ["model", "critical_reserve", "exploration", "rule", "outside_list"]
    channels = spark.createDataFrame([(c,) for c in ("declarations", "express", "mail")], "channel string")
    feedback = (spark.range(args.days).crossJoin(channels)
                .crossJoin(spark.createDataFrame([(r,) for r in reasons], "selection_reason string"))
                .select(F.date_add(F.lit(START), F.col("id").cast("int")).alias("day"), "channel",
                        F.lit("red").alias("lane"), "selection_reason", F.lit(20).cast("long").alias("selected"),
                        F.lit(10).cast("long").alias("inspected"), (F.col("id") % 5).alias("hits")))
    feedback.write.format("delta").save(str(settings.table_path("gold", "selection_performance")))
    log("building the KPI tables and the page ...")
    built = build_dashboard(spark, settings, last)
    log("opening it in headless Chromium ...")
    figures = {"days": args.days, "size_mb": round(built.size_bytes / 1e6, 2), **first_paint_ms(built.path),
               "page": str(built.path), "seconds": round(time.perf_counter() - began, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    log(f"dashboard over {args.days} days: {figures['size_mb']} MB, first contentful paint "
        f"{figures['first_contentful_paint_ms']} ms; written to {args.out}")


if __name__ == "__main__":
    main()
