"""The executives' KPI dashboard: the KPI gold tables, and one self-contained HTML page built from
them (Plotly's JavaScript, the styles and the data inlined: it opens from the file system on a
closed network).

    .venv/bin/python -m dashboard.build [--day YYYY-MM-DD]     (or `make dashboard`)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.kpis import daily_kpis, data_quality, drug_seizures, notable_cases, selection_by_reason, weekly_kpis
from jobs.publish import write_text
from jobs.settings import Settings
from jobs.tables import table_exists

TEMPLATE = Path(__file__).with_name("template.html")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
EVALUATED = {"price_surges": "price_index", "supply_alerts": "supply_metrics"}  # where a week's run shows
ALERT_COLUMNS = {
    "price_surges": ["week_start", "item_code", "name_ko", "name_en", "change_pct", "unit_price_krw_per_kg",
                     "baseline_krw_per_kg", "declarations", "reason"],
    "supply_alerts": ["week_start", "item_code", "name_ko", "name_en", "alert", "declarations",
                      "baseline_declarations_per_week", "top_origin", "top_origin_share", "hhi", "reason"],
}


@dataclass
class Dashboard:
    """The page written, its size, and the headline figures of its last 7 days."""

    path: Path
    size_bytes: int
    last_day: dt.date
    headline: dict[str, float | int | None]

    def markdown(self) -> str:
        """The headline figures as a markdown table (Dagster metadata)."""
        rows = [f"| {k.replace('_', ' ')} | {_fmt(k, v)} |" for k, v in self.headline.items()]
        return "\n".join([f"Last 7 days to {self.last_day}", "", "| KPI | value |", "|---|---|", *rows])


def _fmt(name: str, value) -> str:
    if value is None:
        return "-"
    if name.endswith("_rate"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: dates as ISO text, NaN as null."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, (dt.date, pd.Timestamp)):
                value = value.isoformat()[:10]
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            clean[key] = value
        out.append(clean)
    return out


def _latest_week(spark: SparkSession, settings: Settings, table: str, last_day: dt.date) -> pd.DataFrame:
    """The alerts of the latest week the weekly checks evaluated by `last_day` (none when that week
    raised none: an older week's alerts are never shown as this week's)."""
    path, evaluated = (str(settings.table_path("gold", t)) for t in (table, EVALUATED[table]))
    if not (table_exists(spark, path) and table_exists(spark, evaluated)):
        return pd.DataFrame(columns=ALERT_COLUMNS[table])
    weeks = spark.read.format("delta").load(evaluated).where(F.col("week_end") <= F.lit(last_day))
    latest = weeks.agg(F.max("week_start")).first()[0]
    frame = spark.read.format("delta").load(path)
    return frame.where(F.col("week_start") == F.lit(latest)).select(*ALERT_COLUMNS[table]).toPandas()


def _overwrite(frame: DataFrame, settings: Settings, table: str) -> None:
    (frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
     .save(str(settings.table_path("gold", table))))


def headline(daily: pd.DataFrame, last_day: dt.date, days: int = 7) -> dict[str, float | int | None]:
    """Totals and rates over the `days` days to `last_day`, all channels."""
    recent = daily[pd.to_datetime(daily["day"]).dt.date > last_day - dt.timedelta(days=days)]
    inspected, records = int(recent["inspected"].sum()), int(recent["records"].sum())
    return {"records": records, "inspected": inspected,
            "inspection_rate": inspected / records if records else None,
            "hit_rate": float(recent["hits"].sum()) / inspected if inspected else None,
            "duty_recovered_krw": float(recent["duty_recovered_krw"].sum()),
            "critical_finds": int(recent["critical_finds"].sum()), "drug_kg": float(recent["drug_kg"].sum()),
            "pccc_misuse": int(recent["pccc_misuse"].sum()), "under_valuation": int(recent["under_valuation"].sum())}


def build_dashboard(spark: SparkSession, settings: Settings, last_day: dt.date) -> Dashboard:
    """Rebuild the KPI gold tables (`gold/kpi_daily`, `kpi_weekly`, `kpi_drugs`, `kpi_quality`,
    `kpi_selection`) from the lake as of `last_day`, and write `publish/dashboard/index.html`."""
    daily_df = daily_kpis(spark, settings, last_day).cache()
    tables = {"kpi_daily": daily_df, "kpi_weekly": weekly_kpis(daily_df),
              "kpi_drugs": drug_seizures(spark, settings, last_day),
              "kpi_quality": data_quality(spark, settings, last_day),
              "kpi_selection": selection_by_reason(spark, settings, last_day)}
    frames = {}
    for name, frame in tables.items():
        _overwrite(frame, settings, name)
        frames[name] = spark.read.format("delta").load(str(settings.table_path("gold", name))).toPandas()
    daily_df.unpersist()
    data = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"), "last_day": last_day.isoformat(),
        **{name: _records(frame) for name, frame in frames.items()},
        "cases": _records(notable_cases(spark, settings, last_day).toPandas()),
        **{name: _records(_latest_week(spark, settings, name, last_day)) for name in ALERT_COLUMNS},
    }
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")  # no tag can close the block
    html = (TEMPLATE.read_text(encoding="utf-8")
            .replace("/*__PLOTLY_JS__*/", PLOTLY_JS.read_text(encoding="utf-8").replace("</script", "<\\/script"))
            .replace("__DASHBOARD_DATA__", payload))
    path = settings.publish_dir / "dashboard" / "index.html"
    write_text(html, path)
    return Dashboard(path, path.stat().st_size, last_day, headline(frames["kpi_daily"], last_day))


def latest_day(spark: SparkSession, settings: Settings) -> dt.date | None:
    """The latest record day in the channels' silver tables (None before anything landed)."""
    days = []
    for channel, column in (("declarations", "date"), ("express", "arrival_date"), ("mail", "arrival_date")):
        path = str(settings.table_path("silver", channel))
        if table_exists(spark, path):
            days.append(spark.read.format("delta").load(path).agg(F.max(column)).first()[0])
    days = [d for d in days if d is not None]
    return max(days) if days else None


def main() -> None:
    """`make dashboard`: rebuild the page from the lake (as of its last day with records) and print its path."""
    from jobs.spark_session import build_spark_session

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=None,
                        help="the last day shown (default: the latest record day in silver)")
    args = parser.parse_args()
    settings = Settings.from_env()
    spark = build_spark_session(settings, app_name="customs-risk-dashboard")
    day = args.day or latest_day(spark, settings)
    if day is None:
        raise SystemExit("no channel records in silver yet: run `make demo` (or ingest some days) first")
    print(f"building the KPI dashboard as of {day} ...", flush=True)
    board = build_dashboard(spark, settings, day)
    print(board.markdown())
    print(f"dashboard: {board.path} ({board.size_bytes / 1e6:.1f} MB; open it in a browser, no network needed)")


if __name__ == "__main__":
    main()
