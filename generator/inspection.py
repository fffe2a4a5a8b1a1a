"""Simulated legacy selection: which records get inspected (rule hits plus a random share) and
the inspection results, which arrive 1..N days after the record. Most records stay unlabelled."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from generator.config import Rates
from generator.world import World

SUPPLEMENT_WORDS = "vitamin|omega|melatonin|probiotic|propolis|프로폴리스|홍삼|glucosamine|비타민|painkiller|antibiotic"
REGULATED_WORDS = "diet|melatonin|sibutramine|시부트라민|멜라토닌|finasteride"


def _isin(values: pd.Series | np.ndarray, pool: np.ndarray) -> np.ndarray:
    return pd.Series(values).isin(pool).to_numpy()


def legacy_rule_hits(channel: str, rows: pd.DataFrame, world: World) -> np.ndarray:
    """The rules a pre-AI selection would have: watch lists, value thresholds, known offenders."""
    if channel == "declarations":
        hs = rows["HS6 Code"].to_numpy()
        typical = dict(zip(world.hs6, world.hs_unit_price, strict=True))
        unit = rows["Item Price"].astype(float).to_numpy() / rows["Net Mass"].astype(float).clip(lower=0.1).to_numpy()
        cheap = unit < 0.35 * np.array([typical.get(h, np.inf) for h in hs])
        fta_mismatch = (rows["Country of Origin"] != rows["Country of Departure"]).to_numpy() & \
            rows["Tax Type"].str.startswith("F").to_numpy()
        offender = _isin(rows["Importer ID"], world.importers[world.importer_risk > 0.2])
        return _isin(hs, world.watch_hs) | cheap | fta_mismatch | offender
    if channel == "express":
        value = rows["Declared Value"].astype(float).to_numpy()
        near_limit = (value > 110) & (value <= 200)
        registered = world.pccc_index.get_indexer(rows["Recipient PCCC"]) >= 0
        watch = _isin(rows["Seller ID"], world.watch_sellers)
        regulated = rows["Item Description"].str.contains(REGULATED_WORDS, case=False).to_numpy()
        return near_limit | ~registered | watch | regulated
    heavy_gift = (rows["Category"] == "gift").to_numpy() & (rows["Weight"].astype(float).to_numpy() > 1.0)
    valuable_ems = (rows["Mail Class"] == "EMS").to_numpy() & (rows["Declared Value"].astype(float) > 150).to_numpy()
    return heavy_gift | valuable_ems


def inspect(channel: str, rows: pd.DataFrame, truth: pd.DataFrame, world: World, day: dt.date, rates: Rates,
            rng: np.random.Generator) -> pd.DataFrame:
    """Results for the records the legacy selection inspects, each dated 1..max lag days later."""
    hits = legacy_rule_hits(channel, rows, world)
    by_rule = hits & (rng.random(len(rows)) < rates.rule_hit_inspection)
    inspected = by_rule | (rng.random(len(rows)) < rates.random_inspection)
    t = truth[inspected]
    lag = rng.integers(1, rates.max_result_lag_days + 1, len(t))
    # Inspections miss part of the fraud: a missed one is reported clear, with nothing found.
    found = (t["outcome"].to_numpy() > 0) & (rng.random(len(t)) < rates.inspection_sensitivity)
    return pd.DataFrame({
        "Channel": channel, "Record Key": t["record_key"].to_numpy(),
        "Inspection Date": (np.datetime64(day) + lag.astype("timedelta64[D]")).astype(str),
        "Outcome": np.where(found, t["outcome"].to_numpy(), 0), "Finding": np.where(found, t["fraud_type"], ""),
        "Seized kg": np.where(found & (t["seized_kg"] > 0), t["seized_kg"], 0.0),
        "Drug Type": np.where(found, t["drug_type"], ""), "Additional Duty": np.where(found, t["duty_gap_krw"], 0.0),
    })
