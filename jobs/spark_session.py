"""Build the one SparkSession the project uses, with Delta Lake from the jars fetched at set-up."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from jobs.settings import Settings

DELTA_VERSION = "4.4.0"
DELTA_JARS = (f"delta-spark_4.2_2.13-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")

# Small-data defaults for one machine; CUSTOMS_SPARK_CONF overrides any of them.
LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "4g",
}


def delta_jar_paths(settings: Settings) -> list[str]:
    """Absolute paths of the Delta jars; a clear error when the set-up has not fetched them."""
    paths = [settings.jars_dir / name for name in DELTA_JARS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Delta Lake jars missing: {missing}. Run `make setup` (fetches them with Maven into "
            f"{settings.jars_dir}) or set CUSTOMS_JARS_DIR."
        )
    return [str(p) for p in paths]


def build_spark_session(settings: Settings, app_name: str = "customs-risk") -> SparkSession:
    """Start (or reuse) the SparkSession: local by default, a cluster via CUSTOMS_SPARK_MASTER,
    or Spark Connect via CUSTOMS_SPARK_REMOTE; Delta is configured through the fetched jars."""
    builder = SparkSession.builder.appName(app_name)
    conf = dict(LOCAL_DEFAULTS)
    conf.update(
        {
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        }
    )
    if settings.spark_remote:
        builder = builder.remote(settings.spark_remote)
    else:
        builder = builder.master(settings.spark_master)
        conf["spark.jars"] = ",".join(delta_jar_paths(settings))
        # Python workers (scoring in Arrow batches) run the project's interpreter, not the system's.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf.update(settings.spark_conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not settings.spark_remote:
        spark.sparkContext.setLogLevel("ERROR")
    return spark
