"""The benchmark contract: KCS-schema CSV files in, the selector's metrics on the test file out.

Every feature of a test row comes from the train and valid files alone; the test labels are
used only to score the ranking."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.declarations import declaration_features
from jobs.sources import DECLARATIONS
from models.channels import SELECTORS
from models.metrics import ranking_report, rounded, selection_metrics
from models.selection import fraud_ranking, published_ranking
from models.train import Selector, TrainParams, train_selector

DEFAULT_RATES = [0.01, 0.02, 0.05, 0.1]
CRITICAL_SHARE = 0.2  # of the capacity reserved for the highest critical scores (README: chosen on backtests)


def read_kcs_csv(spark: SparkSession, paths: list[str | Path]) -> DataFrame:
    """KCS-schema CSV files as typed declarations (lake column names and types)."""
    raw = spark.read.option("header", True).option("inferSchema", False).csv([str(p) for p in paths])
    missing = [c.header for c in DECLARATIONS.columns if c.header not in raw.columns]
    if missing:
        raise ValueError(f"{paths}: not KCS-schema files, missing columns {missing}")
    return DECLARATIONS.typed(raw)


def _labels(df: DataFrame) -> pd.DataFrame:
    return df.select("declaration_id", "fraud", (F.col("critical_fraud") == 2).cast("int").alias("critical")).toPandas()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(spark: SparkSession, train_files: list, valid_file, test_file, rates: list[float] = DEFAULT_RATES,
             critical_share: float = CRITICAL_SHARE, params: TrainParams | None = None) -> tuple[dict, Selector]:
    """Build features, train on train (early stopping on valid), score the test file."""
    train, valid, test = (read_kcs_csv(spark, files) for files in (train_files, [valid_file], [test_file]))
    history = train.unionByName(valid).where(F.col("fraud").isNotNull())
    records = train.unionByName(valid).unionByName(test.withColumn("fraud", F.lit(None).cast("int"))
                                                   .withColumn("critical_fraud", F.lit(None).cast("int")))
    began = time.perf_counter()
    _log("building point-in-time features ...")
    features = declaration_features(records, history).toPandas()
    columns = SELECTORS["declarations"].feature_columns(list(features.columns))
    _log(f"features: {len(features)} rows x {len(columns)} in {time.perf_counter() - began:.1f}s")
    sets = {}
    for name, df in (("train", train), ("valid", valid), ("test", test)):
        # Sorted: row order out of Spark depends on the plan, and row sampling in training on the order.
        sets[name] = (features.merge(_labels(df), on="declaration_id", how="inner")
                      .sort_values(["date", "declaration_id"], ignore_index=True))
    _log(f"training on {len(sets['train'])} rows, validating on {len(sets['valid'])} ...")
    selector = train_selector(sets["train"], sets["valid"], columns, params or TrainParams())
    _log(f"trained in {selector.train_seconds:.1f}s; scoring {len(sets['test'])} test rows")
    report = score_report(selector, sets["test"], rates, critical_share)
    report["train_seconds"] = round(selector.train_seconds, 2)
    report["n_train"], report["n_valid"] = len(sets["train"]), len(sets["valid"])
    return report, selector


def score_report(selector: Selector, test: pd.DataFrame, rates: list[float], critical_share: float) -> dict:
    """Both rankings' metrics on labelled `test` rows."""
    fraud_score, critical_score = selector.scores(test)
    fraud = test["fraud"].to_numpy().astype(int)
    critical = test["critical"].to_numpy().astype(int)
    published: dict[str, dict[str, float]] = {"precision_at": {}, "recall_at": {}, "critical_recall_at": {}}
    for rate in rates:
        order = published_ranking(fraud_score, critical_score, rate, critical_share)
        m = selection_metrics(order, fraud, critical, rate)
        published["precision_at"][str(rate)] = round(m["precision"], 4)
        published["recall_at"][str(rate)] = round(m["recall"], 4)
        published["critical_recall_at"][str(rate)] = rounded(m["critical_recall"])
    tradeoff = []
    for share in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        m = selection_metrics(published_ranking(fraud_score, critical_score, 0.1, share), fraud, critical, 0.1)
        tradeoff.append({"critical_share": share, "precision_at_0.1": round(m["precision"], 4),
                         "critical_recall_at_0.1": rounded(m["critical_recall"])})
    return {
        "n_test": int(len(test)),
        "fraud_ranking": ranking_report(fraud_ranking(fraud_score), fraud, critical, rates),
        "published_ranking": published,
        "critical_share": critical_share,
        "critical_share_tradeoff": tradeoff,
        "test_fraud_rate": round(float(fraud.mean()), 4) if len(fraud) else None,
        "test_critical_rate": round(float(critical.mean()), 4) if len(critical) else None,
    }

