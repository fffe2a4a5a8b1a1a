"""Train the XGBoost selectors: one for fraud, one for critical (public-safety) cases, both with a
time-based validation window and early stopping, `hist` trees."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb


@dataclass(frozen=True)
class TrainParams:
    """Hyperparameters of both boosters (the critical one is shallower: it learns from the few
    hundred critical cases among the frauds)."""

    max_depth: int = 8
    critical_max_depth: int = 4
    learning_rate: float = 0.05
    n_estimators: int = 1000
    subsample: float = 0.9
    colsample_bytree: float = 0.8
    min_child_weight: float = 2.0
    max_bin: int = 256
    early_stopping_rounds: int = 50
    nthread: int = 2
    seed: int = 7


@dataclass
class Selector:
    """The trained pair of boosters and the feature order they expect: `fraud` scores P(fraud),
    `critical` scores P(critical | fraud) (critical cases are a subset of fraud)."""

    fraud: xgb.XGBClassifier
    critical: xgb.XGBClassifier
    features: list[str]
    train_seconds: float
    info: dict = field(default_factory=dict)

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Fraud and critical probabilities for the rows of `frame`; the critical one is
        P(fraud) x P(critical | fraud), so a critical-looking record that is unlikely to be
        fraud at all does not take an inspection from a likely critical case."""
        x = frame[self.features].astype(float)
        fraud = self.fraud.predict_proba(x)[:, 1]
        if self.critical is self.fraud:
            return fraud, fraud
        return fraud, fraud * self.critical.predict_proba(x)[:, 1]


def _booster(params: TrainParams, max_depth: int | None = None) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(
        tree_method="hist", max_depth=max_depth or params.max_depth, learning_rate=params.learning_rate,
        n_estimators=params.n_estimators, subsample=params.subsample, colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight, max_bin=params.max_bin,
        early_stopping_rounds=params.early_stopping_rounds, eval_metric="aucpr", n_jobs=params.nthread,
        random_state=params.seed,
    )


def train_selector(train: pd.DataFrame, valid: pd.DataFrame, features: list[str],
                   params: TrainParams | None = None) -> Selector:
    """Fit the fraud booster on `train`, stopping on `valid` (a later window), and the critical
    booster on the fraud rows of both: which frauds are critical (public-safety) cases."""
    params = params or TrainParams()
    began = time.perf_counter()
    for name, frame in (("training", train), ("validation", valid)):
        if frame["fraud"].nunique() < 2:
            raise ValueError(f"the {name} window needs both fraud and clear labels ({len(frame)} rows)")
    fraud = _booster(params)
    fraud.fit(train[features].astype(float), train["fraud"],
              eval_set=[(valid[features].astype(float), valid["fraud"])], verbose=False)
    info = {"fraud_best_iteration": int(fraud.best_iteration)}
    train_frauds, valid_frauds = train[train["fraud"] == 1], valid[valid["fraud"] == 1]
    if train_frauds["critical"].nunique() == 2 and valid_frauds["critical"].sum() >= 1:
        critical = _booster(params, max_depth=params.critical_max_depth)
        critical.fit(train_frauds[features].astype(float), train_frauds["critical"],
                     eval_set=[(valid_frauds[features].astype(float), valid_frauds["critical"])], verbose=False)
        info["critical_best_iteration"] = int(critical.best_iteration)
    else:  # too few critical labels to learn from: rank critical cases by the fraud score
        critical = fraud
        info["critical_model"] = "fallback to the fraud model: too few critical labels"
    return Selector(fraud, critical, features, time.perf_counter() - began, info=info)
