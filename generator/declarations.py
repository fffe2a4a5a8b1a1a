"""Synthetic import declarations in the exact KCS schema, vectorised with numpy.

Labels (`Fraud`, `Critical Fraud`) are left empty: in live data the outcome arrives later as an
inspection result. A configurable share of rows is deliberately broken (bad HS code, negative
mass, unknown country, non-numeric rate, wrong column count) so the quarantine has work to show.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

KCS_HEADER = [
    "Declaration ID", "Date", "Office ID", "Process Type", "Import Type", "Import Use", "Payment Type",
    "Mode of Transport", "Declarant ID", "Importer ID", "Seller ID", "Courier ID", "HS6 Code",
    "Country of Departure", "Country of Origin", "Tax Rate", "Tax Type", "Country of Origin Indicator",
    "Net Mass", "Item Price", "Fraud", "Critical Fraud",
]
COUNTRIES = np.array(["CN", "US", "VN", "JP", "DE", "TW", "TH", "IT", "ID", "MY", "IN", "FR", "GB", "AU",
                      "HK", "SG", "PH", "MX", "CA", "NL"])
COUNTRY_WEIGHTS = np.array([30, 14, 9, 9, 5, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2], dtype=float)
OFFICES = np.array(["10", "20", "30", "40", "41", "50", "60", "62", "70", "80"])
TAX_TYPES = np.array(["A", "C", "FCN1", "FUS1", "FEU1", "FVN1", "FAS1", "E1"])
ORIGIN_INDICATORS = np.array(["Y", "B", "G", "N"])
ALNUM = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _ids(rng: np.random.Generator, n: int, length: int = 7) -> np.ndarray:
    chars = ALNUM[rng.integers(0, len(ALNUM), size=(n, length))]
    return np.array(["".join(row) for row in chars])


class DeclarationGenerator:
    """Deterministic generator: the same seed gives the same parties, HS catalogue and rows."""

    def __init__(self, seed: int = 42, scale: float = 1.0) -> None:
        self.seed = seed
        self.scale = scale
        rng = np.random.default_rng(seed)
        self.importers = _ids(rng, max(50, int(2000 * scale)))
        self.declarants = _ids(rng, max(10, int(300 * scale)))
        self.sellers = _ids(rng, max(50, int(3000 * scale)))
        self.couriers = _ids(rng, 12)
        self.hs6 = np.array([f"{x:06d}" for x in rng.choice(np.arange(10000, 970000), 400, replace=False)])
        self.hs_unit_price = np.exp(rng.normal(9.5, 1.5, len(self.hs6)))  # KRW per kg
        self.hs_tax = np.round(rng.choice([0, 3, 5, 6.5, 8, 13], len(self.hs6)), 1)
        self.hs_weight = rng.pareto(1.2, len(self.hs6)) + 1

    def rows_per_day(self, day: dt.date) -> int:
        """Volume for a day: weekdays busy, weekends light."""
        base = 200 * self.scale
        return max(1, int(base * (0.15 if day.weekday() >= 5 else 1.0)))

    def generate(self, day: dt.date, n: int | None = None) -> pd.DataFrame:
        """One day of declarations (all strings, as a legacy system writes them)."""
        rng = np.random.default_rng([self.seed, day.toordinal()])
        n = self.rows_per_day(day) if n is None else n
        hs_idx = rng.choice(len(self.hs6), n, p=self.hs_weight / self.hs_weight.sum())
        origin = rng.choice(COUNTRIES, n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
        departure = np.where(rng.random(n) < 0.85, origin, rng.choice(COUNTRIES, n))
        mass = np.round(np.exp(rng.normal(4.5, 2.0, n)), 1) + 0.1
        price = np.round(mass * self.hs_unit_price[hs_idx] * np.exp(rng.normal(0, 0.35, n)), 2)
        has_courier = rng.random(n) < 0.18
        ids = rng.choice(np.arange(10_000_000, 99_999_999), n, replace=False)
        return pd.DataFrame({
            "Declaration ID": ids.astype(str),
            "Date": day.isoformat(),
            "Office ID": rng.choice(OFFICES, n),
            "Process Type": rng.choice(["B", "A", "C"], n, p=[0.85, 0.1, 0.05]),
            "Import Type": rng.choice(["11", "21", "29"], n, p=[0.9, 0.06, 0.04]),
            "Import Use": rng.choice(["21", "11", "22"], n, p=[0.8, 0.1, 0.1]),
            "Payment Type": rng.choice(["11", "43", "13"], n, p=[0.75, 0.15, 0.1]),
            "Mode of Transport": rng.choice(["10", "40"], n, p=[0.55, 0.45]),
            "Declarant ID": rng.choice(self.declarants, n),
            "Importer ID": rng.choice(self.importers, n),
            "Seller ID": np.where(rng.random(n) < 0.1, "", rng.choice(self.sellers, n)),
            "Courier ID": np.where(has_courier, rng.choice(self.couriers, n), ""),
            "HS6 Code": self.hs6[hs_idx],
            "Country of Departure": departure,
            "Country of Origin": origin,
            "Tax Rate": self.hs_tax[hs_idx].astype(str),
            "Tax Type": rng.choice(TAX_TYPES, n),
            "Country of Origin Indicator": rng.choice(ORIGIN_INDICATORS, n),
            "Net Mass": mass.astype(str),
            "Item Price": price.astype(str),
            "Fraud": "",
            "Critical Fraud": "",
        })


def break_rows(df: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """Damage about `rate` of the rows the way real feeds do. Returns the frame and the raw lines
    of rows cut short (wrong column count), which replace those rows. Every damaged row must end
    in quarantine."""
    df = df.copy()
    picks = np.flatnonzero(rng.random(len(df)) < rate)
    kinds = rng.integers(0, 5, len(picks))
    damage = {0: ("HS6 Code", "12AB56"), 1: ("Net Mass", "-3.0"), 2: ("Country of Origin", "XX"),
              3: ("Tax Rate", "n/a%")}
    cut_short: list[int] = []
    for i, kind in zip(picks, kinds, strict=True):
        if kind in damage:
            column, value = damage[kind]
            df.iat[i, df.columns.get_loc(column)] = value
        else:
            cut_short.append(i)
    bad_lines = [",".join(df.iloc[i, :12].astype(str)) for i in cut_short]
    return df.drop(df.index[cut_short]), bad_lines


def write_day(df: pd.DataFrame, folder: Path, name: str, bad_lines: list[str] | None = None,
              encoding: str = "utf-8") -> Path:
    """Write one landing CSV (atomically: a temp name, then rename, so sensors never see half)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.part"
    text = df.to_csv(index=False, lineterminator="\n")
    if bad_lines:
        text += "\n".join(bad_lines) + "\n"
    tmp.write_bytes(text.encode(encoding))
    tmp.replace(path)
    return path
