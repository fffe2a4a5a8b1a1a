"""The daily schedule and the landing-file sensor."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
    fs, root = _landing_fs(landing_dir)
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


def _landing_fs(location: Location) -> tuple[fsspec.AbstractFileSystem, str]:
    """The landing zone's fsspec filesystem and root path (Hadoop's `s3a://` is fsspec's `s3://`)."""
    text = str(location)
    return fsspec.core.url_to_fs("s3://" + text[len("s3a://"):] if text.startswith("s3a://") else text)


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


def day_ranges(days: list[str]) -> list[tuple[str, str]]:
    """Sorted ISO days grouped into runs of consecutive days: (first, last) of each."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        if ranges and dt.date.fromisoformat(day) - dt.date.fromisoformat(ranges[-1][1]) == dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _file_checksums(landing_dir: Location, source: str, day: str, names: list[str]) -> set[tuple[str, str]]:
    """(name, first 12 hex digits of SHA-256) of the day's files, as bronze's metadata keeps them."""
    fs, root = _landing_fs(landing_dir)
    out = set()
    for name in names:
        digest = hashlib.sha256()
        with fs.open(f"{root.rstrip('/')}/{source}/{day}/{name}", "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):  # noqa: B023 - f is the loop's own file
                digest.update(chunk)
        out.add((name, digest.hexdigest()[:12]))
    return out


def already_landed(instance: dg.DagsterInstance, landing_dir: Location, source: str, day: str,
                   names: list[str]) -> bool:
    """Whether bronze's latest materialization of this source and day holds exactly these files
    (same names and checksums): then a first look at the folder need not start a run."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=bronze_key(SOURCES[source]), asset_partitions=[day]), limit=1).records
    if not records:
        return False
    details = records[0].asset_materialization.metadata.get("file_details")
    landed = {(d["file"], d["sha256"]) for d in (details.value if details else [])}
    return bool(landed) and landed == _file_checksums(landing_dir, source, day, names)


def build_landing_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """Sensor: when files land (or change) in <landing>/<source>/<day>/, ingest that source for
    those days. Its cursor remembers each folder's files (names, sizes, modification times), so a
    tick only sees what changed; the changed days of a source are coalesced into one range run per
    run of consecutive days (the assets run a range as one Spark batch); on its first tick it
    skips days whose files bronze already holds (same checksums), so switching it on over a
    landed history does not start a run per day."""

    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Starts an ingestion run per source for the days whose landing files are new or "
               "changed since its last tick (consecutive days in one range run).")
    def landing_file_sensor(context: dg.SensorEvaluationContext):
        settings = Settings.from_env()
        snapshot = landing_snapshot(settings.landing_dir, MIN_FILE_AGE_SECONDS)
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        changed: dict[str, list[str]] = {}
        for (source, day), files in sorted(snapshot.items()):
            if not is_partition_day(day, settings.partition_start):
                context.log.warning(f"ignoring landing folder {source}/{day}: not a YYYY-MM-DD partition day")
                continue
            folder, digest = f"{source}/{day}", hashlib.sha256(repr(files).encode()).hexdigest()[:16]
            if seen.get(folder) == digest:
                continue
            first_look = folder not in seen
            seen[folder] = digest
            if first_look and already_landed(context.instance, settings.landing_dir, source, day,
                                             [name for name, _, _ in files]):
                continue
            changed.setdefault(source, []).append(day)
        requests = []
        for source, days in changed.items():
            spec = SOURCES[source]
            for first, last in day_ranges(days):
                in_range = "".join(seen[f"{source}/{d}"] for d in days if first <= d <= last)
                digest = hashlib.sha256(in_range.encode()).hexdigest()[:16]
                requests.append(dg.RunRequest(
                    run_key=f"{source}:{first}..{last}:{digest}",
                    asset_selection=[bronze_key(spec), silver_key(spec), quarantine_key(spec)],
                    tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last,
                          "customs/source": source, "customs/trigger": "landing_file"},
                ))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return landing_file_sensor
