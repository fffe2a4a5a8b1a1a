"""Bronze: every line of the landing files of one or more days as raw strings plus where it came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.landing import LandingFile, list_landing_files, parse_landing_file
from jobs.sources import SourceSpec

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


def bronze_schema(spec: SourceSpec) -> T.StructType:
    """Raw string columns of the source, lineage columns, ingest time and the partition date."""
    fields = [T.StructField(name, T.StringType(), True) for name in spec.column_names]
    fields += LINEAGE_FIELDS
    fields += [
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField("_partition_date", T.DateType(), False),
    ]
    return T.StructType(fields)


@dataclass
class BronzeBatch:
    """The bronze rows of one source and day, and what was found in its files."""

    df: DataFrame
    files: list[LandingFile]

    @property
    def rows_read(self) -> int:
        """Data lines read across all files (file-level problems count as one row each)."""
        return sum(len(f.rows) for f in self.files)

    def file_summary(self) -> list[dict[str, object]]:
        """One line per file for run metadata: name, encoding, status, rows, checksum prefix."""
        return [
            {"file": f.path.name, "encoding": f.encoding, "status": f.status, "rows": len(f.rows),
             "sha256": f.checksum[:12]}
            for f in self.files
        ]


def read_bronze_batch(
    spark: SparkSession, spec: SourceSpec, landing_dir: Path, days: list[dt.date], ingested_at: dt.datetime
) -> BronzeBatch:
    """Parse every landing file of `spec` for `days` into one bronze DataFrame (explicit schema);
    `_file_order` is the delivery order within each day."""
    columns: dict[str, list] = {name: [] for name in bronze_schema(spec).fieldNames()}
    files: list[LandingFile] = []
    for day in days:
        day_files = [parse_landing_file(p, spec) for p in list_landing_files(landing_dir, spec.name, day)]
        files += day_files
        for order, landing in enumerate(day_files):
            _append_rows(columns, spec, landing, order, day)
    n = len(columns["_source_file"])
    columns["_ingested_at"] = [ingested_at] * n
    schema = bronze_schema(spec)
    arrow_schema = pa.schema(
        [(f.name, _arrow_type(f.dataType), f.nullable) for f in schema.fields]
    )
    table = pa.Table.from_pydict(columns, schema=arrow_schema)
    df = spark.createDataFrame(table) if n else spark.createDataFrame([], schema)
    return BronzeBatch(df=_conform(df, schema), files=files)


def _append_rows(columns: dict[str, list], spec: SourceSpec, landing: LandingFile, order: int, day: dt.date) -> None:
    for row in landing.rows:
        for name in spec.column_names:
            columns[name].append(row.values.get(name))
        columns["_source_file"].append(str(landing.path))
        columns["_file_order"].append(order)
        columns["_line_number"].append(row.line_number)
        columns["_file_checksum"].append(landing.checksum)
        columns["_file_encoding"].append(landing.encoding)
        columns["_file_status"].append(landing.status)
        columns["_parse_error"].append(row.parse_error)
        columns["_raw_line"].append(row.raw_line)
        columns["_partition_date"].append(day)


def _arrow_type(dtype: T.DataType) -> pa.DataType:
    mapping = {
        T.StringType: pa.string(), T.IntegerType: pa.int32(), T.LongType: pa.int64(),
        T.DateType: pa.date32(), T.TimestampType: pa.timestamp("us", tz="UTC"),
    }
    return mapping[type(dtype)]


def _conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Cast to the exact declared schema (Arrow conversion can loosen nullability/types)."""
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
