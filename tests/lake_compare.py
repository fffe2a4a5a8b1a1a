"""Comparing two runs of the same day table by table (cluster vs local, prod vs local)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from generator.config import GeneratorConfig, Rates
from generator.run import generate
from generator.silver import build_lake
from jobs.settings import Settings
from models.channels import SELECTORS
from models.pipeline import build_feature_table, train_channel_selector
from models.train import TrainParams

START, HISTORY_DAYS = dt.date(2024, 3, 4), 12
DAY = START + dt.timedelta(days=HISTORY_DAYS)
TINY = TrainParams(n_estimators=40, max_depth=3, early_stopping_rounds=10)
# Written per run (ingest time, where the run's files were), not part of what the day computed.
VOLATILE = {"_ingested_at", "_source_file", "source_file", "ingested_at", "published_at", "created_at",
            "updated_at", "scored_at", "computed_at", "run_id"}
# What a day's run computes: bronze and silver of the channels (and the labels so far), the entity state the
# features are made of, the scores (with the features' reasons) and the target lists.
DAY_TABLES = [("bronze", s) for s in ("declarations", "express", "mail")] + [
    ("silver", s) for s in ("declarations", "express", "mail", "inspection_results")] + [
    ("state", f"{c}_entities") for c in SELECTORS] + [("gold", "scores"), ("gold", "targets")]


def build_history(spark, base: Path, train: bool = True) -> None:
    """A generated lake of HISTORY_DAYS days in `base/lake` (with champions trained on it when
    `train`, in the MLflow store of MLFLOW_TRACKING_URI), and the landing files of DAY."""
    settings = replace(Settings.from_env(), lake_dir=base / "lake", landing_dir=base / "landing",
                       publish_dir=base / "publish", gx_dir=base / "gx")
    build_lake(spark, settings, START, HISTORY_DAYS)
    if train:
        for selector in SELECTORS.values():
            build_feature_table(spark, settings, selector)
            train_channel_selector(spark, settings, selector, TINY, eval_days=3, stop_days=2)
    generate(GeneratorConfig(seed=5, scale=0.3, rates=replace(Rates(), bad_rows=0.0)), DAY, 1,
             base / "landing", base / "ground_truth", progress=lambda _: None, workers=1)


def customs_risk(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run the `customs-risk` CLI in a fresh process (its own JVM) with the test's CUSTOMS_* and
    Dagster variables replaced by `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CUSTOMS_", "DAGSTER_", "MLFLOW_TRACKING"))}
    clean.update(env)
    command = [str(Path(sys.executable).with_name("customs-risk")), *args]
    return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=1200)


def failure(name: str, done: subprocess.CompletedProcess) -> str:
    """The end of a failed command's output, for the assertion message."""
    return f"{name} failed ({done.args}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def read_table(spark, lake: Path, layer: str, table: str) -> pd.DataFrame:
    """A Delta table as strings without per-run columns, in a canonical row order."""
    frame = spark.read.format("delta").load(str(lake / layer / table)).toPandas()
    frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE]).astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def published_lists(home: Path) -> dict[str, bytes]:
    """The day's published target list CSVs per channel."""
    folder = home / "publish" / "targets" / DAY.isoformat()
    return {channel: (folder / f"{channel}.csv").read_bytes() for channel in SELECTORS}
