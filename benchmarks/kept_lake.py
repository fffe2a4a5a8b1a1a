"""Shared by the scripts that time part of the daily run again on a lake `daily_run.py --workdir`
kept: the two arguments that name it, and the environment that points the project at it."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path


def add_kept_lake_arguments(parser: argparse.ArgumentParser) -> None:
    """`--workdir` (the kept work folder) and `--day` (the day that run scored)."""
    parser.add_argument("--workdir", type=Path, required=True, help="a work folder `daily_run.py --workdir` kept")
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True, help="the day that run scored")


def use_kept_lake(workdir: Path) -> Path:
    """Point the project (settings, Dagster, MLflow) at `workdir` only, whatever CUSTOMS_* the shell
    had set; returns the resolved folder. Call before importing the project's modules."""
    work = workdir.resolve()
    for name in [n for n in os.environ if n.startswith("CUSTOMS_")]:
        del os.environ[name]
    os.environ.update(CUSTOMS_HOME=str(work), DAGSTER_HOME=str(work / "dagster_home"),
                      MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}")
    return work
