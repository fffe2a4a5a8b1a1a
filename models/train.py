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
    """Hyperparameters of both boosters (the critical one reuses them with its own weight)."""

    max_depth: int = 8
    learning_rate: float = 0.05
    n_estimators: int = 1000
    subsample: float = 0.9
    colsample_bytree: float = 0.8
    min_child_weight: float = 2.0
    early_stopping_rounds: int = 50
    nthread: int = 2
    seed: int = 7


@dataclass
class Selector:
    """The trained pair of boosters and the feature order they expect."""

    fraud: xgb.XGBClassifier
    critical: xgb.XGBClassifier
    features: list[str]
    train_seconds: float
    info: dict = field(default_factory=dict)

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Fraud and critical probabilities for the rows of `frame`."""
        x = frame[self.features].astype(float)
        return self.fraud.predict_proba(x)[:, 1], self.critical.predict_proba(x)[:, 1]


def _booster(params: TrainParams, scale_pos_weight: float = 1.0) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(
        tree_method="hist", max_depth=params.max_depth, learning_rate=params.learning_rate,
        n_estimators=params.n_estimators, subsample=params.subsample, colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight, early_stopping_rounds=params.early_stopping_rounds,
        eval_metric="aucpr", n_jobs=params.nthread, random_state=params.seed, scale_pos_weight=scale_pos_weight,
    )


def train_selector(train: pd.DataFrame, valid: pd.DataFrame, features: list[str],
                   params: TrainParams | None = None) -> Selector:
    """Fit the fraud and critical boosters on `train`, stopping on `valid` (a later window)."""
    params = params or TrainParams()
    began = time.perf_counter()
    x_train, x_valid = train[features].astype(float), valid[features].astype(float)
    for name, frame in (("training", train), ("validation", valid)):
        if frame["fraud"].nunique() < 2:
            raise ValueError(f"the {name} window needs both fraud and clear labels ({len(frame)} rows)")
    fraud = _booster(params)
    fraud.fit(x_train, train["fraud"], eval_set=[(x_valid, valid["fraud"])], verbose=False)
    info = {"fraud_best_iteration": int(fraud.best_iteration)}
    positives = int(train["critical"].sum())
    if positives >= 2 and valid["critical"].sum() >= 1:
        critical = _booster(params, scale_pos_weight=min(20.0, (len(train) - positives) / positives))
        critical.fit(x_train, train["critical"], eval_set=[(x_valid, valid["critical"])], verbose=False)
        info["critical_best_iteration"] = int(critical.best_iteration)
    else:  # too few critical labels to learn from: rank critical cases by the fraud score
        critical = fraud
        info["critical_model"] = "fallback to the fraud model: too few critical labels"
    return Selector(fraud, critical, features, time.perf_counter() - began, info=info)
