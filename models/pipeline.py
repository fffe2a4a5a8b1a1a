"""From the lake to a registered selector, for any channel: build the channel's feature table
(a Delta table partitioned by day, reproducible from silver), then train on its labelled rows
with a time-based validation window, log to MLflow, register, and apply the promotion gate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from delta.tables import DeltaTable
from mlflow.tracking import MlflowClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.parcels import ParcelReferences
from jobs.settings import Settings
from jobs.tables import table_exists
from models.channels import ChannelSelector
from models.evaluate import CRITICAL_SHARE, DEFAULT_RATES, score_report
from models.registry import log_training_run, promote_if_better
from models.train import TrainParams, train_selector


@dataclass
class FeatureTable:
    """A feature table as written: where, which Delta version, from which silver version."""

    path: str
    version: int
    rows: int
    days: int
    features: int
    silver_version: int


@dataclass
class TrainingOutcome:
    """What a training run produced and decided."""

    version: str
    report: dict
    promotion: dict
    n_train: int
    n_stop: int
    n_eval: int
    windows: TimeWindows
    run_id: str = ""
    experiment_id: str = ""


def latest_version(spark: SparkSession, path: str) -> int:
    """The Delta table's current version (pinned so a run reads one consistent snapshot)."""
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()["version"])


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """The Delta table at `version`."""
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def pinned(spark: SparkSession, path: str) -> tuple[DataFrame, int]:
    """The Delta table at its current version, and that version (so what was read is recorded)."""
    version = latest_version(spark, path)
    return read_version(spark, path, version), version


def references(spark: SparkSession, settings: Settings, orders_between: tuple[dt.date, dt.date] | None = None
               ) -> tuple[ParcelReferences, dict[str, int]]:
    """The reference tables parcels are checked against (registry and watch lists with their
    history; platform orders, only those dated in `orders_between` when given), and the Delta
    version each was read at."""
    frames: dict[str, DataFrame | None] = {}
    versions: dict[str, int] = {}
    for table in ("pccc_registry", "watch_lists", "platform_orders"):
        path = str(settings.table_path("silver", table))
        frames[table] = None
        if table_exists(spark, path):
            frames[table], versions[f"silver.{table}"] = pinned(spark, path)
    registry, watch, orders = frames["pccc_registry"], frames["watch_lists"], frames["platform_orders"]
    if registry is None or watch is None:
        raise ValueError("parcel features need silver.pccc_registry and silver.watch_lists: land them first")
    if orders is not None and orders_between is not None:
        orders = orders.where(F.col("order_date").between(F.lit(orders_between[0]), F.lit(orders_between[1])))
    surges = None
    surges_path = str(settings.table_path("gold", "price_surges"))
    if table_exists(spark, surges_path):
        surges, versions["gold.price_surges"] = pinned(spark, surges_path)
    return ParcelReferences(registry, watch, orders, surges), versions


def build_feature_table(spark: SparkSession, settings: Settings, selector: ChannelSelector) -> FeatureTable:
    """Recompute `features/<channel>` for every record of the channel's silver table (each row
    from what was known before its day) and overwrite it: re-running gives the same table."""
    silver_path = str(settings.table_path("silver", selector.channel))
    if not table_exists(spark, silver_path):
        raise ValueError(f"silver.{selector.channel} does not exist yet: run the daily pipeline first")
    silver_version = latest_version(spark, silver_path)
    silver = read_version(spark, silver_path, silver_version).cache()
    refs = references(spark, settings)[0] if selector.needs_references else None
    features = selector.build_features(silver, silver, refs)
    path = str(settings.table_path("features", selector.channel))
    (features.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
     .partitionBy(selector.day_column).save(path))
    silver.unpersist()
    written = spark.read.format("delta").load(path)
    stats = written.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(selector.day_column).alias("days")).first()
    return FeatureTable(path, latest_version(spark, path), int(stats["rows"]), int(stats["days"]),
                        len(selector.feature_columns(written.columns)), silver_version)


@dataclass(frozen=True)
class TimeWindows:
    """The labelled history cut in time order: training before `stop_from`, early stopping from
    `stop_from` to before `eval_from`, evaluation (metrics and the promotion gate) from `eval_from`
    to `last`. No record of the evaluation window reaches training or early stopping."""

    first: dt.date
    stop_from: dt.date
    eval_from: dt.date
    last: dt.date

    def label(self) -> str:
        """The evaluation window as text, e.g. `2024-03-15..2024-03-28`."""
        return f"{self.eval_from}..{self.last}"


def split_windows(days: pd.Series, eval_days: int, stop_days: int) -> TimeWindows:
    """The last `eval_days` days for evaluation and the `stop_days` before them for early
    stopping; a history too short for that is cut 60 / 20 / 20 % by days instead."""
    first, last = days.min(), days.max()
    eval_from = last - dt.timedelta(days=eval_days - 1)
    stop_from = eval_from - dt.timedelta(days=stop_days)
    if stop_from <= first:
        span = (last - first).days
        stop_from = first + dt.timedelta(days=max(1, round(span * 0.6)))
        eval_from = max(stop_from + dt.timedelta(days=1), first + dt.timedelta(days=round(span * 0.8)))
    return TimeWindows(first, stop_from, eval_from, last)


def train_channel_selector(spark: SparkSession, settings: Settings, selector: ChannelSelector,
                           params: TrainParams, eval_days: int = 14, stop_days: int = 7) -> TrainingOutcome:
    """Train on the labelled rows of the channel's feature table in time order: training days,
    then `stop_days` for early stopping, then the last `eval_days` for the evaluation that is
    logged and gated on; log to MLflow, register, and promote to `champion` only if the new
    version beats the current one on the evaluation window."""
    features_path = str(settings.table_path("features", selector.channel))
    silver_path = str(settings.table_path("silver", selector.channel))
    if not table_exists(spark, features_path):
        raise ValueError(f"features.{selector.channel} does not exist yet: build the feature table first")
    features_version, silver_version = latest_version(spark, features_path), latest_version(spark, silver_path)
    features = read_version(spark, features_path, features_version)
    labels = selector.labels(read_version(spark, silver_path, silver_version))
    frame = (features.join(labels, selector.record_id).toPandas()
             .sort_values([selector.day_column, selector.record_id], ignore_index=True))  # plan-independent order
    if frame.empty:
        raise ValueError(f"no labelled {selector.channel} records yet: land inspection results first")
    windows = split_windows(frame[selector.day_column], eval_days, stop_days)
    day = frame[selector.day_column]
    train, stop, evaluation = (frame[day < windows.stop_from], frame[(day >= windows.stop_from) &
                                                                     (day < windows.eval_from)],
                               frame[day >= windows.eval_from])
    columns = selector.feature_columns(features.columns)
    trained = train_selector(train, stop, columns, params)
    report = score_report(trained, evaluation, DEFAULT_RATES, CRITICAL_SHARE)
    report.update(n_train=len(train), n_valid=len(stop), n_eval=len(evaluation))
    model_version = log_training_run(trained, params, report, evaluation, selector.model_name, {
        f"features.{selector.channel}": f"{features_path}@v{features_version}",
        f"silver.{selector.channel}": f"{silver_path}@v{silver_version}",
        "train_window": f"{windows.first}..{windows.stop_from - dt.timedelta(days=1)}",
        "early_stopping_window": f"{windows.stop_from}..{windows.eval_from - dt.timedelta(days=1)}",
        "evaluation_window": windows.label(),
    }, description=f"{selector.channel} selector ({selector.description}); trained on {len(train)} labelled "
       f"records, early stopping on {len(stop)}, evaluated and gated on {len(evaluation)} of {windows.label()}")
    promotion = promote_if_better(selector.model_name, model_version, evaluation, window_label=windows.label())
    run = MlflowClient().get_run(MlflowClient().get_model_version(selector.model_name, model_version).run_id)
    return TrainingOutcome(model_version, report, promotion, len(train), len(stop), len(evaluation), windows,
                           run.info.run_id, run.info.experiment_id)
