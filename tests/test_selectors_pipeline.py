"""The express selector from a lake: silver tables made from generated parcels (a third inspected,
results a day later), the feature table built and rebuilt, training, registration and the gate."""

from __future__ import annotations

import datetime as dt

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from generator import channels
from generator.config import GeneratorConfig
from generator.world import World
from jobs.sources import EXPRESS, PCCC_REGISTRY, PLATFORM_ORDERS, WATCH_LISTS, SourceSpec
from models.channels import SELECTORS
from models.pipeline import build_feature_table, train_channel_selector
from models.train import TrainParams

START, DAYS = dt.date(2024, 3, 4), 14


def _to_silver(spark, spec: SourceSpec, frame: pd.DataFrame, path, extra: dict | None = None) -> None:
    """Landing-style frame (headers, strings) -> typed silver Delta table."""
    from pyspark.sql import functions as F

    frame = frame.rename(columns={c.header: c.name for c in spec.columns}).astype(str).replace({"": None})
    df = spark.createDataFrame(frame[[c.name for c in spec.columns]])
    df = df.select([F.col(c.name).cast(c.dtype).alias(c.name) for c in spec.columns])
    for name, column in (extra or {}).items():
        df = df.withColumn(name, column)
    df.write.format("delta").mode("overwrite").save(str(path))


@pytest.fixture
def express_lake(spark, settings):
    from pyspark.sql import functions as F

    config = GeneratorConfig(seed=3, scale=0.3)
    world = World(config, START)
    rows, truths, orders = [], [], []
    for i in range(DAYS):
        day = START + dt.timedelta(days=i)
        rng = np.random.default_rng([3, i])
        batch = channels.express(world, day, 160, config.rates, rng)
        inspected = rng.random(len(batch.rows)) < 0.35
        truth = batch.truth.assign(inspected=inspected, result_day=(day + dt.timedelta(days=1)).isoformat())
        rows.append(batch.rows)
        truths.append(truth)
        orders.append(channels.platform_orders(batch.rows, batch.truth, rng))
    truth = pd.concat(truths)
    labels = spark.createDataFrame(truth[truth["inspected"]][["record_key", "result_day", "outcome", "fraud_type"]])
    _to_silver(spark, EXPRESS, pd.concat(rows), settings.table_path("silver", "express"))
    silver = spark.read.format("delta").load(str(settings.table_path("silver", "express")))
    labelled = silver.join(labels, silver["house_awb"] == labels["record_key"], "left").select(
        *silver.columns, F.col("result_day").cast("date").alias("inspection_date"),
        F.col("outcome").cast("int").alias("inspection_outcome"), F.col("fraud_type").alias("inspection_finding"))
    labelled.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(
        str(settings.table_path("silver", "express")))
    history = {"_valid_from": F.lit(START), "_valid_to": F.lit(None).cast("date")}
    _to_silver(spark, PCCC_REGISTRY, world.registry().rename(columns=lambda c: PCCC_REGISTRY.column(c).header),
               settings.table_path("silver", "pccc_registry"), history)
    _to_silver(spark, WATCH_LISTS, world.watch.rename(columns=lambda c: WATCH_LISTS.column(c).header),
               settings.table_path("silver", "watch_lists"), history)
    _to_silver(spark, PLATFORM_ORDERS, pd.concat(orders), settings.table_path("silver", "platform_orders"))
    return truth


def test_express_selector_trains_from_the_lake_and_the_gate_keeps_the_champion(spark, settings, express_lake,
                                                                               tmp_path, monkeypatch):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    selector = SELECTORS["express"]
    table = build_feature_table(spark, settings, selector)
    assert table.rows == len(express_lake) and table.days == DAYS and table.features > 60
    params = TrainParams(n_estimators=200, max_depth=4, early_stopping_rounds=20)
    first = train_channel_selector(spark, settings, selector, params, eval_days=4, stop_days=3)
    windows = first.windows
    assert first.promotion["promoted"] and windows.eval_from == START + dt.timedelta(days=DAYS - 4)
    assert windows.stop_from == windows.eval_from - dt.timedelta(days=3)
    # Generated misuse, split shipments and watch-listed sellers are learnable from these features.
    assert first.report["fraud_ranking"]["precision_at"]["0.05"] >= 0.8

    again = build_feature_table(spark, settings, selector)  # rebuilding is an overwrite, not an append
    assert again.rows == table.rows and again.version == table.version + 1
    second = train_channel_selector(spark, settings, selector, params, eval_days=4, stop_days=3)
    assert not second.promotion["promoted"]  # the same model ties: the champion stays
    mlflow.set_tracking_uri(tracking)
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(selector.model_name, "champion").version) == first.version
    run = client.get_run(client.get_model_version(selector.model_name, first.version).run_id)
    assert run.data.tags["data.features.express"].endswith(f"@v{table.version}")
