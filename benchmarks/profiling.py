"""Profiling a benchmark run: Spark's event log (read with benchmarks/profile_report.py) and
py-spy's samples of the driver and its Python workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def event_log_conf(folder: Path) -> dict[str, str]:
    """Spark settings that write one uncompressed, unrolled event log into `folder/events`, the
    form `profile_report.read_events` reads."""
    (folder / "events").mkdir(parents=True, exist_ok=True)
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": (folder / "events").resolve().as_uri(),
            "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"}


def record_event_log(folder: Path) -> None:
    """Make the SparkSession this process starts write its event log into `folder` (see
    `event_log_conf`), added to whatever `CUSTOMS_SPARK_CONF` already sets."""
    from jobs.settings import parse_spark_conf

    conf = {**parse_spark_conf(os.environ.get("CUSTOMS_SPARK_CONF", "")), **event_log_conf(folder)}
    os.environ["CUSTOMS_SPARK_CONF"] = json.dumps(conf)


class PySpy:
    """py-spy sampling this process and its Python workers into `<folder>/pyspy.txt` (collapsed
    stacks) while the block runs; nothing when `folder` is None."""

    def __init__(self, folder: Path | None) -> None:
        self.folder, self.proc = folder, None

    def __enter__(self) -> PySpy:
        if self.folder:
            command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(os.getpid()),
                       "--subprocesses", "--rate", "20", "--format", "raw", "--nonblocking",
                       "--output", str(self.folder / "pyspy.txt")]
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                         stderr=(self.folder / "pyspy.log").open("w"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
