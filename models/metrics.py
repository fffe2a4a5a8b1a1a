"""What the risk teams measure: of the top n% inspected, how many are fraud (precision), how much
of all fraud that catches (recall), how many critical cases, and how much duty it recovers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def top_n(rate: float, total: int) -> int:
    """Inspections at `rate` of `total` records (at least one when there is a record)."""
    return min(total, max(1, math.ceil(rate * total))) if total else 0


def rounded(value: float | None, digits: int = 4) -> float | None:
    """`value` rounded, None kept."""
    return None if value is None else round(value, digits)


def selection_metrics(order: np.ndarray, fraud: np.ndarray, critical: np.ndarray, rate: float,
                      revenue: np.ndarray | None = None) -> dict[str, float | None]:
    """Metrics of inspecting the first `rate` share of `order` (record indices, best first)."""
    n = top_n(rate, len(order))
    picked = order[:n]
    total_fraud = fraud.sum()
    total_critical = critical.sum()
    out = {
        "precision": float(fraud[picked].mean()) if n else 0.0,
        "recall": float(fraud[picked].sum() / total_fraud) if total_fraud else 0.0,
        # None, not 0: a window without a critical case says nothing about finding them.
        "critical_recall": float(critical[picked].sum() / total_critical) if total_critical else None,
    }
    if revenue is not None:
        total_revenue = revenue.sum()
        out["revenue_recall"] = float(revenue[picked].sum() / total_revenue) if total_revenue else 0.0
    return out


def ranking_report(order: np.ndarray, fraud: np.ndarray, critical: np.ndarray, rates: list[float],
                   revenue: np.ndarray | None = None) -> dict[str, dict[str, float | None]]:
    """`precision_at`, `recall_at`, `critical_recall_at` (and `revenue_recall_at`) per rate."""
    report: dict[str, dict[str, float]] = {"precision_at": {}, "recall_at": {}, "critical_recall_at": {}}
    if revenue is not None:
        report["revenue_recall_at"] = {}
    for rate in rates:
        m = selection_metrics(order, fraud, critical, rate, revenue)
        report["precision_at"][str(rate)] = round(m["precision"], 4)
        report["recall_at"][str(rate)] = round(m["recall"], 4)
        report["critical_recall_at"][str(rate)] = rounded(m["critical_recall"])
        if revenue is not None:
            report["revenue_recall_at"][str(rate)] = round(m["revenue_recall"], 4)
    return report


def roc_auc(score: np.ndarray, label: np.ndarray) -> float | None:
    """The area under the ROC curve: the chance that a random fraud scores above a random clear
    record (ties count half); None when `label` has only one class. Scores must be numbers (a NaN
    score raises: fill missing values first)."""
    if np.isnan(np.asarray(score, dtype=float)).any():
        raise ValueError("roc_auc: a score is NaN")
    label = np.asarray(label).astype(bool)
    positives, negatives = int(label.sum()), int((~label).sum())
    if not positives or not negatives:
        return None
    ranks = pd.Series(np.asarray(score, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[label].sum() - positives * (positives + 1) / 2) / (positives * negatives))
