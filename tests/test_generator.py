"""The sample generator: deterministic for a seed, KCS schema, damage that ends in quarantine."""

from __future__ import annotations

import datetime as dt

import numpy as np

from generator.declarations import KCS_HEADER, DeclarationGenerator, break_rows
from jobs.sources import DECLARATIONS


def test_same_seed_same_rows_other_seed_other_rows():
    day = dt.date(2024, 3, 4)
    a = DeclarationGenerator(seed=1).generate(day)
    b = DeclarationGenerator(seed=1).generate(day)
    c = DeclarationGenerator(seed=2).generate(day)
    assert a.equals(b) and not a.equals(c)


def test_kcs_schema_unique_keys_and_empty_labels():
    df = DeclarationGenerator(seed=3).generate(dt.date(2024, 3, 4), n=500)
    assert list(df.columns) == KCS_HEADER == [c.header for c in DECLARATIONS.columns]
    assert df["Declaration ID"].is_unique
    assert (df["Fraud"] == "").all() and (df["Critical Fraud"] == "").all()
    assert df["HS6 Code"].str.fullmatch(r"[0-9]{6}").all()


def test_break_rows_damages_about_the_rate():
    df = DeclarationGenerator(seed=3).generate(dt.date(2024, 3, 4), n=2000)
    broken, bad_lines = break_rows(df, 0.05, np.random.default_rng(0))
    changed = (broken != df.loc[broken.index]).any(axis=1).sum()
    assert 50 <= changed + len(bad_lines) <= 150
    assert len(broken) + len(bad_lines) == len(df)
