"""MLflow: every training run is logged (params, metrics, features, data versions, both models,
a feature-importance plot, a precision/recall chart); the fraud model is registered, and the
`champion` alias moves only when the new version beats the champion on the evaluation window,
which neither training nor early stopping saw, by a paired bootstrap (else `challenger`). The
decision is written on the model version: window, both figures, rule, reason."""

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

from jobs.settings import default_artifact_root, default_tracking_uri
from models.metrics import selection_metrics
from models.selection import fraud_ranking
from models.train import Selector, TrainParams

GATE_RATE = 0.05  # promotion compares precision at this inspection rate
GATE_RESAMPLES = 500  # paired bootstrap resamples of the evaluation window
GATE_WIN_SHARE = 0.9  # the new version must beat the champion in this share of resamples
GATE_RULE = (f"paired bootstrap of precision@{GATE_RATE:.0%} over the evaluation window ({GATE_RESAMPLES} resamples): "
             f"promote when the new version is higher in at least {GATE_WIN_SHARE:.0%} of them; a tie keeps the "
             "champion")
EXPERIMENT = "risk-selectors"
CHART_RATES = (0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2)
CRITICAL_SCORE_TAG = "critical_score"  # run tag: how the run's critical score is made
FRAUD_X_CRITICAL = "fraud_model x critical_model (P(critical | fraud))"
FRAUD_ONLY = "fraud_model (too few critical labels: critical_model is the fraud model)"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else the profile's store (PostgreSQL in prod; SQLite under CUSTOMS_HOME
    or in the project folder by default). An S3-compatible store other than AWS
    (CUSTOMS_S3_ENDPOINT) also serves MLflow's artifacts, through boto3."""
    endpoint = os.environ.get("CUSTOMS_S3_ENDPOINT")
    if endpoint:
        os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", endpoint)
    return default_tracking_uri()


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


def _experiment(name: str) -> None:
    """Use (create) the experiment, marked as model development so MLflow 3 opens it on its
    training runs rather than on GenAI traces."""
    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(name) is None:
        try:
            mlflow.create_experiment(name, artifact_location=default_artifact_root() + "/" + name)
        except mlflow.exceptions.MlflowException:
            pass  # created by a concurrent run in the meantime
    experiment = mlflow.set_experiment(name)
    if experiment.tags.get("mlflow.experimentKind") != "custom_model_development":
        MlflowClient().set_experiment_tag(experiment.experiment_id, "mlflow.experimentKind", "custom_model_development")
        MlflowClient().set_experiment_tag(experiment.experiment_id, "mlflow.note.content",
                                          "XGBoost risk selectors per channel (declarations, express, mail), "
                                          "retrained weekly on inspection feedback; champion/challenger by alias.")


def _rate_chart(selector: Selector, frame: pd.DataFrame, path: Path, title: str) -> Path:
    """Precision, recall and critical recall against the inspection rate on `frame`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fraud_score, _ = selector.scores(frame)
    fraud, critical = frame["fraud"].to_numpy().astype(int), frame["critical"].to_numpy().astype(int)
    rows = [selection_metrics(fraud_ranking(fraud_score), fraud, critical, rate) for rate in CHART_RATES]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    rates = [100 * r for r in CHART_RATES]
    for key, label in (("precision", "precision"), ("recall", "recall"), ("critical_recall", "critical recall")):
        values = [np.nan if row[key] is None else row[key] for row in rows]
        ax.plot(rates, values, marker="o", label=label)
    ax.set(xlabel="inspection rate (% of records)", ylabel="share", ylim=(0, 1.05), title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def log_training_run(selector: Selector, params: TrainParams, report: dict, sample: pd.DataFrame,
                     model_name: str, data_versions: dict[str, object], experiment: str = EXPERIMENT,
                     description: str = "") -> str:
    """Log one training run and register its fraud model; returns the new model version.
    `sample` is the evaluation window (its chart and input example)."""
    _experiment(experiment)
    with mlflow.start_run(run_name=model_name, description=description or None) as run:
        mlflow.log_params(dataclasses.asdict(params))
        mlflow.log_params({"n_features": len(selector.features), **selector.info})
        mlflow.log_metrics(_flatten(report))
        mlflow.log_metric("train_seconds", selector.train_seconds)
        mlflow.log_dict({"features": selector.features}, "features.json")
        mlflow.log_dict({k: str(v) for k, v in data_versions.items()}, "data_versions.json")
        mlflow.log_dict(report, "evaluation_report.json")
        mlflow.set_tags({f"data.{k}": str(v) for k, v in data_versions.items()})
        x = sample[selector.features].astype(float)
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(_importance_plot(selector, Path(tmp) / "feature_importance.png")))
            if len(sample) and {"fraud", "critical"} <= set(sample.columns):
                mlflow.log_artifact(str(_rate_chart(selector, sample, Path(tmp) / "precision_recall_by_rate.png",
                                                    f"{model_name}: evaluation window ({len(sample)} records)")))
        signature = infer_signature(x, selector.fraud.predict_proba(x)[:, 1])
        info = mlflow.xgboost.log_model(selector.fraud, name="fraud_model", signature=signature,
                                        registered_model_name=model_name, input_example=x.head(3))
        # P(critical | fraud): the published critical score is the fraud model's score times this one.
        mlflow.xgboost.log_model(selector.critical, name="critical_model", signature=signature)
        mlflow.set_tag(CRITICAL_SCORE_TAG, FRAUD_ONLY if selector.critical is selector.fraud else FRAUD_X_CRITICAL)
        MlflowClient().set_model_version_tag(model_name, info.registered_model_version, "run_id", run.info.run_id)
    return str(info.registered_model_version)


def _fraud_scores(model_uri: str, frame: pd.DataFrame) -> np.ndarray | None:
    """P(fraud) of the model at `model_uri` for `frame` (native XGBoost flavor: probabilities, not
    the pyfunc's class labels); None when the frame lacks a feature the model needs."""
    model = mlflow.xgboost.load_model(model_uri)
    features = list(model.get_booster().feature_names or [])
    if not features or not set(features) <= set(frame.columns):
        return None
    return model.predict_proba(frame[features].astype(float))[:, 1]


def _precision(scores: np.ndarray, fraud: np.ndarray, rate: float) -> float:
    return selection_metrics(fraud_ranking(scores), fraud, np.zeros_like(fraud), rate)["precision"]


def paired_bootstrap(new: np.ndarray, old: np.ndarray, fraud: np.ndarray, rate: float,
                     resamples: int = GATE_RESAMPLES, seed: int = 0) -> float:
    """Share of bootstrap resamples of the window (the same rows for both models) in which the
    new scores' precision@rate is strictly higher than the old ones'."""
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(resamples):
        rows = rng.integers(0, len(fraud), len(fraud))
        wins += _precision(new[rows], fraud[rows], rate) > _precision(old[rows], fraud[rows], rate)
    return wins / resamples


def promote_if_better(model_name: str, version: str, window: pd.DataFrame, rate: float = GATE_RATE,
                      window_label: str = "") -> dict:
    """Score the new version and the current champion on the evaluation window (probabilities);
    the new one becomes `champion` only when it wins the paired bootstrap (`GATE_RULE`), otherwise
    it is marked `challenger`. The decision, both figures, the window and the rule are written on
    the new model version (tags and a one-line description). Returns what was decided and why."""
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    fraud = window["fraud"].to_numpy().astype(int)
    new_scores = _fraud_scores(f"models:/{model_name}/{version}", window)
    new_precision = _precision(new_scores, fraud, rate)
    decision: dict[str, object] = {"version": version, "new_precision": round(new_precision, 4), "rate": rate,
                                   "window": window_label, "window_rows": len(window), "rule": GATE_RULE}
    try:
        champion = client.get_model_version_by_alias(model_name, "champion")
    except mlflow.exceptions.MlflowException:
        champion = None
    if champion is None:
        decision.update(promoted=True, reason="no champion yet")
    else:
        old_scores = _fraud_scores(f"models:/{model_name}@champion", window)
        decision["champion_version"] = champion.version
        if old_scores is None:
            decision.update(promoted=True, champion_precision=None,
                            reason="the champion cannot score today's features")
        else:
            decision["champion_precision"] = round(_precision(old_scores, fraud, rate), 4)
            wins = paired_bootstrap(new_scores, old_scores, fraud, rate)
            decision["win_share"] = round(wins, 3)
            promoted = wins >= GATE_WIN_SHARE and new_precision > decision["champion_precision"]
            decision.update(promoted=promoted, reason=(
                f"beats champion v{champion.version} in {wins:.0%} of resamples" if promoted else
                f"higher than champion v{champion.version} in only {wins:.0%} of resamples (needs "
                f"{GATE_WIN_SHARE:.0%}): stays challenger"))
    client.set_registered_model_alias(model_name, "champion" if decision["promoted"] else "challenger", version)
    _record_decision(client, model_name, version, decision)
    return decision


def _record_decision(client: MlflowClient, model_name: str, version: str, decision: dict) -> None:
    tags = {"gate.decision": "champion" if decision["promoted"] else "challenger", "gate.reason": decision["reason"],
            "gate.rule": GATE_RULE, "gate.window": decision["window"], "gate.window_rows": decision["window_rows"],
            "gate.new_precision": decision["new_precision"],
            "gate.champion_version": decision.get("champion_version", ""),
            "gate.champion_precision": decision.get("champion_precision", ""),
            "gate.win_share": decision.get("win_share", "")}
    for key, value in tags.items():
        if value not in ("", None):
            client.set_model_version_tag(model_name, version, key, str(value))
    against = (f" vs champion v{decision['champion_version']} {decision['champion_precision']}"
               if decision.get("champion_version") else "")
    client.update_model_version(model_name, version, description=(
        f"precision@{decision['rate']:.0%} {decision['new_precision']}{against} on {decision['window']} "
        f"({decision['window_rows']} records): {'champion' if decision['promoted'] else 'challenger'} "
        f"({decision['reason']})"))


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
