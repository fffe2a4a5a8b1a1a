"""The daily schedule and the landing-file sensor."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from jobs.settings import Settings
from jobs.sources import SOURCES
from orchestration.ingestion import bronze_key, quarantine_key, silver_key

# A file younger than this may still be being written: it is picked up on a later tick.
MIN_FILE_AGE_SECONDS = float(os.environ.get("CUSTOMS_SENSOR_MIN_FILE_AGE", "30"))


SEOUL = ZoneInfo("Asia/Seoul")


def daily_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Every morning at 06:00 Seoul time, run the pipeline for the previous day's partition (the
    partitions end a day ahead so that today's landing files can be ingested as they arrive, so the
    last partition is today's, still arriving: the schedule asks for yesterday's explicitly)."""

    @dg.schedule(job=job, cron_schedule="0 6 * * *", execution_timezone="Asia/Seoul", name="daily_pipeline_schedule",
                 description="06:00 Seoul: yesterday's daily_pipeline (ingestion, entity state, target lists, "
                 "feedback).")
    def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(SEOUL).date() - dt.timedelta(days=1)
        return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())

    return daily_pipeline_schedule


def landing_snapshot(landing_dir: Path, min_age_seconds: float, now: float | None = None
                     ) -> dict[tuple[str, str], list[tuple[str, int, float]]]:
    """Settled landing files per (source, day): name, size and mtime of each file old enough."""
    now = time.time() if now is None else now
    snapshot: dict[tuple[str, str], list[tuple[str, int, float]]] = {}
    for source in SOURCES:
        root = landing_dir / source
        if not root.is_dir():
            continue
        for day_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            files = []
            for f in sorted(day_dir.glob("*.csv")):
                stat = f.stat()
                if now - stat.st_mtime >= min_age_seconds:
                    files.append((f.name, stat.st_size, stat.st_mtime))
            if files:
                snapshot[(source, day_dir.name)] = files
    return snapshot


def is_partition_day(name: str, start: str) -> bool:
    """Whether a landing folder name is a day of the partition set (YYYY-MM-DD, not before start)."""
    try:
        day = dt.date.fromisoformat(name)
    except ValueError:
        return False
    return day >= dt.date.fromisoformat(start)


def build_landing_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """Sensor: when a file lands (or changes) in <landing>/<source>/<day>/, ingest that source
    for that day. The run key is a digest of the day's files, so an unchanged day never re-runs."""

    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Starts an ingestion run for a source and day when its landing files change.")
    def landing_file_sensor(context: dg.SensorEvaluationContext):
        settings = Settings.from_env()
        snapshot = landing_snapshot(settings.landing_dir, MIN_FILE_AGE_SECONDS)
        requests = []
        for (source, day), files in snapshot.items():
            if not is_partition_day(day, settings.partition_start):
                context.log.warning(f"ignoring landing folder {source}/{day}: not a YYYY-MM-DD partition day")
                continue
            digest = hashlib.sha256(repr(files).encode()).hexdigest()[:16]
            spec = SOURCES[source]
            requests.append(
                dg.RunRequest(
                    run_key=f"{source}:{day}:{digest}",
                    partition_key=day,
                    asset_selection=[bronze_key(spec), silver_key(spec), quarantine_key(spec)],
                    tags={"customs/source": source, "customs/trigger": "landing_file"},
                )
            )
        return dg.SensorResult(run_requests=requests)

    return landing_file_sensor
