"""A cumulative table advanced one day at a time: a Delta snapshot (one row per key, the sums of
every day folded in so far) beside a Delta table of daily increments.

Each commit of the snapshot says in its `userMetadata` which day it holds everything up to
(`through_day`), the checksum of each day it folded in, and the versions of the source tables it
read. "The state as it stood before day D" is the newest snapshot version through D - 1, read by
Delta time travel: the day's features join the day's records to it, and the cost does not grow
with history. Versions are kept (log retention 400 days); a version that was never written (days
inside a bootstrap) is replaced by the sum of the increments before D.

Re-running is safe and corrections reach the state: each advance looks in the sources' Delta logs
for the days their commits since the last fold touched (a re-delivery, late results), recomputes
those days' increments and compares them with the checksums the commits recorded; from the first
day that changed, the snapshot is replayed (later days recomputed too), so every newer
`through_day` is rewritten by a newer version. An increment is only trusted once a commit records
its checksum, so a run that stops half way is redone by the next one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.tables import changed_partitions, table_exists

RETENTION = {"delta.logRetentionDuration": "interval 400 days",
             "delta.deletedFileRetentionDuration": "interval 35 days"}
# When a source's log no longer holds the commits since the last fold, re-check this many days.
UNKNOWN_CHANGES_DAYS = 60
# (first day or None for "from the beginning", last day) -> increments with a `day` column
IncrementsFor = Callable[[dt.date | None, dt.date], DataFrame]
# (snapshot or None, increments) -> the snapshot after those increments
Accumulate = Callable[[DataFrame | None, DataFrame], DataFrame]


class StateNotReady(RuntimeError):
    """The state has not been advanced far enough for the day asked."""


@dataclass(frozen=True)
class Source:
    """A Delta table the increments are computed from, and its day partition column."""

    name: str
    path: str
    partition_column: str


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


@dataclass(frozen=True)
class Commit:
    """One snapshot commit: its version, the day it holds everything up to, the checksums of the
    days it folded in, and the source versions it read."""

    version: int
    through_day: dt.date
    checksums: dict[dt.date, str]
    sources: dict[str, int]


@dataclass
class AdvanceResult:
    """What advancing the state did."""

    through_day: dt.date
    version: int | None
    folded: list[dt.date] = field(default_factory=list)
    replayed: list[dt.date] = field(default_factory=list)
    unchanged: list[dt.date] = field(default_factory=list)
    bootstrapped: bool = False


def snapshot_commits(spark: SparkSession, table: CumulativeTable) -> list[Commit]:
    """Every snapshot commit still in the log, oldest first."""
    if not table_exists(spark, table.snapshot_path):
        return []
    rows = DeltaTable.forPath(spark, table.snapshot_path).history().select("version", "userMetadata").collect()
    out = []
    for row in rows:
        meta = json.loads(row["userMetadata"]) if row["userMetadata"] else {}
        if "through_day" in meta:
            out.append(Commit(int(row["version"]), dt.date.fromisoformat(meta["through_day"]),
                              {dt.date.fromisoformat(d): c for d, c in meta.get("checksums", {}).items()},
                              {k: int(v) for k, v in meta.get("sources", {}).items()}))
    return sorted(out, key=lambda c: c.version)


def _write_snapshot(spark: SparkSession, table: CumulativeTable, snapshot: DataFrame, through: dt.date,
                    checksums: dict[dt.date, str], sources: dict[str, int], **meta: object) -> int:
    created = not table_exists(spark, table.snapshot_path)
    metadata = {"through_day": through.isoformat(), "checksums": {d.isoformat(): c for d, c in checksums.items()},
                "sources": sources, **meta}
    snapshot.write.format("delta").mode("overwrite").option("userMetadata", json.dumps(metadata)).save(
        table.snapshot_path)
    if created:
        props = ", ".join(f"'{k}' = '{v}'" for k, v in RETENTION.items())
        spark.sql(f"ALTER TABLE delta.`{table.snapshot_path}` SET TBLPROPERTIES ({props})")
    return snapshot_commits(spark, table)[-1].version


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


def _checksums(frame: DataFrame, columns: tuple[str, ...]) -> dict[dt.date, str]:
    """Order-independent checksum of each day's increment rows (rows and a hash sum); doubles
    rounded to 9 significant digits so that summing in another order is no change."""
    types = dict(frame.dtypes)
    cols = [F.format_string("%.9g", F.col(c)) if types[c] == "double" else F.col(c) for c in columns]
    rows = frame.groupBy("day").agg(F.count(F.lit(1)).alias("n"),
                                    F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).alias("h")).collect()
    return {r["day"]: f"{r['n']}:{r['h']}" for r in rows}


def _recorded_checksum(commits: list[Commit], day: dt.date) -> str | None:
    for commit in reversed(commits):
        if day in commit.checksums:
            return commit.checksums[day]
    return None


def state_before(spark: SparkSession, table: CumulativeTable, day: dt.date) -> tuple[DataFrame, dict[str, object]]:
    """The state as it stood before `day` (everything through day - 1) and where it came from: the
    newest snapshot version through day - 1, else the sum of the increments before `day`. A version
    that a replay has not yet rewritten (a later commit went back before it) is not served."""
    want = day - dt.timedelta(days=1)
    commits = snapshot_commits(spark, table)
    if not commits or commits[-1].through_day < want:
        held = commits[-1].through_day.isoformat() if commits else "nothing"
        raise StateNotReady(f"the entity state at {table.snapshot_path} holds {held}; scoring {day} needs it "
                            f"through {want}: materialize the state for {day} first")
    matching = [c for c in commits if c.through_day == want]
    if matching and all(c.through_day >= want for c in commits if c.version > matching[-1].version):
        return _read_version(spark, table.snapshot_path, matching[-1].version), {
            "state_version": matching[-1].version, "state_through": want.isoformat()}
    if any(c.through_day < want for c in commits if c.version > (matching[-1].version if matching else -1)):
        raise StateNotReady(f"a replay of the entity state at {table.snapshot_path} did not finish: materialize "
                            f"the state for {day} again")
    return table.accumulate(None, _increments(spark, table, None, want)), {
        "state_version": None, "state_through": want.isoformat(), "state_from": "increments"}


def _source_versions(spark: SparkSession, sources: list[Source]) -> dict[str, int]:
    versions = {}
    for source in sources:
        if table_exists(spark, source.path):
            last = DeltaTable.forPath(spark, source.path).history(1).select("version").first()
            versions[source.name] = int(last["version"])
    return versions


def _changed_days(spark: SparkSession, sources: list[Source], since: dict[str, int], now: dict[str, int],
                  held: dt.date) -> set[dt.date]:
    """Days any source commit since the last fold touched (from the Delta logs); when a log no
    longer holds those commits, the last `UNKNOWN_CHANGES_DAYS` days."""
    days: set[dt.date] = set()
    for source in sources:
        if source.name not in now:
            continue
        touched = changed_partitions(spark, source.path, source.partition_column, since.get(source.name, -1),
                                     now[source.name])
        if touched is None:
            return {held - dt.timedelta(days=i) for i in range(UNKNOWN_CHANGES_DAYS)}
        days |= touched
    return days


def advance(spark: SparkSession, table: CumulativeTable, through: dt.date, increments_for: IncrementsFor,
            sources: list[Source] = ()) -> AdvanceResult:
    """Make the snapshot hold every day up to and including `through`: bootstrap it from all
    history when it does not exist; otherwise replay from the first day whose increment changed
    (among the days the sources changed since the last fold, and `through` itself), then fold the
    missing days one by one."""
    commits = snapshot_commits(spark, table)
    versions = _source_versions(spark, list(sources))
    if not commits:
        _replace_increments(table, increments_for(None, through), None, through)
        stored = _increments(spark, table, None, through)
        version = _write_snapshot(spark, table, table.accumulate(None, stored), through,
                                  _checksums(stored, table.checksum_columns), versions, bootstrap=True)
        return AdvanceResult(through, version, bootstrapped=True)
    version, held = commits[-1].version, commits[-1].through_day
    result = AdvanceResult(max(held, through), version)
    candidates = _changed_days(spark, list(sources), commits[-1].sources, versions, held) | {through}
    for day in sorted(d for d in candidates if d <= held):
        fresh = increments_for(day, day)
        if _checksums(fresh, table.checksum_columns).get(day, "0:None") == (_recorded_checksum(commits, day)
                                                                           or "0:None"):
            result.unchanged.append(day)
            continue
        base, _ = state_before(spark, table, day)
        current = day
        while current <= held:  # a correction can move labels of later days too: recompute them
            version = _fold(spark, table, base, current, increments_for, versions, replayed_from=day.isoformat())
            result.replayed.append(current)
            base = _read_version(spark, table.snapshot_path, version)
            current += dt.timedelta(days=1)
        break
    day = held
    while day < through:
        day += dt.timedelta(days=1)
        version = _fold(spark, table, _read_version(spark, table.snapshot_path, version), day, increments_for,
                        versions)
        result.folded.append(day)
    result.version = version
    return result


def _fold(spark: SparkSession, table: CumulativeTable, base: DataFrame, day: dt.date, increments_for: IncrementsFor,
          versions: dict[str, int], **meta: object) -> int:
    """Recompute `day`'s increment, add it to `base` and commit the snapshot through `day` with
    the increment's checksum (the commit is what makes the increment trusted)."""
    _replace_increments(table, increments_for(day, day), day, day)
    stored = _increments(spark, table, day, day)
    return _write_snapshot(spark, table, table.accumulate(base, stored), day,
                           _checksums(stored, table.checksum_columns) or {day: "0:None"}, versions, **meta)
