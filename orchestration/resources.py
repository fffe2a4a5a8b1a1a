"""Resources: the lake's settings and the one SparkSession, chosen per environment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr
from pyspark.sql import SparkSession

from jobs.settings import Settings, profile
from jobs.spark_session import build_spark_session


class LakeResource(dg.ConfigurableResource):
    """Where landing files, Delta tables, reports and published outputs live, and the quality
    gate's threshold. Empty fields fall back to the CUSTOMS_* environment variables."""

    landing_dir: str = ""
    lake_dir: str = ""
    publish_dir: str = ""
    gx_dir: str = ""
    max_quarantine_share: float = -1.0

    def settings(self) -> Settings:
        """The effective settings: environment defaults overridden by this resource's config."""
        base = Settings.from_env()
        overrides = {
            name: Path(value).resolve()
            for name, value in (("landing_dir", self.landing_dir), ("lake_dir", self.lake_dir),
                                ("publish_dir", self.publish_dir), ("gx_dir", self.gx_dir))
            if value
        }
        if self.max_quarantine_share >= 0:
            overrides["max_quarantine_share"] = self.max_quarantine_share
        return replace(base, **overrides)


class SparkResource(dg.ConfigurableResource):
    """The one SparkSession every asset uses: local[2] by default, a cluster through
    CUSTOMS_SPARK_MASTER, Spark Connect through CUSTOMS_SPARK_REMOTE. Created on first use and
    reused for every step of an in-process run."""

    _session: SparkSession | None = PrivateAttr(default=None)

    def session(self) -> SparkSession:
        """The shared SparkSession (started on first call)."""
        if self._session is None:
            self._session = build_spark_session(Settings.from_env())
        return self._session


RESOURCES_BY_ENV: dict[str, dict[str, dg.ConfigurableResource]] = {
    # Embedded default: local Spark, Delta on local disk, folders from CUSTOMS_* or data/.
    "local": {"lake": LakeResource(), "spark": SparkResource()},
    # Production differs only by configuration: the same resources read the prod profile's defaults
    # (lake and landing on s3a://, MLflow and Dagster on PostgreSQL; see jobs/settings.py).
    "prod": {"lake": LakeResource(), "spark": SparkResource()},
}


def resources_for_env() -> dict[str, dg.ConfigurableResource]:
    """Resources for CUSTOMS_ENV (default `local`)."""
    return RESOURCES_BY_ENV[profile()]
