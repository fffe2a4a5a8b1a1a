"""The plain alternative to the lakehouse's daily run, as a data scientist would write it for one
day of declarations: pandas reads the day's CSV, checks types and ranges, computes entity
profiles (labelled count, frauds, fraud and critical rates, days since the last label, records)
from a history file, scores with the same XGBoost booster the lakehouse's champion uses, and
writes the top 5 % to CSV. No durability, versioning, lineage, quarantine table, PCCC masking or
lanes: it is the yardstick, not a product. Prints and writes its stage times and peak memory.

    .venv/bin/python benchmarks/pandas_daily.py --day-csv day.csv --history history.parquet \\
        --booster fraud.ubj --out top.csv --json result.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.memory import PeakMemory  # noqa: E402
from features.profiles import DECLARATION_ENTITIES  # noqa: E402  (only the list of entity names)

NUMERIC = {"tax_rate": (0, 100), "net_mass": (0, 1e9), "item_price": (0, 1e13)}
CODES = ["declaration_id", "office_id", "process_type", "import_type", "import_use", "payment_type",
         "mode_of_transport", "declarant_id", "importer_id", "seller_id", "courier_id", "hs6_code",
         "country_of_departure", "country_of_origin", "tax_type", "country_of_origin_indicator"]


def read_day(paths: list[Path]) -> pd.DataFrame:
    """The day's CSV files as strings (the lakehouse lands raw strings too), one frame."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8") for path in paths]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    return frame


def validate(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Types and ranges: numbers parse and lie in range, dates parse, HS6 is six digits, ids present."""
    ok = frame["declaration_id"].notna() & frame["hs6_code"].str.fullmatch(r"\d{6}", na=False)
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce", format="%Y-%m-%d")
    ok &= frame["date"].notna()
    for column, (low, high) in NUMERIC.items():
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
        ok &= frame[column].between(low, high)
    ok &= frame["country_of_origin"].str.fullmatch(r"[A-Z]{2}", na=False)
    return frame[ok].copy(), int((~ok).sum())


def with_keys(frame: pd.DataFrame) -> pd.DataFrame:
    frame["hs4"] = frame["hs6_code"].str[:4]
    return frame


def profiles(day: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Per entity of DECLARATION_ENTITIES whose columns both frames have: the history's labelled
    count, frauds, smoothed fraud and critical rates, days since the last label, and records."""
    day, history = with_keys(day), with_keys(history)
    labelled = history[history["inspection_date"].notna()]
    prior_fraud = labelled["fraud"].mean() if len(labelled) else 0.0
    prior_critical = (labelled["critical_fraud"] == 2).mean() if len(labelled) else 0.0
    today = day["date"].max()
    out = {"declaration_id": day["declaration_id"].to_numpy()}
    for name, columns in DECLARATION_ENTITIES.items():
        if not all(c in day.columns and c in history.columns for c in columns):
            continue
        key = list(columns)
        stats = labelled.groupby(key, dropna=False).agg(
            n=("fraud", "size"), frauds=("fraud", "sum"), critical=("critical_fraud", lambda s: (s == 2).sum()),
            last=("inspection_date", "max"))
        stats["records"] = history.groupby(key, dropna=False).size()
        joined = day[key].merge(stats, left_on=key, right_index=True, how="left")
        n = joined["n"].fillna(0).to_numpy()
        out[f"{name}_n"] = n
        out[f"{name}_frauds"] = joined["frauds"].fillna(0).to_numpy()
        out[f"{name}_fraud_rate"] = (joined["frauds"].fillna(0).to_numpy() + 5 * prior_fraud) / (n + 5)
        out[f"{name}_critical_rate"] = (joined["critical"].fillna(0).to_numpy() + 5 * prior_critical) / (n + 5)
        out[f"{name}_days_since"] = (today - pd.to_datetime(joined["last"])).dt.days.to_numpy(dtype=float)
        out[f"{name}_records"] = joined["records"].fillna(0).to_numpy()
    return pd.DataFrame(out)


def attributes(day: pd.DataFrame) -> pd.DataFrame:
    """The declaration's own numbers."""
    return pd.DataFrame({
        "tax_rate": day["tax_rate"], "fta_claimed": day["tax_type"].str.startswith("F").astype(float),
        "origin_ne_departure": (day["country_of_origin"] != day["country_of_departure"]).astype(float),
        "log_net_mass": np.log1p(day["net_mass"]), "log_item_price": np.log1p(day["item_price"]),
        "has_courier": day["courier_id"].notna().astype(float), "seller_missing": day["seller_id"].isna().astype(float),
        "day_of_week": day["date"].dt.dayofweek.astype(float),
        "log_unit_price": np.log((day["item_price"] + 1) / (day["net_mass"] + 0.001)),
    }).reset_index(drop=True)


def score(features: pd.DataFrame, booster: xgb.Booster) -> np.ndarray:
    """The booster's fraud probability; features it wants that the script does not compute are missing."""
    names = booster.feature_names
    matrix = features.reindex(columns=names).astype("float32")
    return booster.inplace_predict(matrix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day-csv", type=Path, nargs="+", required=True, help="the day's declarations file(s)")
    parser.add_argument("--history", type=Path, required=True, help="parquet file of labelled earlier declarations")
    parser.add_argument("--booster", type=Path, required=True, help="the champion's fraud booster (.ubj)")
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    with PeakMemory() as memory:
        result = run(args)
    # sampled, not getrusage's ru_maxrss: a process started by fork + exec inherits the parent's
    # resident size at the fork in ru_maxrss (the benchmark's driver held up to 8 GB there)
    result.update(memory.figures())
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


def run(args: argparse.Namespace) -> dict:
    """The script's stages; its figures."""
    seconds, began = {}, time.perf_counter()

    def lap(stage: str, start: float) -> float:
        seconds[stage] = round(time.perf_counter() - start, 2)
        print(f"  pandas {stage}: {seconds[stage]}s", flush=True)
        return time.perf_counter()

    t = time.perf_counter()
    day = read_day(args.day_csv)
    t = lap("read", t)
    day, rejected = validate(day)
    t = lap("validate", t)
    history = pd.read_parquet(args.history)
    history["inspection_date"] = pd.to_datetime(history["inspection_date"])
    features = pd.concat([profiles(day.reset_index(drop=True), history), attributes(day)], axis=1)
    t = lap("profiles", t)
    booster = xgb.Booster()
    booster.load_model(args.booster)
    scores = score(features, booster)
    t = lap("score", t)
    top = max(1, int(round(args.share * len(day))))
    order = np.argsort(-scores, kind="stable")[:top]
    listed = day.iloc[order][["declaration_id", "importer_id", "hs6_code", "country_of_origin"]].assign(
        fraud_score=scores[order], rank=np.arange(1, top + 1))
    listed.to_csv(args.out, index=False)
    lap("write", t)
    return {"records": len(day) + rejected, "rejected": rejected, "listed": top, "seconds": seconds,
            "total_seconds": round(time.perf_counter() - began, 2),
            "features_computed": int(features.reindex(columns=booster.feature_names).notna().any().sum()),
            "features_of_model": len(booster.feature_names)}


if __name__ == "__main__":
    main()
