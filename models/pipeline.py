"""Train the declarations selector from the lake: labelled silver declarations, point-in-time
features, a time-based validation window, an MLflow run, registration and the promotion gate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from features.declarations import declaration_features
from jobs.settings import Settings
from models.evaluate import CRITICAL_SHARE, DEFAULT_RATES, feature_columns_pd, score_report
from models.registry import log_training_run, promote_if_better
from models.train import TrainParams, train_selector

DECLARATIONS_MODEL = "declarations_selector"


@dataclass
class TrainingOutcome:
    """What a training run produced and decided."""

    version: str
    report: dict
    promotion: dict
    n_train: int
    n_valid: int
    valid_from: dt.date


def train_declarations_selector(spark: SparkSession, settings: Settings, params: TrainParams,
                                valid_days: int = 14, model_name: str = DECLARATIONS_MODEL) -> TrainingOutcome:
    """Train on labelled declarations before the last `valid_days` days of labels, validate on
    those days (metrics and early stopping), log to MLflow, register, and promote only if better."""
    path = str(settings.table_path("silver", "declarations"))
    version = DeltaTable.forPath(spark, path).history(1).select("version").first()["version"]
    silver = spark.read.format("delta").option("versionAsOf", version).load(path)
    # A label is known from its inspection date (or, for fully labelled loads, the record's date).
    history = silver.withColumn("label_day", F.coalesce("inspection_date", "date"))
    labelled = history.where(F.col("fraud").isNotNull())
    last = labelled.agg(F.max("date")).first()[0]
    if last is None:
        raise ValueError("no labelled declarations in silver yet: land inspection results first")
    valid_from = last - dt.timedelta(days=valid_days - 1)
    first = labelled.agg(F.min("date")).first()[0]
    if valid_from <= first:  # a short history: validate on its last quarter instead
        valid_from = first + dt.timedelta(days=max(1, int((last - first).days * 0.75)))
    features = declaration_features(labelled, history, label_day_column="label_day")
    labels = labelled.select("declaration_id", "fraud", (F.col("critical_fraud") == 2).cast("int").alias("critical"))
    frame = features.join(labels, "declaration_id").toPandas()
    train = frame[frame["date"] < valid_from]
    valid = frame[frame["date"] >= valid_from]
    columns = feature_columns_pd(features.limit(0).toPandas())
    selector = train_selector(train, valid, columns, params)
    report = score_report(selector, valid, DEFAULT_RATES, CRITICAL_SHARE)
    report.update(n_train=len(train), n_valid=len(valid))
    model_version = log_training_run(
        selector, params, report, valid, model_name,
        {"silver.declarations": f"{path}@v{version}", "valid_from": valid_from.isoformat()},
    )
    promotion = promote_if_better(model_name, model_version, valid)
    return TrainingOutcome(model_version, report, promotion, len(train), len(valid), valid_from)
