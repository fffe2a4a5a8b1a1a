"""One settings object, read from the environment, with embedded local defaults."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from jobs.storage import Location, join, normalize

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(var: str, default: str) -> Path:
    return Path(os.environ.get(var, default)).expanduser().resolve()


def _gx_keep_results() -> int:
    """CUSTOMS_GX_KEEP_RESULTS; the name it replaced is refused, not silently ignored."""
    if "CUSTOMS_GX_KEEP_DAYS" in os.environ:
        raise ValueError("CUSTOMS_GX_KEEP_DAYS is now CUSTOMS_GX_KEEP_RESULTS: the validation results each source "
                         "keeps (one per run, a day's or a range's); rename it")
    return int(os.environ.get("CUSTOMS_GX_KEEP_RESULTS", "90"))


def parse_spark_conf(raw: str) -> dict[str, str]:
    """Parse CUSTOMS_SPARK_CONF: a JSON object or comma-separated key=value pairs."""
    raw = raw.strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    pairs = {}
    for item in raw.split(","):
        if "=" not in item:
            raise ValueError(f"CUSTOMS_SPARK_CONF entry {item!r} is not key=value")
        key, value = item.split("=", 1)
        pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class LaneCapacity:
    """A channel's daily inspection capacity per lane: red (physical inspection) and yellow
    (document check), each a share of the day's records (below 1) or a number of records (1 or
    more). Green (cleared) is the rest."""

    red: float
    yellow: float

    def sizes(self, records: int) -> tuple[int, int]:
        """(red, yellow) slots for a day of `records` records."""
        def size(value: float) -> int:
            # round first: 0.07 * 100000 is 7000.000000000001 in floating point, not a 7001st slot
            return min(records, int(value) if value >= 1 else math.ceil(round(value * records, 9)))
        red = size(self.red)
        return red, min(records - red, size(self.yellow))


DEFAULT_CAPACITY = {
    "declarations": LaneCapacity(red=0.03, yellow=0.07),
    "express": LaneCapacity(red=0.03, yellow=0.07),
    "mail": LaneCapacity(red=0.05, yellow=0.10),
}


def _capacity(raw: str) -> dict[str, LaneCapacity]:
    """CUSTOMS_CAPACITY (a JSON object channel -> {"red": x, "yellow": y}) over the defaults."""
    capacity = dict(DEFAULT_CAPACITY)
    for channel, lanes in (json.loads(raw) if raw.strip() else {}).items():
        if channel not in capacity or not isinstance(lanes, dict) or set(lanes) - {"red", "yellow"}:
            raise ValueError(f"CUSTOMS_CAPACITY: {channel!r}: {lanes!r} is not a channel with red/yellow capacity")
        base = capacity[channel]
        values = {"red": float(lanes.get("red", base.red)), "yellow": float(lanes.get("yellow", base.yellow))}
        if min(values.values()) < 0:
            raise ValueError(f"CUSTOMS_CAPACITY: {channel!r}: capacity cannot be negative")
        capacity[channel] = LaneCapacity(**values)
    return capacity


def state_root() -> Path | None:
    """CUSTOMS_HOME: one folder under which every piece of state goes by default (landing, lake,
    publish, GX project, ground truth, Dagster home, MLflow store), so a second environment on
    one machine is one variable. Unset: the project's own folders."""
    home = os.environ.get("CUSTOMS_HOME")
    return Path(home).expanduser().resolve() if home else None


PROFILES = ("local", "prod")


def profile() -> str:
    """CUSTOMS_ENV: `local` (the embedded default: local disk, SQLite, Dagster's local storage) or
    `prod` (lake and landing on an S3-compatible store, Dagster and MLflow on PostgreSQL, MLflow
    artifacts on the store). Every default the profile picks is still overridden by its own variable."""
    env = os.environ.get("CUSTOMS_ENV", "local")
    if env not in PROFILES:
        raise ValueError(f"CUSTOMS_ENV={env!r}: expected one of {PROFILES}")
    return env


def object_store_bucket() -> str:
    """CUSTOMS_S3_BUCKET: the bucket of the production profile's lake, landing zone and models."""
    return os.environ.get("CUSTOMS_S3_BUCKET", "customs-lake")


def _default(name: str, project_default: str, on_object_store: bool = False) -> str:
    """A location's default: on the object store in the prod profile (lake and landing zone), else
    under CUSTOMS_HOME when set, else the project folder's."""
    if on_object_store and profile() == "prod":
        return f"s3a://{object_store_bucket()}/{name}"
    root = state_root()
    return str(root / name) if root else project_default


def default_dagster_home() -> Path:
    """DAGSTER_HOME when set, else <CUSTOMS_HOME>/dagster_home, else .dagster_home in the project
    (.dagster_home_prod for the prod profile, whose run history is in PostgreSQL)."""
    root = state_root()
    folder = ".dagster_home_prod" if profile() == "prod" else ".dagster_home"
    return Path(os.environ.get("DAGSTER_HOME") or (root / "dagster_home" if root else PROJECT_ROOT / folder))


# SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; the pinned driver is psycopg2.
POSTGRES_DRIVER = "postgresql+psycopg2"


@dataclass(frozen=True)
class PostgresServer:
    """Where the prod profile's PostgreSQL is: libpq's own variables (PGHOST, PGPORT, PGUSER) with
    local defaults. The password is never part of it: libpq, Dagster and MLflow read PGPASSWORD
    from the environment, so it appears in no URI, configuration file or log."""

    host: str
    port: int
    user: str

    @classmethod
    def from_env(cls) -> PostgresServer:
        """The server named by PGHOST / PGPORT / PGUSER (defaults 127.0.0.1, 5432, customs)."""
        return cls(os.environ.get("PGHOST", "127.0.0.1"), int(os.environ.get("PGPORT", "5432")),
                   os.environ.get("PGUSER", "customs"))

    def url(self, database: str) -> str:
        """A SQLAlchemy URL without the password (libpq adds PGPASSWORD)."""
        return f"{POSTGRES_DRIVER}://{self.user}@{self.host}:{self.port}/{database}"


def without_password(uri: str) -> str:
    """`uri` with any password in it replaced by `***`, for printing and metadata."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def dagster_database() -> str:
    """CUSTOMS_DAGSTER_DB: the prod profile's database for Dagster's runs, event logs and schedules."""
    return os.environ.get("CUSTOMS_DAGSTER_DB", "customs_dagster")


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set; in the prod profile PostgreSQL's CUSTOMS_MLFLOW_DB (default
    customs_mlflow); else SQLite at <CUSTOMS_HOME>/mlflow.db, else in the project."""
    explicit = os.environ.get("MLFLOW_TRACKING_URI")
    if explicit:
        return explicit
    if profile() == "prod":
        return PostgresServer.from_env().url(os.environ.get("CUSTOMS_MLFLOW_DB", "customs_mlflow"))
    return f"sqlite:///{(state_root() or PROJECT_ROOT) / 'mlflow.db'}"


def default_artifact_root() -> str:
    """Where new MLflow experiments keep their models and charts: CUSTOMS_MLFLOW_ARTIFACT_ROOT; in
    the prod profile `s3://<bucket>/mlflow` (boto3, keys from the environment, CUSTOMS_S3_ENDPOINT
    for a store other than AWS); else an `mlruns` folder beside a SQLite store, else in the project."""
    explicit = os.environ.get("CUSTOMS_MLFLOW_ARTIFACT_ROOT")
    if explicit:
        return explicit.rstrip("/")
    if profile() == "prod":
        return f"s3://{object_store_bucket()}/mlflow"
    tracking = default_tracking_uri()
    if tracking.startswith("sqlite:///"):
        return (Path(tracking.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()
    return (PROJECT_ROOT / "mlruns").as_uri()


def _share(var: str, default: str) -> float:
    value = float(os.environ.get(var, default))
    if not 0 <= value <= 1:
        raise ValueError(f"{var}={value}: a share between 0 and 1")
    return value


DAILY_SOURCES = ("declarations", "express", "mail", "inspection_results", "platform_orders")


@dataclass(frozen=True)
class Settings:
    """Where data lives and how Spark runs; every field has an environment variable."""

    landing_dir: Location  # a local folder, or a URI (s3a://, abfss://, file:///)
    lake_dir: Location
    publish_dir: Path
    gx_dir: Path
    truth_dir: Path
    jars_dir: Path
    spark_master: str
    spark_remote: str | None
    spark_conf: dict[str, str] = field(default_factory=dict)
    s3_endpoint: str | None = None  # an S3-compatible store's URL when it is not AWS S3
    max_quarantine_share: float = 0.05
    gx_keep_results: int = 90  # validation results per source the Data Docs keep (one per run: a day or a range)
    # Sources that must deliver every day (a day without files warns); the others may be empty.
    daily_sources: tuple[str, ...] = DAILY_SOURCES
    partition_start: str = "2020-01-01"
    capacity: dict[str, LaneCapacity] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    critical_share: float = 0.2  # of red capacity reserved for the highest critical scores
    exploration_share: float = 0.1  # of red capacity given to random picks outside the model's own

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from CUSTOMS_* environment variables (defaults: local disk, local[2])."""
        return cls(
            landing_dir=normalize(os.environ.get("CUSTOMS_LANDING_DIR")
                                  or _default("landing", "data/landing", on_object_store=True)),
            lake_dir=normalize(os.environ.get("CUSTOMS_LAKE_DIR")
                               or _default("lake", "data/lake", on_object_store=True)),
            publish_dir=_path("CUSTOMS_PUBLISH_DIR", _default("publish", "publish")),
            gx_dir=_path("CUSTOMS_GX_DIR", _default("gx", "data/gx")),
            truth_dir=_path("CUSTOMS_GROUND_TRUTH_DIR", _default("ground_truth", "data/ground_truth")),
            jars_dir=_path("CUSTOMS_JARS_DIR", str(PROJECT_ROOT / ".jars")),
            spark_master=os.environ.get("CUSTOMS_SPARK_MASTER", "local[2]"),
            spark_remote=os.environ.get("CUSTOMS_SPARK_REMOTE") or None,
            spark_conf=parse_spark_conf(os.environ.get("CUSTOMS_SPARK_CONF", "")),
            s3_endpoint=os.environ.get("CUSTOMS_S3_ENDPOINT") or None,
            max_quarantine_share=float(os.environ.get("CUSTOMS_MAX_QUARANTINE_SHARE", "0.05")),
            gx_keep_results=_gx_keep_results(),
            daily_sources=tuple(s.strip() for s in os.environ.get("CUSTOMS_DAILY_SOURCES", ",".join(DAILY_SOURCES))
                                .split(",") if s.strip()),
            partition_start=os.environ.get("CUSTOMS_PARTITION_START", "2020-01-01"),
            capacity=_capacity(os.environ.get("CUSTOMS_CAPACITY", "")),
            critical_share=_share("CUSTOMS_CRITICAL_SHARE", "0.2"),
            exploration_share=_share("CUSTOMS_EXPLORATION_SHARE", "0.1"),
        )

    def table_path(self, layer: str, table: str) -> Location:
        """Location of a Delta table: $CUSTOMS_LAKE_DIR/<layer>/<table> (a Path on local disk, a
        URI string on object storage)."""
        return join(self.lake_dir, layer, table)
