"""The KPI dashboard: built from a generated lake, opened in headless Chromium with the network
cut off, as an executive would see it."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import functions as F

START = dt.date(2024, 3, 4)
DAYS = 21
LAST = START + dt.timedelta(days=DAYS - 1)
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def board(spark, tmp_path_factory):
    """A generated lake (silver channels and inspection results), a day of bronze and quarantine
    rows per channel, feedback rows and one week of market alerts; the dashboard built on it."""
    from dashboard.build import build_dashboard
    from generator.silver import build_lake
    from jobs.settings import Settings

    root = tmp_path_factory.mktemp("dashboard")
    settings = replace(Settings.from_env(), lake_dir=root / "lake", publish_dir=root / "publish")
    build_lake(spark, settings, START, DAYS, seed=3, volumes={"declarations": 60, "express": 120, "mail": 40},
               scale=0.2, chunk_days=DAYS)
    for channel in ("declarations", "express", "mail"):
        days = spark.range(DAYS * 20).select(F.date_add(F.lit(START), (F.col("id") % DAYS).cast("int"))
                                             .alias("_partition_date"))
        days.write.format("delta").save(str(settings.table_path("bronze", channel)))
        (days.limit(DAYS).withColumnRenamed("_partition_date", "partition_date")
         .write.format("delta").save(str(settings.table_path("quarantine", channel))))
    reasons = ["model", "critical_reserve", "exploration", "rule:watch_list_level_3", "outside_list"]
    rows = [(START + dt.timedelta(days=d), ch, "red", r, 20, 10, 1 + (d + i) % 5)
            for d in range(DAYS) for ch in ("declarations", "express", "mail") for i, r in enumerate(reasons)]
    (spark.createDataFrame(rows, "day date, channel string, lane string, selection_reason string, selected long, "
                                 "inspected long, hits long")
     .write.format("delta").save(str(settings.table_path("gold", "selection_performance"))))
    week = LAST - dt.timedelta(days=6)
    for old, table in ((week - dt.timedelta(weeks=1), "price_index"), (week, "price_index"),
                       (week, "supply_metrics")):  # the weeks the weekly checks evaluated
        (spark.createDataFrame([(old, old + dt.timedelta(days=6))], "week_start date, week_end date")
         .write.format("delta").mode("append").save(str(settings.table_path("gold", table))))
    spark.createDataFrame([(week - dt.timedelta(weeks=1), week - dt.timedelta(days=1), "SC0009", "지난주 품목",
                            "last week's item", 40.0, 1400.0, 1000.0, 10, "up 40.0%")],
                          "week_start date, week_end date, item_code string, name_ko string, name_en string, "
                          "change_pct double, unit_price_krw_per_kg double, baseline_krw_per_kg double, "
                          "declarations long, reason string").write.format("delta").save(
        str(settings.table_path("gold", "price_surges")))
    spark.createDataFrame([(week, LAST, "SC0001", "냉동 쇠고기", "frozen beef", 52.0, 1500.0, 1000.0, 12,
                            "up 52.0% on its own 8-week baseline")],
                          "week_start date, week_end date, item_code string, name_ko string, name_en string, "
                          "change_pct double, unit_price_krw_per_kg double, baseline_krw_per_kg double, "
                          "declarations long, reason string").write.format("delta").mode("append").save(
        str(settings.table_path("gold", "price_surges")))
    return build_dashboard(spark, settings, LAST), settings


def test_the_kpi_tables_and_the_page_are_built(spark, board):
    built, settings = board
    daily = spark.read.format("delta").load(str(settings.table_path("gold", "kpi_daily")))
    assert daily.select("channel").distinct().count() == 3
    totals = daily.agg(F.sum("records"), F.sum("inspected"), F.sum("hits")).first()
    assert totals[0] > 0 and 0 < totals[2] <= totals[1]
    assert spark.read.format("delta").load(str(settings.table_path("gold", "kpi_weekly"))).count() >= 3 * 3
    html = built.path.read_text(encoding="utf-8")
    assert built.path == settings.publish_dir / "dashboard" / "index.html"
    assert built.size_bytes < 8e6 and "https://" not in html.split("</style>")[0]
    assert "<script src=" not in html and "<link" not in html  # nothing to fetch
    assert built.headline["records"] > 0 and "| records |" in built.markdown()
    reasons = spark.read.format("delta").load(str(settings.table_path("gold", "kpi_selection")))
    assert {r.selection_reason for r in reasons.select("selection_reason").distinct().collect()} == {
        "model", "critical_reserve", "exploration", "rule", "outside_list"}  # rule:<name> picks are one reason


def test_the_page_works_offline_in_chromium(board, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("the dashboard test needs Debian's chromium and fonts-nanum: "
                    "sudo apt-get install -y chromium fonts-nanum (make test installs them when run as root)")
    from playwright.sync_api import sync_playwright

    built, _ = board
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1800})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else (problems.append(f"request to {route.request.url}"), route.abort()))
        page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        page.on("requestfailed", lambda req: problems.append(f"failed request {req.url}"))
        page.goto(built.path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 6")
        points = page.evaluate("""[...document.querySelectorAll('.chart')].map(el =>
            [el.id, (el.data || []).reduce((n, tr) => n + (tr.x || []).length, 0)])""")
        assert all(n > 0 for _, n in points), points
        assert page.locator("h1").inner_text() == "관세 위험관리 KPI 대시보드"
        records = page.locator('[data-kpi="records"] .value')
        everything = records.inner_text()
        page.select_option("#channel", "express")
        page.wait_for_timeout(200)
        assert records.inner_text() != everything  # the channel filter changes the figures
        page.select_option("#channel", "all")
        page.click("#lang")
        assert page.locator("h1").inner_text() == "Customs risk KPI dashboard"
        assert page.locator('[data-kpi="hit_rate"] .label').inner_text() == "Hit rate"
        surges = page.locator("#table-surges").inner_text()
        assert "frozen beef" in surges and "last week's item" not in surges  # this week's flags only
        assert "Rule" in page.evaluate("document.getElementById('chart-reasons').data[0].x.join(',')")
        page.click("#lang")
        assert "냉동 쇠고기" in page.locator("#table-surges").inner_text()
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert problems == []
    assert shot.stat().st_size > 50_000
    shutil.copy(shot, Path(built.path).with_name("dashboard.png"))  # beside the page, for a look
