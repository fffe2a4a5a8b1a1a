"""Build the one SparkSession the project uses, with Delta Lake from the jars fetched at set-up."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.settings import PROJECT_ROOT, Settings

DELTA_VERSION = "4.4.0"
DELTA_JARS = (f"delta-spark_4.2_2.13-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
# Hadoop's S3A connector matching the Hadoop 3.5.0 inside pyspark 4.2.0, with the AWS SDK bundle and
# the analytics accelerator it is built against (`make setup-prod` fetches them).
S3A_JARS = ("hadoop-aws-3.5.0.jar", "bundle-2.35.4.jar", "analyticsaccelerator-s3-1.3.1.jar")

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

# Where Spark runs inside this process's JVM, that JVM uses the throughput collector: batch work on
# a few cores has no use for G1's short pauses, and G1's concurrent cycles cost time in a tight heap
# (benchmarks/ingest_day.py, see the README). A cluster's drivers keep their own JVM options.
LOCAL_JVM_DEFAULTS = {"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"}


# On a cluster the executors are other JVMs (other machines): modest per-executor memory, shuffle
# partitions for more than two cores. CUSTOMS_SPARK_CONF overrides any of them.
CLUSTER_DEFAULTS = {
    "spark.executor.memory": "2g",
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
}

# The project's packages that run inside executors (Arrow-batch scoring, bronze parsing, features).
EXECUTOR_PACKAGES = ("jobs", "features", "models", "expectations")


def fetched_jars(settings: Settings, names: tuple[str, ...], missing_hint: str) -> list[str]:
    """Absolute paths of jars the set-up fetched into CUSTOMS_JARS_DIR; a FileNotFoundError naming
    the missing ones and `missing_hint` (what to run) otherwise."""
    paths = [settings.jars_dir / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(missing_hint.format(missing=missing, jars_dir=settings.jars_dir))
    return [str(p) for p in paths]


def delta_jar_paths(settings: Settings) -> list[str]:
    """Absolute paths of the Delta jars; a clear error when the set-up has not fetched them."""
    return fetched_jars(settings, DELTA_JARS, "Delta Lake jars missing: {missing}. Run `make setup` (fetches them "
                        "with Maven into {jars_dir}) or set CUSTOMS_JARS_DIR.")


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
        conf.update(LOCAL_JVM_DEFAULTS if is_local_master(settings.spark_master) else CLUSTER_DEFAULTS)
        conf["spark.jars"] = ",".join(delta_jar_paths(settings) + object_store_jar_paths(settings))
        # Python workers (scoring in Arrow batches) run the project's interpreter, not the system's.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf.update(object_store_conf(settings))
    conf.update(settings.spark_conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not settings.spark_remote:
        spark.sparkContext.setLogLevel("ERROR")
        if not is_local_master(settings.spark_master):
            spark.sparkContext.addPyFile(str(project_code_zip()))
    return spark


def uses_s3a(settings: Settings) -> bool:
    """Whether the lake or the landing zone is on an S3-compatible object store (`s3a://`)."""
    return any(str(location).startswith("s3a://") for location in (settings.lake_dir, settings.landing_dir))


def object_store_jar_paths(settings: Settings) -> list[str]:
    """The S3A jars when the lake or landing zone is on `s3a://` (none otherwise); a clear error
    when the set-up has not fetched them."""
    if not uses_s3a(settings):
        return []
    return fetched_jars(settings, S3A_JARS, "S3A jars missing: {missing}. The lake or landing zone is on s3a://: "
                        "run `make setup-prod` (fetches Hadoop's S3A connector with Maven into {jars_dir}).")


def object_store_conf(settings: Settings) -> dict[str, str]:
    """S3A settings for an S3-compatible store other than AWS (CUSTOMS_S3_ENDPOINT: MinIO, Ceph, a
    test server): its endpoint, path-style addressing and a region. Credentials are not set here:
    S3A's default chain reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an instance role) from
    the environment, so no key ever sits in Spark's configuration, its UI or a log."""
    if not settings.s3_endpoint:
        return {}
    return {
        "spark.hadoop.fs.s3a.endpoint": settings.s3_endpoint,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(settings.s3_endpoint.startswith("https")).lower(),
        "spark.hadoop.fs.s3a.endpoint.region": os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


def is_local_master(master: str) -> bool:
    """Whether Spark runs inside this process's JVM (`local`, `local[2]`, `local[*]`)."""
    return master == "local" or master.startswith("local[")


def project_code_zip() -> Path:
    """The project's executor-side packages zipped, for `addPyFile`: executors on other machines
    import the same code the driver runs (their Python still needs the dependencies installed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in EXECUTOR_PACKAGES:
            for source in sorted((PROJECT_ROOT / package).rglob("*")):
                if source.is_file() and source.suffix in {".py", ".json"} and "__pycache__" not in source.parts:
                    # a fixed timestamp: the same code gives the same bytes, so one file per version of the code
                    info = zipfile.ZipInfo(source.relative_to(PROJECT_ROOT).as_posix(), (2020, 1, 1, 0, 0, 0))
                    archive.writestr(info, source.read_bytes(), zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    target = Path(tempfile.gettempdir()) / f"customs-risk-code-{hashlib.sha256(data).hexdigest()[:16]}.zip"
    if not target.exists():
        staged = target.with_suffix(f".{os.getpid()}.tmp")
        staged.write_bytes(data)
        staged.replace(target)
    return target
