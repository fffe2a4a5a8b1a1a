"""Lake and landing locations as URIs: a local folder, `file:///...`, `s3a://bucket/...`,
`abfss://container@account.dfs.core.windows.net/...`. Paths are joined as strings (pathlib would
fold `s3a://` into `s3a:/`), and files are listed through Hadoop's FileSystem API (the one Spark
reads with, so any scheme Spark is configured for works), or through Spark itself on a Spark
Connect session, which has no JVM on the client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def is_uri(location: str | Path) -> bool:
    """Whether `location` names a scheme (`s3a://`, `file:///`), as opposed to a plain local path."""
    scheme = urlparse(str(location)).scheme
    return len(scheme) > 1  # a Windows drive letter is not a scheme


Location = Path | str  # a local folder as a Path, anything with a scheme as a URI string


def normalize(location: str | Path) -> Location:
    """A location as the settings keep it: a URI as a string (without a trailing slash), a plain
    path as an absolute Path (so local-only code keeps pathlib)."""
    text = str(location)
    return text.rstrip("/") if is_uri(text) else Path(text).expanduser().resolve()


def join(base: Location, *parts: str) -> Location:
    """`base` and `parts` joined with `/`: a Path stays a Path, a URI stays a URI (pathlib would
    fold `s3a://` into `s3a:/`)."""
    if isinstance(base, Path):
        return base.joinpath(*parts)
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


def is_local(location: str | Path) -> bool:
    """Whether `location` is on this machine's disk (a plain path or a `file:` URI)."""
    return not is_uri(location) or urlparse(str(location)).scheme == "file"


def local_path(location: str | Path) -> Path:
    """The local path of a plain path or `file:` URI (for local-only code: previews, reports)."""
    if not is_local(location):
        raise ValueError(f"{location} is not on the local disk")
    text = str(location)
    return Path(urlparse(text).path) if is_uri(text) else Path(text)


def display(uri: str) -> str:
    """A listed file's URI as lineage shows it: the plain path for a local file, else the URI."""
    return str(local_path(uri)) if is_local(uri) else uri


@dataclass(frozen=True)
class ListedFile:
    """One file of a listing: its full URI as Spark reports it, modification time and size."""

    uri: str
    name: str
    modified_ms: int
    size: int


def list_files(spark: SparkSession, folder: str, suffix: str = "") -> list[ListedFile]:
    """The files directly in `folder` whose name ends with `suffix` (case-insensitive); empty when
    the folder does not exist. Hidden and in-progress files (`.` or `_` first) are skipped."""
    jvm = getattr(spark.sparkContext, "_jvm", None) if not _is_connect(spark) else None
    listed = _list_hadoop(spark, jvm, folder) if jvm is not None else _list_spark(spark, folder)
    return [f for f in listed if f.name.lower().endswith(suffix.lower()) and not f.name.startswith((".", "_"))]


def _is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _list_hadoop(spark: SparkSession, jvm, folder: str) -> list[ListedFile]:
    hadoop_path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path) or not fs.getFileStatus(hadoop_path).isDirectory():
        return []
    return [ListedFile(s.getPath().toString(), s.getPath().getName(), int(s.getModificationTime()), int(s.getLen()))
            for s in fs.listStatus(hadoop_path) if s.isFile()]


def _list_spark(spark: SparkSession, folder: str) -> list[ListedFile]:
    try:  # binaryFile reads no content when only its metadata columns are selected
        rows = (spark.read.format("binaryFile").option("recursiveFileLookup", "false").load(folder)
                .select("path", F.col("modificationTime").cast("long").alias("mtime"), "length").collect())
    except AnalysisException:
        return []
    return [ListedFile(r["path"], r["path"].rsplit("/", 1)[-1], int(r["mtime"]) * 1000, int(r["length"]))
            for r in rows]
