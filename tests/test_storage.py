"""Lake and landing zone as URIs (file:// here; s3a:// and abfss:// go through the same code)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from expectations.runner import GxValidator
from jobs.bronze import parse_files
from jobs.ingest import land_bronze, refine_silver
from jobs.sources import SOURCES
from jobs.storage import join, list_files, local_path, normalize
from orchestration.automation import landing_snapshot
from tests.conftest import DAY, declaration_line, write_landing


def test_joins_keep_the_scheme_and_local_paths_stay_paths(tmp_path):
    assert join("s3a://bucket/lake", "silver", "declarations") == "s3a://bucket/lake/silver/declarations"
    assert join("abfss://c@a.dfs.core.windows.net/lake/", "gold") == "abfss://c@a.dfs.core.windows.net/lake/gold"
    assert normalize("s3a://bucket/lake/") == "s3a://bucket/lake"
    assert normalize(str(tmp_path / "x" / "..")) == tmp_path and isinstance(join(tmp_path, "a"), Path)
    assert local_path(f"file://{tmp_path}") == tmp_path


def test_ingestion_and_sensor_on_file_uris(spark, settings, tmp_path):
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2"), "bad"])
    write_landing(settings.landing_dir, "b b.csv", [declaration_line("3")])  # a space in the name
    write_landing(settings.landing_dir, "c[1].csv", [declaration_line("4")])  # glob characters
    uris = replace(settings, landing_dir=f"file://{settings.landing_dir}", lake_dir=f"file://{tmp_path}/uri-lake")
    listed = list_files(spark, join(uris.landing_dir, "declarations", DAY.isoformat()), ".csv")
    assert sorted(f.name for f in listed) == ["a.csv", "b b.csv", "c[1].csv"]

    bronze = land_bronze(spark, SOURCES["declarations"], uris, DAY)
    result = refine_silver(spark, SOURCES["declarations"], uris, DAY, GxValidator(), max_quarantine_share=None)
    assert bronze.rows == 5 and {f["file"] for f in bronze.files} == {"a.csv", "b b.csv", "c[1].csv"}
    assert (result.valid_rows, result.parse_errors, result.inserted) == (4, 1, 4)
    silver = spark.read.format("delta").load(str(uris.table_path("silver", "declarations")))
    assert silver.count() == 4 and (tmp_path / "uri-lake" / "silver" / "declarations" / "_delta_log").is_dir()
    source_files = {r["_source_file"] for r in silver.select("_source_file").distinct().collect()}
    folder = settings.landing_dir / "declarations" / DAY.isoformat()
    assert source_files == {str(folder / name) for name in ("a.csv", "b b.csv", "c[1].csv")}

    snapshot = landing_snapshot(uris.landing_dir, 0, now=time.time() + 60)
    assert [name for name, _, _ in snapshot[("declarations", DAY.isoformat())]] == ["a.csv", "b b.csv", "c[1].csv"]


def test_a_local_file_is_read_by_its_task_as_spark_would_hand_its_bytes(settings):
    """The parsing task reads a local landing file itself (its bytes never sit in the JVM's heap);
    a file on object storage comes with its bytes from Spark's `binaryFile`: same bronze rows."""
    path = write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), "bad", declaration_line("2")])
    uri = f"file:{path}"
    manifest = {uri: (DAY, 0)}
    spec = SOURCES["declarations"]
    by_path = pa.record_batch([pa.array([uri])], names=["path"])
    content = pa.array([path.read_bytes()], pa.binary())
    with_bytes = pa.record_batch([pa.array([uri]), content], names=["path", "content"])
    read_here = pa.Table.from_batches(list(parse_files(iter([by_path]), spec, manifest)))
    handed = pa.Table.from_batches(list(parse_files(iter([with_bytes]), spec, manifest)))
    assert read_here.equals(handed) and read_here.num_rows == 3
    assert read_here.column("_source_file").to_pylist() == [str(path)] * 3


def test_a_parsing_task_hands_back_its_memory_once_its_blocks_are_gone(settings, monkeypatch):
    """An idle Python worker would otherwise hold a parsed file's memory while the JVM validates:
    the release runs once when the task ends or fails, after its last block is unreachable."""
    import gc
    import weakref

    import jobs.bronze as bronze

    path = write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2")])
    uri = f"file:{path}"
    by_path = pa.record_batch([pa.array([uri])], names=["path"])
    blocks: list[weakref.ref] = []
    parse = bronze.parse_local_landing_blocks

    def tracked(*args, **kwargs):
        for block in parse(*args, **kwargs):
            blocks.append(weakref.ref(block))
            yield block

    alive_at_release: list[int] = []

    def release() -> None:
        gc.collect()
        alive_at_release.append(sum(ref() is not None for ref in blocks))

    monkeypatch.setattr(bronze, "parse_local_landing_blocks", tracked)
    monkeypatch.setattr(bronze, "release_freed_memory", release)
    out = list(parse_files(iter([by_path]), SOURCES["declarations"], {uri: (DAY, 0)}))
    assert sum(b.num_rows for b in out) == 2 and blocks and alive_at_release == [0]
    with pytest.raises(KeyError):  # a file the manifest does not list
        list(parse_files(iter([by_path]), SOURCES["declarations"], {}))
    assert len(alive_at_release) == 2
