"""MLflow: every training run is logged (params, metrics, features, data versions, both models,
a feature-importance plot); the fraud model is registered, and the `champion` alias moves only
when the new version beats the champion on the same validation window (else `challenger`)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.metrics import selection_metrics
from models.selection import fraud_ranking
from models.train import Selector, TrainParams

GATE_RATE = 0.05  # promotion compares precision at this inspection rate
CRITICAL_SCORE_TAG = "critical_score"  # run tag: how the run's critical score is made
FRAUD_X_CRITICAL = "fraud_model x critical_model (P(critical | fraud))"
FRAUD_ONLY = "fraud_model (too few critical labels: critical_model is the fraud model)"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else SQLite in the project folder (the embedded default)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _flatten(report: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}".replace("@", "_at_")
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}_"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _importance_plot(selector: Selector, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gains = selector.fraud.get_booster().get_score(importance_type="gain")
    top = sorted(gains.items(), key=lambda kv: kv[1])[-25:]
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set_title("fraud model: feature importance (gain)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def log_training_run(selector: Selector, params: TrainParams, report: dict, sample: pd.DataFrame,
                     model_name: str, data_versions: dict[str, object], experiment: str = "risk-selectors") -> str:
    """Log one training run and register its fraud model; returns the new model version."""
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=model_name) as run:
        mlflow.log_params(dataclasses.asdict(params))
        mlflow.log_params({"n_features": len(selector.features), **selector.info})
        mlflow.log_metrics(_flatten(report))
        mlflow.log_metric("train_seconds", selector.train_seconds)
        mlflow.log_dict({"features": selector.features}, "features.json")
        mlflow.log_dict({k: str(v) for k, v in data_versions.items()}, "data_versions.json")
        mlflow.set_tags({f"data.{k}": str(v) for k, v in data_versions.items()})
        x = sample[selector.features].astype(float)
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(_importance_plot(selector, Path(tmp) / "feature_importance.png")))
        signature = infer_signature(x, selector.fraud.predict_proba(x)[:, 1])
        info = mlflow.xgboost.log_model(selector.fraud, name="fraud_model", signature=signature,
                                        registered_model_name=model_name, input_example=x.head(3))
        # P(critical | fraud): the published critical score is the fraud model's score times this one.
        mlflow.xgboost.log_model(selector.critical, name="critical_model", signature=signature)
        mlflow.set_tag(CRITICAL_SCORE_TAG, FRAUD_ONLY if selector.critical is selector.fraud else FRAUD_X_CRITICAL)
        MlflowClient().set_model_version_tag(model_name, info.registered_model_version, "run_id", run.info.run_id)
    return str(info.registered_model_version)


def _precision(model, frame: pd.DataFrame, features: list[str], rate: float) -> float:
    scores = model.predict(frame[features].astype(float))
    scores = np.asarray(scores)[:, 1] if np.ndim(scores) == 2 else np.asarray(scores)
    fraud = frame["fraud"].to_numpy().astype(int)
    return selection_metrics(fraud_ranking(scores), fraud, np.zeros_like(fraud), rate)["precision"]


def promote_if_better(model_name: str, version: str, valid: pd.DataFrame, rate: float = GATE_RATE) -> dict:
    """Score the new version and the current champion on the same validation frame; the new one
    becomes `champion` only if its precision@rate is higher (ties keep the champion), otherwise it
    is marked `challenger`. Returns what was decided and why."""
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    new_model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    new_features = new_model.metadata.get_input_schema().input_names()
    new_score = _precision(new_model, valid, new_features, rate)
    try:
        champion = client.get_model_version_by_alias(model_name, "champion")
    except mlflow.exceptions.MlflowException:
        champion = None
    decision = {"version": version, "new_precision": round(new_score, 4), "rate": rate}
    if champion is None:
        client.set_registered_model_alias(model_name, "champion", version)
        return {**decision, "promoted": True, "reason": "no champion yet"}
    old_model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    old_features = old_model.metadata.get_input_schema().input_names()
    old_score = _precision(old_model, valid, old_features, rate) if set(old_features) <= set(valid.columns) else -1.0
    decision.update(champion_version=champion.version, champion_precision=round(old_score, 4))
    if new_score > old_score:
        client.set_registered_model_alias(model_name, "champion", version)
        return {**decision, "promoted": True, "reason": "beats the champion on the same validation window"}
    client.set_registered_model_alias(model_name, "challenger", version)
    return {**decision, "promoted": False, "reason": "does not beat the champion: stays challenger"}


def load_selector(model_name: str, alias: str = "champion") -> Selector:
    """The registered fraud model under `alias` together with the critical model of the same run,
    as a Selector whose `scores` give what training published: how scoring loads both."""
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    version = client.get_model_version_by_alias(model_name, alias)
    fraud = mlflow.xgboost.load_model(f"models:/{model_name}@{alias}")
    run = client.get_run(version.run_id)
    features = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/features.json")["features"]
    if run.data.tags.get(CRITICAL_SCORE_TAG) == FRAUD_ONLY:
        critical = fraud
    else:
        critical = mlflow.xgboost.load_model(f"runs:/{version.run_id}/critical_model")
    return Selector(fraud, critical, features, train_seconds=0.0,
                    info={"model_name": model_name, "version": str(version.version), "run_id": version.run_id})
