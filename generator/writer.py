"""Write landing CSVs (atomically) and ground-truth side files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ENCODING = {"express": "cp949"}  # the express couriers' legacy system writes CP949

# Per channel: a column to damage and the broken value (about half the bad rows); the other half
# are lines cut short (wrong column count). Every one of them must end in quarantine.
DAMAGE = {
    "declarations": ("HS6 Code", "12AB56"),
    "express": ("Recipient PCCC", "P12-3456"),
    "mail": ("Currency", "US$"),
    "platform_orders": ("Amount Paid", "-1"),
    "inspection_results": ("Outcome", "9"),
}


def damage_rows(source: str, df: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """Break about `rate` of the rows; returns the frame (cut rows removed) and the cut-short lines."""
    if source not in DAMAGE or not len(df) or rate <= 0:
        return df, []
    picks = np.flatnonzero(rng.random(len(df)) < rate)
    cut = picks[rng.random(len(picks)) < 0.5]
    bad_value = np.setdiff1d(picks, cut)
    column, value = DAMAGE[source]
    damaged = df[column].astype(str).to_numpy(copy=True)
    damaged[bad_value] = value
    df = df.copy(deep=False)
    df[column] = damaged
    half = df.iloc[cut, : len(df.columns) // 2].astype(str).to_numpy()
    lines = [",".join(row) for row in half]
    keep = np.ones(len(df), dtype=bool)
    keep[cut] = False
    return df[keep], lines


def write_csv(df: pd.DataFrame, path: Path, extra_lines: list[str] | None = None, encoding: str = "utf-8") -> Path:
    """Write `df` as CSV (header, quotes only where needed) via a temporary name then rename, so a
    sensor never sees half a file. `encoding` cp949 mimics legacy Korean systems."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False, nthreads=1)
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    data = buffer.getvalue()
    if extra_lines:
        data += ("\n".join(extra_lines) + "\n").encode()
    if encoding != "utf-8":
        data = data.decode("utf-8").encode(encoding)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def land_rows(source: str, rows: pd.DataFrame, path: Path, bad_rate: float, rng: np.random.Generator) -> int:
    """Damage about `bad_rate` of the rows as real feeds are damaged and write them as the landing
    file `path` in the source's encoding; returns the records written (cut lines included)."""
    frame, cut = damage_rows(source, rows, bad_rate, rng)
    write_csv(frame, path, cut, ENCODING.get(source, "utf-8"))
    return len(frame) + len(cut)


def write_truth(df: pd.DataFrame, path: Path) -> None:
    """Ground truth as Parquet (outside the landing folder: the pipeline never reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False, nthreads=1), path)
