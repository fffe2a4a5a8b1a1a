"""One SparkSession for the whole test run; per-test folders through CUSTOMS_* variables."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Tiny test data: one shuffle partition keeps each Delta write and GX metric to a single task.
os.environ.setdefault("CUSTOMS_SPARK_CONF", "spark.sql.shuffle.partitions=1,spark.default.parallelism=1,"
                      "spark.databricks.delta.snapshotPartitions=1,spark.sql.adaptive.enabled=false")

from jobs.settings import Settings  # noqa: E402
from jobs.spark_session import build_spark_session  # noqa: E402

KCS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "kcs"
HEADER = ("Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,Mode of Transport,"
          "Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,Country of Origin,"
          "Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,Critical Fraud")
DAY = dt.date(2020, 3, 2)


def declaration_line(decl_id: str, day: dt.date = DAY, **overrides: str) -> str:
    """One valid KCS-schema CSV line; keyword overrides replace fields by snake-case name."""
    fields = {
        "declaration_id": decl_id, "date": day.isoformat(), "office_id": "30", "process_type": "B",
        "import_type": "11", "import_use": "21", "payment_type": "11", "mode_of_transport": "10",
        "declarant_id": "ZZR1LT6", "importer_id": "QLRUBN9", "seller_id": "0VKY2BR", "courier_id": "",
        "hs6_code": "440890", "country_of_departure": "BE", "country_of_origin": "BE", "tax_rate": "8.0",
        "tax_type": "FEU1", "country_of_origin_indicator": "G", "net_mass": "108.0",
        "item_price": "372254.4", "fraud": "0", "critical_fraud": "0",
    }
    fields.update(overrides)
    return ",".join(fields.values())


def write_landing(landing: Path, name: str, lines: list[str], day: dt.date = DAY, *, header: bool = True,
                  encoding: str = "utf-8", mtime: float | None = None, trailing_newline: bool = True) -> Path:
    """Write a declarations landing file for `day`."""
    folder = landing / "declarations" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(([HEADER] if header else []) + lines) + ("\n" if trailing_newline else "")
    path = folder / name
    path.write_bytes(text.encode(encoding))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run (local[2], Delta from the fetched jars)."""
    session = build_spark_session(Settings.from_env(), app_name="customs-risk-tests")
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at fresh per-test landing, lake, publish and GX folders."""
    for var, sub in (("CUSTOMS_LANDING_DIR", "landing"), ("CUSTOMS_LAKE_DIR", "lake"),
                     ("CUSTOMS_PUBLISH_DIR", "publish"), ("CUSTOMS_GX_DIR", "gx")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return Settings.from_env()


def write_rows(landing: Path, source: str, day: dt.date, rows: list[dict[str, str]], name: str = "a.csv",
               encoding: str = "utf-8", mtime: float | None = None) -> Path:
    """Write a landing file of any source from dicts keyed by lake column name (missing -> empty)."""
    import csv
    import io

    from jobs.sources import SOURCES

    spec = SOURCES[source]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.header for c in spec.columns])
    for row in rows:
        writer.writerow([row.get(c.name, "") for c in spec.columns])
    folder = landing / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(buffer.getvalue().encode(encoding))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
