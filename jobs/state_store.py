"""A cumulative table advanced one day at a time: a Delta snapshot (one row per key, the sums of
every day folded in so far) beside a Delta table of daily increments.

Each commit of the snapshot says in its `userMetadata` which day it holds everything up to
(`through_day`), so "the state as it stood before day D" is the newest snapshot version through
D - 1, read by Delta time travel: the day's features join the day's records to it, and the cost does
not grow with history. Versions are kept (log retention 400 days); when a version is gone (or was
never written, e.g. after a bootstrap), the state before D is the sum of the increments before D.

Re-running a day is safe: an unchanged increment changes nothing; a changed one (a corrected
re-delivery) replaces the day's increment and replays the snapshot from that day on, recomputing
the later days' increments too, so every newer `through_day` is rewritten by a newer version."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.tables import table_exists

RETENTION = {"delta.logRetentionDuration": "interval 400 days",
             "delta.deletedFileRetentionDuration": "interval 35 days"}
# (first day or None for "from the beginning", last day) -> increments with a `day` column
IncrementsFor = Callable[[dt.date | None, dt.date], DataFrame]
# (snapshot or None, increments) -> the snapshot after those increments
Accumulate = Callable[[DataFrame | None, DataFrame], DataFrame]


class StateNotReady(RuntimeError):
    """The state has not been advanced far enough for the day asked."""


@dataclass(frozen=True)
class CumulativeTable:
    """Where a cumulative state lives and how it is summed."""

    snapshot_path: str
    increments_path: str
    accumulate: Accumulate
    checksum_columns: tuple[str, ...]

    @classmethod
    def at(cls, folder: Path | str, name: str, accumulate: Accumulate,
           checksum_columns: tuple[str, ...]) -> CumulativeTable:
        """`<folder>/<name>` for the snapshot and `<folder>/<name>_increments` beside it."""
        base = str(folder).rstrip("/")
        return cls(f"{base}/{name}", f"{base}/{name}_increments", accumulate, checksum_columns)


@dataclass
class AdvanceResult:
    """What advancing the state did."""

    through_day: dt.date
    version: int | None
    folded: list[dt.date] = field(default_factory=list)
    replayed: list[dt.date] = field(default_factory=list)
    unchanged: list[dt.date] = field(default_factory=list)
    bootstrapped: bool = False


def snapshot_versions(spark: SparkSession, table: CumulativeTable) -> list[tuple[int, dt.date]]:
    """(version, through_day) of every snapshot commit still in the log, oldest first."""
    if not table_exists(spark, table.snapshot_path):
        return []
    rows = DeltaTable.forPath(spark, table.snapshot_path).history().select("version", "userMetadata").collect()
    out = []
    for row in rows:
        meta = json.loads(row["userMetadata"]) if row["userMetadata"] else {}
        if "through_day" in meta:
            out.append((int(row["version"]), dt.date.fromisoformat(meta["through_day"])))
    return sorted(out)


def _latest(spark: SparkSession, table: CumulativeTable) -> tuple[int, dt.date] | None:
    versions = snapshot_versions(spark, table)
    return versions[-1] if versions else None


def _write_snapshot(spark: SparkSession, table: CumulativeTable, snapshot: DataFrame, through: dt.date,
                    **meta: object) -> int:
    created = not table_exists(spark, table.snapshot_path)
    (snapshot.write.format("delta").mode("overwrite")
     .option("userMetadata", json.dumps({"through_day": through.isoformat(), **meta}))
     .save(table.snapshot_path))
    if created:
        props = ", ".join(f"'{k}' = '{v}'" for k, v in RETENTION.items())
        spark.sql(f"ALTER TABLE delta.`{table.snapshot_path}` SET TBLPROPERTIES ({props})")
    latest = _latest(spark, table)
    return latest[0] if latest else 0


def _read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def _increments(spark: SparkSession, table: CumulativeTable, first: dt.date | None, last: dt.date) -> DataFrame:
    frame = spark.read.format("delta").load(table.increments_path).where(F.col("day") <= F.lit(last))
    return frame if first is None else frame.where(F.col("day") >= F.lit(first))


def _replace_increments(table: CumulativeTable, increments: DataFrame, first: dt.date | None,
                        last: dt.date) -> None:
    where = f"day <= DATE'{last.isoformat()}'"
    if first is not None:
        where = f"day >= DATE'{first.isoformat()}' AND {where}"
    (increments.write.format("delta").mode("overwrite").option("replaceWhere", where)
     .partitionBy("day").save(table.increments_path))


def _checksum(frame: DataFrame, columns: tuple[str, ...]) -> tuple[int, str]:
    """Order-independent (rows, checksum) of a frame; doubles rounded so that summing in another
    order does not count as a change."""
    cols = [F.round(F.col(c), 6) if dict(frame.dtypes)[c] == "double" else F.col(c) for c in columns]
    row = frame.agg(F.count(F.lit(1)).alias("n"),
                    F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).alias("h")).first()
    return int(row["n"]), str(row["h"] or 0)


def state_before(spark: SparkSession, table: CumulativeTable, day: dt.date) -> tuple[DataFrame, dict[str, object]]:
    """The state as it stood before `day` (everything through day - 1) and where it came from: the
    newest snapshot version through day - 1, else the sum of the increments before `day`."""
    want = day - dt.timedelta(days=1)
    versions = snapshot_versions(spark, table)
    matching = [v for v, through in versions if through == want]
    if matching:
        return _read_version(spark, table.snapshot_path, matching[-1]), {
            "state_version": matching[-1], "state_through": want.isoformat()}
    if not versions or versions[-1][1] < want:
        held = versions[-1][1].isoformat() if versions else "nothing"
        raise StateNotReady(f"the entity state at {table.snapshot_path} holds {held}; scoring {day} needs it "
                            f"through {want}: materialize the state for {day} first")
    return table.accumulate(None, _increments(spark, table, None, want)), {
        "state_version": None, "state_through": want.isoformat(), "state_from": "increments"}


def advance(spark: SparkSession, table: CumulativeTable, through: dt.date,
            increments_for: IncrementsFor) -> AdvanceResult:
    """Make the snapshot hold every day up to and including `through`: bootstrap it from all
    history when it does not exist, fold the missing days one by one when it is behind, and, when
    it is already past `through`, check that day's increment again and replay from it if it changed."""
    latest = _latest(spark, table)
    if latest is None:
        _replace_increments(table, increments_for(None, through), None, through)
        snapshot = table.accumulate(None, _increments(spark, table, None, through))
        version = _write_snapshot(spark, table, snapshot, through, bootstrap=True)
        return AdvanceResult(through, version, bootstrapped=True)
    version, held = latest
    if held < through:
        result = AdvanceResult(through, version)
        day = held
        while day < through:
            day += dt.timedelta(days=1)
            _replace_increments(table, increments_for(day, day), day, day)
            version = _fold(spark, table, version, day)
            result.folded.append(day)
        result.version = version
        return result
    fresh = increments_for(through, through)
    stored = _increments(spark, table, through, through)
    if _checksum(fresh, table.checksum_columns) == _checksum(stored, table.checksum_columns):
        return AdvanceResult(held, version, unchanged=[through])
    _replace_increments(table, fresh, through, through)
    base, _ = state_before(spark, table, through)
    result = AdvanceResult(held, version)
    day = through
    while day <= held:
        if day > through:  # a correction of one day can move labels of later days: recompute them too
            _replace_increments(table, increments_for(day, day), day, day)
        snapshot = table.accumulate(base, _increments(spark, table, day, day))
        version = _write_snapshot(spark, table, snapshot, day, replayed_from=through.isoformat())
        result.replayed.append(day)
        base = _read_version(spark, table.snapshot_path, version)
        day += dt.timedelta(days=1)
    result.version = version
    return result


def _fold(spark: SparkSession, table: CumulativeTable, version: int, day: dt.date) -> int:
    snapshot = table.accumulate(_read_version(spark, table.snapshot_path, version),
                                _increments(spark, table, day, day))
    return _write_snapshot(spark, table, snapshot, day)
