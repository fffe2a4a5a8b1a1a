"""The daily schedule and the landing-file sensor."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from zoneinfo import ZoneInfo

import dagster as dg
import fsspec

from jobs.settings import Settings
from jobs.sources import SOURCES
from jobs.storage import Location
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


def landing_snapshot(landing_dir: Location, min_age_seconds: float, now: float | None = None
                     ) -> dict[tuple[str, str], list[tuple[str, int, float]]]:
    """Settled landing files per (source, day): name, size and mtime of each file old enough.
    Listed with fsspec (the sensor has no Spark session), so the landing zone may be a URI."""
    now = time.time() if now is None else now
    fs, root = fsspec.core.url_to_fs(_fsspec_url(landing_dir))
    snapshot: dict[tuple[str, str], list[tuple[str, int, float]]] = {}
    for source in SOURCES:
        source_root = f"{root.rstrip('/')}/{source}"
        if not fs.isdir(source_root):
            continue
        for path, info in sorted(fs.find(source_root, maxdepth=2, detail=True).items()):
            parent, day, name = path.rsplit("/", 2)
            if parent != source_root or not name.lower().endswith(".csv") or name.startswith((".", "_")):
                continue
            mtime = _mtime(info)
            if now - mtime >= min_age_seconds:
                snapshot.setdefault((source, day), []).append((name, int(info.get("size") or 0), mtime))
    return snapshot


def _fsspec_url(location: Location) -> str:
    """fsspec's name for a location: Hadoop's `s3a://` is fsspec's `s3://` (s3fs)."""
    text = str(location)
    return "s3://" + text[len("s3a://"):] if text.startswith("s3a://") else text


def _mtime(info: dict) -> float:
    """Modification time (epoch seconds) from an fsspec listing, whatever the filesystem calls it."""
    for key in ("mtime", "LastModified", "last_modified", "modified"):
        value = info.get(key)
        if value is not None:
            return value.timestamp() if isinstance(value, dt.datetime) else float(value)
    return 0.0


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
