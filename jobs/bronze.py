"""Bronze: every record of the landing files of one or more days as raw strings plus where it
came from. The driver only lists the files; the executors read them (a local file directly, a
chunk at a time; one on object storage through Spark's `binaryFile`), decode and parse them
(`mapInArrow` over `jobs.landing.parse_local_landing_blocks` or `parse_landing_blocks`), so a
national day is parsed where the data is and no file's content passes through the driver."""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import re
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.landing import (
    LandingFile,
    list_landing_files,
    parse_landing_blocks,
    parse_landing_bytes,
    parse_local_landing_blocks,
)
from jobs.sources import SourceSpec
from jobs.storage import Location, display, is_local, local_path

LINEAGE_FIELDS = [
    T.StructField("_source_file", T.StringType(), False),
    T.StructField("_file_order", T.IntegerType(), False),
    T.StructField("_line_number", T.LongType(), False),
    T.StructField("_file_checksum", T.StringType(), False),
    T.StructField("_file_encoding", T.StringType(), True),
    T.StructField("_file_status", T.StringType(), False),
    T.StructField("_parse_error", T.StringType(), True),
    T.StructField("_raw_line", T.StringType(), True),
]
OUTPUT_ROWS = 100_000  # records per Arrow batch handed back to Spark
MAX_FILE_TASKS = 64  # local landing files are spread over at most this many parsing tasks


def bronze_schema(spec: SourceSpec) -> T.StructType:
    """Raw string columns of the source, lineage columns, ingest time and the partition date."""
    fields = [T.StructField(name, T.StringType(), True) for name in spec.column_names]
    fields += LINEAGE_FIELDS
    fields += [
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField("_partition_date", T.DateType(), False),
    ]
    return T.StructType(fields)


def _parsed_schema(spec: SourceSpec) -> T.StructType:
    return T.StructType([f for f in bronze_schema(spec).fields if f.name != "_ingested_at"])


def glob_escape(uri: str) -> str:
    """A file URI with Hadoop's glob characters escaped: Spark reads each load path as a pattern,
    so a delivery named `declarations[1].csv` would otherwise not be found."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", uri)


def _arrow_schema(spec: SourceSpec) -> pa.Schema:
    arrow_types = {T.DateType: pa.date32(), T.IntegerType: pa.int32(), T.LongType: pa.int64()}
    return pa.schema([(f.name, arrow_types.get(type(f.dataType), pa.string())) for f in _parsed_schema(spec).fields])


def bronze_batches(landing: LandingFile, day: dt.date, order: int, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """One parsed landing file as bronze Arrow batches, its lineage columns filled in."""
    n = len(landing.line_numbers)
    columns = {name: landing.column(name) for name in landing.values}
    columns.update({
        "_source_file": pa.repeat(pa.scalar(landing.path, pa.string()), n),
        "_file_order": pa.repeat(pa.scalar(order, pa.int32()), n),
        "_line_number": landing.lineage("line_numbers", pa.int64()),
        "_file_checksum": pa.repeat(pa.scalar(landing.checksum, pa.string()), n),
        "_file_encoding": pa.repeat(pa.scalar(landing.encoding, pa.string()), n),
        "_file_status": pa.repeat(pa.scalar(landing.status, pa.string()), n),
        "_parse_error": landing.lineage("errors", pa.string()),
        "_raw_line": landing.lineage("raw_lines", pa.string()),
        "_partition_date": pa.repeat(pa.scalar(day, pa.date32()), n),
    })
    table = pa.table({name: columns[name] for name in schema.names}, schema=schema)
    yield from table.to_batches(max_chunksize=OUTPUT_ROWS)


def release_freed_memory() -> None:
    """Hand the memory a finished parsing task freed back to the operating system. Spark keeps an
    idle Python worker alive for the next task, and without this it would go on holding a parsed
    file's worth of Arrow and Python heap while the JVM validates and merges the batch."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its allocator keeps what it keeps
        pass


def parse_files(batches: Iterator[pa.RecordBatch], spec: SourceSpec,
                manifest: dict[str, tuple[dt.date, int]]) -> Iterator[pa.RecordBatch]:
    """On an executor: each row is one landing file, parsed into bronze records: its `content`
    when Spark read the bytes (object storage), else the local file at `path`, read here. When
    the task ends (or fails) its freed memory goes back to the operating system."""
    try:
        # The parsing frame is finished (its last block and input batch dropped) before the release.
        yield from _parse_files(batches, spec, manifest)
    finally:
        release_freed_memory()


def _parse_files(batches: Iterator[pa.RecordBatch], spec: SourceSpec,
                 manifest: dict[str, tuple[dt.date, int]]) -> Iterator[pa.RecordBatch]:
    schema = _arrow_schema(spec)
    for batch in batches:
        paths = batch.column("path")
        contents = batch.column("content") if "content" in batch.schema.names else None
        for i, uri in enumerate(paths.to_pylist()):  # one file's bytes as a Python object at a time
            day, order = manifest[uri]
            # A local file is read a chunk at a time; Spark's bytes are passed on with no name here
            # keeping them, so the parser drops them once a CP949 file is transcoded.
            blocks = (parse_landing_blocks(contents[i].as_py(), spec, display(uri)) if contents is not None
                      else parse_local_landing_blocks(local_path(uri), spec, display(uri)))
            for block in blocks:
                yield from bronze_batches(block, day, order, schema)


def read_bronze_batch(spark: SparkSession, spec: SourceSpec, landing_dir: Location, days: list[dt.date],
                      ingested_at: dt.datetime) -> DataFrame:
    """Every landing file of `spec` for `days` as one bronze DataFrame (explicit schema);
    `_file_order` is the delivery order within each day. Parsed on the executors; a zero-byte
    file (which Spark's file sources skip) becomes its error row here, with no content to hold."""
    listed = [(f, day, order) for day in days
              for order, f in enumerate(list_landing_files(spark, landing_dir, spec.name, day))]
    manifest = {f.uri: (day, order) for f, day, order in listed}
    schema, parsed_schema = bronze_schema(spec), _parsed_schema(spec)
    parsed = spark.createDataFrame([], parsed_schema)
    with_content = [f.uri for f, _, _ in listed if f.size > 0]
    if with_content:
        if all(is_local(uri) for uri in with_content):
            # The task that parses a local file reads it: its bytes never sit in the JVM's heap.
            files = spark.createDataFrame([(uri,) for uri in with_content], "path string")
            files = files.repartition(min(len(with_content), MAX_FILE_TASKS))
        else:
            files = spark.read.format("binaryFile").load([glob_escape(uri) for uri in with_content])
            files = files.select("path", "content")
        parsed = files.mapInArrow(lambda batches: parse_files(batches, spec, manifest), parsed_schema)
    empty_files = [(f, day, order) for f, day, order in listed if f.size == 0]
    if empty_files:
        arrow_schema = _arrow_schema(spec)
        empty = [batch for f, day, order in empty_files
                 for batch in bronze_batches(parse_landing_bytes(b"", spec, display(f.uri)), day, order, arrow_schema)]
        parsed = parsed.unionByName(spark.createDataFrame(pa.Table.from_batches(empty).to_pandas(), parsed_schema))
    with_time = parsed.withColumn("_ingested_at", F.lit(ingested_at).cast("timestamp"))
    return with_time.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
