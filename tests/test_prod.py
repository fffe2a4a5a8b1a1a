"""The prod profile by configuration alone: lake and landing on an S3-compatible store (s3a://),
Dagster's run history and MLflow's registry on PostgreSQL, MLflow's artifacts on the store; the
results equal the local profile's, and no secret reaches a log, a table or Dagster's metadata.

Needs the servers `make test-prod` starts (PostgreSQL, moto's S3 server) and its environment
(PG*, AWS_* keys, CUSTOMS_S3_ENDPOINT). The history is generated once in this process; then, in
each profile, the real CLI trains, registers and promotes the selectors (`customs-risk train`)
and runs the day (`customs-risk run`: ingestion from landing files, state, target lists)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import boto3
import pandas as pd
import psycopg2
import pytest
from mlflow.tracking import MlflowClient

from jobs.settings import PostgresServer
from models.channels import SELECTORS
from tests.lake_compare import DAY, DAY_TABLES, build_history, customs_risk, failure, published_lists, read_table

pytestmark = pytest.mark.prod

SECRETS = ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")


def _s3():
    return boto3.client("s3", endpoint_url=os.environ["CUSTOMS_S3_ENDPOINT"])


def _upload(folder: Path, bucket: str, prefix: str) -> None:
    s3 = _s3()
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")


def _download(bucket: str, prefix: str, folder: Path) -> list[str]:
    s3, keys = _s3(), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            keys.append(item["Key"])
            target = folder / item["Key"].removeprefix(f"{prefix}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
    return keys


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """One history, then train + the day under each profile: `local` in its own CUSTOMS_HOME,
    `prod` with only CUSTOMS_ENV=prod, the bucket and the servers' variables."""
    missing = [v for v in ("CUSTOMS_S3_ENDPOINT", "PGPASSWORD", "PGPORT") if not os.environ.get(v)]
    if missing:
        pytest.fail(f"{missing} unset: run `make test-prod` (it starts PostgreSQL and the object store)")
    root = tmp_path_factory.mktemp("prod")
    build_history(spark, root / "base", train=False)
    bucket = f"customs-lake-{uuid.uuid4().hex[:10]}"
    _s3().create_bucket(Bucket=bucket)
    _upload(root / "base" / "lake", bucket, "lake")
    _upload(root / "base" / "landing", bucket, "landing")
    shutil.copytree(root / "base", root / "local")
    profiles = {
        "local": {"CUSTOMS_HOME": str(root / "local")},
        # Nothing but the profile and where its servers are: the defaults do the rest.
        "prod": {"CUSTOMS_ENV": "prod", "CUSTOMS_S3_BUCKET": bucket, "CUSTOMS_HOME": str(root / "prod"),
                 "CUSTOMS_S3_ENDPOINT": os.environ["CUSTOMS_S3_ENDPOINT"]},
    }
    done = {name: [customs_risk(["train"], **env), customs_risk(["run", "--date", DAY.isoformat()], **env)]
            for name, env in profiles.items()}
    keys = _download(bucket, "lake", root / "prod" / "lake")
    return {"root": root, "bucket": bucket, "done": done, "lake_keys": keys}


def test_train_and_day_succeed_under_both_profiles(runs):
    for name, commands in runs["done"].items():
        for command in commands:
            assert command.returncode == 0, failure(name, command)


def test_prod_state_lives_on_the_servers(runs):
    assert not (runs["root"] / "prod" / "lake").with_name("mlflow.db").exists()
    assert any(k.startswith("lake/silver/declarations/_delta_log/") for k in runs["lake_keys"])
    assert any(k.startswith("lake/gold/targets/") for k in runs["lake_keys"])
    with psycopg2.connect(dbname="customs_dagster") as conn, conn.cursor() as cursor:
        cursor.execute("select pipeline_name, status from runs")
        statuses = dict(cursor.fetchall())
    assert statuses.get("weekly_training") == "SUCCESS" and statuses.get("daily_pipeline") == "SUCCESS"
    client = MlflowClient(tracking_uri=PostgresServer.from_env().url("customs_mlflow"))
    artifacts = [k["Key"] for k in _s3().list_objects_v2(Bucket=runs["bucket"], Prefix="mlflow/").get("Contents", [])]
    assert artifacts, "no MLflow artifact in the object store"
    for selector in SELECTORS.values():
        champion = client.get_model_version_by_alias(selector.model_name, "champion")
        run = client.get_run(champion.run_id)
        assert run.info.artifact_uri.startswith(f"s3://{runs['bucket']}/mlflow/")


def test_prod_results_equal_the_local_profile(spark, runs):
    root = runs["root"]
    for layer, table in DAY_TABLES:
        local, prod = (read_table(spark, root / name / "lake", layer, table) for name in ("local", "prod"))
        assert len(local) > 0, (layer, table)
        pd.testing.assert_frame_equal(local, prod, obj=f"{layer}/{table}")
    assert published_lists(root / "local") == published_lists(root / "prod")
    local_store = MlflowClient(tracking_uri=f"sqlite:///{root / 'local' / 'mlflow.db'}")
    prod_store = MlflowClient(tracking_uri=PostgresServer.from_env().url("customs_mlflow"))
    for selector in SELECTORS.values():
        local, prod = (store.get_run(store.get_model_version_by_alias(selector.model_name, "champion").run_id)
                       for store in (local_store, prod_store))
        measured = {k: v for k, v in local.data.metrics.items() if not k.endswith("_seconds")}  # not timings
        assert measured and measured == {k: v for k, v in prod.data.metrics.items() if not k.endswith("_seconds")}


def test_no_secret_in_logs_tables_or_metadata(runs):
    secrets = {os.environ[v] for v in SECRETS}
    texts = [c.stdout + c.stderr for commands in runs["done"].values() for c in commands]
    files = [p for p in (runs["root"] / "prod").rglob("*") if p.is_file() and p.stat().st_size < 50_000_000]
    for folder in (os.environ.get("PG_DIR"), os.environ.get("S3_DIR")):  # the servers' own logs
        files += list(Path(folder).rglob("*.log")) if folder else []
    texts.extend(path.read_bytes().decode("utf-8", errors="replace") for path in files)
    with psycopg2.connect(dbname="customs_dagster") as conn, conn.cursor() as cursor:
        cursor.execute("select event from event_logs")
        texts.extend(row[0] for row in cursor.fetchall())
        cursor.execute("select run_body from runs")
        texts.extend(row[0] for row in cursor.fetchall())
    with psycopg2.connect(dbname="customs_mlflow") as conn, conn.cursor() as cursor:
        cursor.execute("select value from params union all select value from tags")
        texts.extend(str(row[0]) for row in cursor.fetchall())
    assert len(texts) > 100
    leaks = [secret[:4] + "..." for secret in secrets if any(secret in text for text in texts)]
    assert not leaks, f"secrets found in logs or metadata: {leaks}"
