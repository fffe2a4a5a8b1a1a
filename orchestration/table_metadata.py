"""Metadata every table asset carries: its Delta table's columns as Dagster shows them."""

from __future__ import annotations

import dagster as dg
from pyspark.sql import SparkSession

from jobs.storage import Location


def delta_table_metadata(spark: SparkSession, path: Location) -> dict[str, object]:
    """`dagster/column_schema` of the Delta table at `path` as written (read from its log, no data
    scanned), and the path itself; empty when the table does not exist yet."""
    try:
        schema = spark.read.format("delta").load(str(path)).schema
    except Exception:  # noqa: BLE001 - no table yet: nothing to describe
        return {}
    columns = [dg.TableColumn(f.name, f.dataType.simpleString(), description=(f.metadata or {}).get("comment"))
               for f in schema.fields]
    return {"dagster/column_schema": dg.TableSchema(columns=columns), "path": dg.MetadataValue.path(str(path))}
