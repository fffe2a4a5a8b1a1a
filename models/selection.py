"""How the inspection budget is spent: a ranking by fraud score, and the published ranking that
reserves part of the capacity for the highest critical (public-safety) scores."""

from __future__ import annotations

import numpy as np

from models.metrics import top_n


def fraud_ranking(fraud_score: np.ndarray) -> np.ndarray:
    """Record indices by descending fraud score."""
    return np.argsort(-fraud_score, kind="stable")


def published_ranking(fraud_score: np.ndarray, critical_score: np.ndarray, rate: float,
                      critical_share: float) -> np.ndarray:
    """The first `critical_share` of the `rate` capacity goes to the top critical scores, the rest
    to the top fraud scores not already picked; then everything else by fraud score."""
    n = top_n(rate, len(fraud_score))
    reserved = int(round(n * critical_share))
    by_critical = np.argsort(-critical_score, kind="stable")[:reserved]
    taken = np.zeros(len(fraud_score), dtype=bool)
    taken[by_critical] = True
    rest = [i for i in fraud_ranking(fraud_score) if not taken[i]]
    return np.concatenate([by_critical, np.array(rest, dtype=int)]).astype(int)
