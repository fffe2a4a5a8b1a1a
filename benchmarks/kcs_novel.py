"""How much a selector can learn about novel consignments on the public KCS sample, measured on the
earlier backtest windows only (the protocol of `kcs_backtest.py`): the reported 2021-02..03 window
is never read here unless asked for with `--report`, and then only with the setting chosen before.

Per backtest window it builds the benchmark's features (`models.evaluate.evaluation_sets`), then on
the novel test rows (no identical HS6 + net mass + item price in train or valid):

  * how much signal single features carry: the ROC AUC of each on its own, best first, and the
    share of novel rows whose importer, seller or declarant was seen before;
  * a small hyperparameter grid of the selector: novel precision@5/10 % and AUC, and the full-test
    figures (which must keep the evaluate targets: fraud-score precision@5/10 % 0.95 / 0.90, the
    published ranking's critical recall@10 % 0.60 at precision@10 % 0.85).

The setting chosen is the one with the highest mean novel precision@10 % over the backtests among
those that keep the full-test targets on every backtest; `--report` then trains it once on the
reported window and prints its figures beside the default's.

    .venv/bin/python benchmarks/kcs_novel.py                 # backtests only (about 4 minutes)
    .venv/bin/python benchmarks/kcs_novel.py --report        # ... then the reported window (about 5)
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kcs_backtest import KCS_DIR, SOURCES, WINDOWS, split_window  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from models.metrics import roc_auc  # noqa: E402

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from models.evaluate import EvaluationSets
    from models.train import TrainParams

BACKTESTS = [w for w in WINDOWS if w.startswith("backtest")]
RATES = [0.05, 0.1]
# The evaluate targets the chosen setting must keep on every backtest: fraud-score precision, and
# the published ranking's critical recall@10 % at its precision@10 %.
FULL_TARGETS = {"0.05": 0.95, "0.1": 0.90}
PUBLISHED_TARGETS = {"critical_recall": 0.60, "precision": 0.85}
GRID = {"max_depth": (4, 6, 8), "min_child_weight": (2.0, 10.0), "colsample_bytree": (0.5, 0.8)}
ID_COLUMNS = ("importer_id", "seller_id", "declarant_id")


def grid_params(default: TrainParams) -> list[TrainParams]:
    """Every combination of `GRID` on top of `default` (the pipeline's `TrainParams`)."""
    names = list(GRID)
    return [replace(default, **dict(zip(names, values, strict=True))) for values in itertools.product(*GRID.values())]


def setting_name(params: TrainParams) -> str:
    """A short label for one grid point."""
    return " ".join(f"{k}={getattr(params, k)}" for k in GRID)


def single_feature_signal(novel: pd.DataFrame, columns: list[str], top: int = 12) -> dict[str, float]:
    """ROC AUC of each feature on its own on the novel rows (max of AUC and 1 - AUC: a feature
    that ranks frauds low is as informative), best `top` first."""
    fraud = novel["fraud"].to_numpy()
    aucs = {}
    for column in columns:
        values = novel[column].astype(float).fillna(-1e9).to_numpy()
        auc = roc_auc(values, fraud) if np.unique(values).size > 1 else None
        if auc is not None:
            aucs[column] = round(max(auc, 1 - auc), 4)
    return dict(sorted(aucs.items(), key=lambda kv: -kv[1])[:top])


def entity_history_signal(novel: pd.DataFrame) -> dict[str, float | None]:
    """ROC AUC of the importer, seller and declarant fraud-rate profiles on the novel rows: whether
    a party's history says anything about its new consignments."""
    out = {}
    for entity in ("importer", "seller", "declarant"):
        auc = roc_auc(novel[f"{entity}_fraud_rate"].to_numpy(), novel["fraud"].to_numpy())
        out[entity] = None if auc is None else round(auc, 4)
    return out


def seen_before(novel: pd.DataFrame, seen: pd.DataFrame) -> dict[str, float]:
    """Share of novel rows whose importer / seller / declarant appears in `seen` (train and valid)."""
    return {c: round(float(novel[c].isin(set(seen[c])).mean()), 4) for c in ID_COLUMNS}


def measure(sets: EvaluationSets, params: TrainParams) -> dict:
    """Train one setting on a window; the evaluate figures on the full test (both rankings) and on
    its novel rows, and the novel rows' AUC."""
    from models.evaluate import CRITICAL_SHARE, novel_report, score_report
    from models.train import train_selector
    selector = train_selector(sets.train, sets.valid, sets.columns, params)
    novel = sets.novel_test
    full = score_report(selector, sets.test, RATES, CRITICAL_SHARE)
    auc = roc_auc(selector.scores(novel)[0], novel["fraud"].to_numpy().astype(int))
    return {"full_precision_at": full["fraud_ranking"]["precision_at"],
            "published_precision_at": full["published_ranking"]["precision_at"],
            "published_critical_recall_at": full["published_ranking"]["critical_recall_at"],
            "novel_precision_at": novel_report(selector, novel, RATES).get("precision_at"),
            "novel_auc": None if auc is None else round(auc, 4), "train_seconds": round(selector.train_seconds, 1)}


def describe(name: str, m: dict) -> str:
    """One line of a setting's figures on a window."""
    return (f"{name}: novel p@5/10 {m['novel_precision_at']['0.05']} / {m['novel_precision_at']['0.1']} AUC "
            f"{m['novel_auc']}; full p@5/10 {m['full_precision_at']['0.05']} / {m['full_precision_at']['0.1']}; "
            f"published p@10 {m['published_precision_at']['0.1']} critical recall@10 "
            f"{m['published_critical_recall_at']['0.1']}")


def window_sets(spark: SparkSession, name: str, folder: Path) -> tuple[EvaluationSets, pd.DataFrame]:
    """The evaluate feature sets of one window, with the identities of the raw rows for `seen_before`."""
    from models.evaluate import evaluation_sets
    folder.mkdir()
    paths = split_window([KCS_DIR / s for s in SOURCES], WINDOWS[name], folder)
    sets = evaluation_sets(spark, [paths["train"]], paths["valid"], paths["test"])
    headers = {"Declaration ID": "declaration_id", "Importer ID": "importer_id", "Seller ID": "seller_id",
               "Declarant ID": "declarant_id"}
    ids = pd.concat([pd.read_csv(paths[p], usecols=list(headers), dtype=str) for p in ("train", "valid", "test")])
    ids = ids.rename(columns=headers)
    ids["declaration_id"] = ids["declaration_id"].astype(sets.test["declaration_id"].dtype)
    return sets, ids.drop_duplicates("declaration_id")


def keeps_targets(m: dict) -> bool:
    """Whether one window's figures keep the evaluate targets on the full test."""
    return (all(m["full_precision_at"][r] >= floor for r, floor in FULL_TARGETS.items())
            and (m["published_critical_recall_at"]["0.1"] or 0) >= PUBLISHED_TARGETS["critical_recall"]
            and m["published_precision_at"]["0.1"] >= PUBLISHED_TARGETS["precision"])


def mean_novel_precision(per_window: dict[str, dict]) -> float:
    """A setting's novel precision@10 %, averaged over the windows it was measured on."""
    return float(np.mean([m["novel_precision_at"]["0.1"] for m in per_window.values()]))


def choose(results: dict[str, dict[str, dict]]) -> str | None:
    """The setting with the best mean novel precision@10 % among those keeping the full targets."""
    eligible = {setting: mean_novel_precision(per_window) for setting, per_window in results.items()
                if all(keeps_targets(m) for m in per_window.values())}
    return max(eligible, key=eligible.get) if eligible else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="after choosing, train the chosen setting and the "
                        "default once on the reported window")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kcs_novel.json")
    args = parser.parse_args()
    missing = [s for s in SOURCES if not (KCS_DIR / s).is_file()]
    if missing:
        sys.exit(f"KCS sample not found in {KCS_DIR}: {missing}")

    from jobs.settings import Settings
    from jobs.spark_session import build_spark_session
    from models.evaluate import KCS_PARAMS
    from models.train import TrainParams

    spark = build_spark_session(Settings.from_env(), app_name="customs-risk-kcs-novel")
    default = TrainParams()
    settings = {setting_name(p): p for p in [default, *grid_params(default)]}
    results: dict[str, dict[str, dict]] = {name: {} for name in settings}
    signal = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kcs-novel-") as tmp:
        for i, window in enumerate(BACKTESTS, 1):
            print(f"[{i}/{len(BACKTESTS)}] {window}: building features ...", flush=True)
            sets, ids = window_sets(spark, window, Path(tmp) / window)
            novel = sets.novel_test
            if novel["fraud"].nunique() < 2:
                sys.exit(f"{window}: the novel test rows need both outcomes to be ranked ({len(novel)} rows)")
            identities = novel[["declaration_id"]].merge(ids, on="declaration_id", how="left")
            seen = pd.concat([sets.train, sets.valid])[["declaration_id"]].merge(ids, on="declaration_id")
            signal[window] = {"novel_rows": len(novel), "novel_fraud_rate": round(float(novel["fraud"].mean()), 4),
                              "seen_before": seen_before(identities, seen),
                              "entity_history_auc": entity_history_signal(novel),
                              "single_feature_auc": single_feature_signal(novel, sets.columns)}
            best = next(iter(signal[window]["single_feature_auc"].items()))
            print(f"  {len(novel)} novel test rows (fraud {signal[window]['novel_fraud_rate']}); best single "
                  f"feature {best[0]} AUC {best[1]}; seen before {signal[window]['seen_before']}; their fraud-rate "
                  f"profiles' AUC {signal[window]['entity_history_auc']}", flush=True)
            for j, (name, params) in enumerate(settings.items(), 1):
                results[name][window] = measure(sets, params)
                print(f"  [{j}/{len(settings)}] {describe(name, results[name][window])}", flush=True)
        chosen = choose(results)
        default_name = setting_name(default)
        summary = {name: round(mean_novel_precision(per_window), 4) for name, per_window in results.items()}
        print("mean novel precision@10% over the backtests: " + "; ".join(
            f"{k} {v}" for k, v in sorted(summary.items(), key=lambda kv: -kv[1])))
        print(f"default ({default_name}): {summary[default_name]}; chosen: {chosen} ({summary.get(chosen)})")
        adopted = setting_name(KCS_PARAMS)
        print(f"evaluate's KCS_PARAMS: {adopted}" + ("" if adopted == chosen else " (NOT the chosen setting)"))
        out = {"backtests": BACKTESTS, "grid": {k: list(v) for k, v in GRID.items()}, "signal": signal,
               "results": results, "mean_novel_precision_at_0.1": summary, "default": default_name,
               "chosen": chosen, "chosen_params": asdict(settings[chosen]) if chosen else None}
        if args.report and chosen:
            print("reported window: building features ...", flush=True)
            sets, _ = window_sets(spark, "reported", Path(tmp) / "reported")
            out["reported"] = {name: measure(sets, settings[name]) for name in dict.fromkeys([default_name, chosen])}
            for name, m in out["reported"].items():
                print(f"  reported, {describe(name, m)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"done in {time.perf_counter() - began:.0f} s: {len(settings)} settings x {len(BACKTESTS)} backtests"
          f"{' + the reported window' if 'reported' in out else ''}; figures in {args.out}")


if __name__ == "__main__":
    main()
