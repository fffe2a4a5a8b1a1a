"""The seeded generator: deterministic, the sources' schemas, injected patterns at their rates."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from generator.config import GeneratorConfig
from generator.run import generate
from jobs.landing import parse_landing_file
from jobs.sources import SOURCES

START = dt.date(2024, 3, 4)


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.csv")):
        h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    summary = generate(GeneratorConfig(seed=7, scale=2), START, 21, root / "landing", root / "truth",
                       progress=lambda _: None)
    return root, summary


def test_same_seed_same_files_other_seed_other_files(tmp_path, generated):
    root, _ = generated
    generate(GeneratorConfig(seed=7, scale=2), START, 21, tmp_path / "a", tmp_path / "ta", progress=lambda _: None)
    generate(GeneratorConfig(seed=8, scale=2), START, 21, tmp_path / "b", tmp_path / "tb", progress=lambda _: None)
    assert _digest(tmp_path / "a") == _digest(root / "landing")
    assert _digest(tmp_path / "b") != _digest(root / "landing")


def test_parallel_workers_write_the_same_files_as_one(tmp_path):
    config = GeneratorConfig(seed=5, scale=0.5)
    one = generate(config, START, 9, tmp_path / "one", tmp_path / "t1", progress=lambda _: None, workers=1)
    two = generate(config, START, 9, tmp_path / "two", tmp_path / "t2", progress=lambda _: None, workers=2)
    assert two["workers"] == 2 and one["rows"] == two["rows"]
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    truth = [sorted(p.relative_to(root).as_posix() + hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in root.rglob("*") if p.is_file()) for root in (tmp_path / "t1", tmp_path / "t2")]
    assert truth[0] == truth[1]


def test_every_source_lands_with_its_schema(generated):
    root, summary = generated
    for source, spec in SOURCES.items():
        files = sorted((root / "landing" / source).rglob("*.csv"))
        assert files, source
        parsed = parse_landing_file(files[0], spec)
        assert parsed.status == "ok", (source, parsed.status)
        assert summary["rows"][source] > 0
    express = parse_landing_file(next((root / "landing" / "express").rglob("*.csv")), SOURCES["express"])
    assert express.encoding == "cp949"


def _truth(root: Path, channel: str) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted((root / "truth" / channel).glob("*.parquet")))


def test_injected_patterns_come_near_their_configured_rates(generated):
    root, _ = generated
    rates = GeneratorConfig().rates
    decl = _truth(root, "declarations")
    share = decl["fraud_type"].value_counts(normalize=True)
    assert share["under_valuation"] == pytest.approx(rates.decl_under_valuation, rel=0.35)
    assert share["origin_misdeclaration"] == pytest.approx(rates.decl_origin_misdeclaration, rel=0.5)
    express = _truth(root, "express")
    misuse = (express["fraud_type"] == "pccc_misuse").mean()
    expected = rates.express_pccc_shared + rates.express_pccc_unregistered + rates.express_pccc_suspended
    assert misuse == pytest.approx(expected, rel=0.35)
    assert (express["fraud_type"] == "split_shipment").mean() > 0.005
    mail = _truth(root, "mail")
    supplements = (mail["fraud_type"] == "regulated_undeclared").mean()
    assert supplements == pytest.approx(rates.mail_supplements_as_gift, rel=0.3)
    critical = pd.concat([decl, express, mail])
    assert 0 < (critical["outcome"] == 2).mean() < 0.01  # drugs are rare
    assert (critical.loc[critical["outcome"] == 2, "seized_kg"] > 0).all()


def test_split_shipments_stay_under_the_de_minimis(generated):
    root, _ = generated
    express = _truth(root, "express")
    split = express[express["fraud_type"] == "split_shipment"]
    usd = split["true_value_krw"] / 1350
    assert (usd <= 200).all() and (usd > 100).all()


def test_only_some_records_are_inspected_and_results_arrive_later(generated):
    root, _ = generated
    results = pd.concat(pd.read_csv(p, dtype=str) for p in (root / "landing" / "inspection_results").rglob("*.csv"))
    results = results[results["Outcome"].isin(["0", "1", "2"])]
    truth = pd.concat(_truth(root, c) for c in ("declarations", "express", "mail"))
    assert 0.02 < len(results) / len(truth) < 0.3
    joined = results.merge(truth, left_on=["Channel", "Record Key"], right_on=["channel", "record_key"])
    assert len(joined) == len(results)
    lag = (pd.to_datetime(joined["Inspection Date"]) - pd.to_datetime(joined["date"])).dt.days
    assert lag.between(1, 7).all()
    reported = joined["Outcome"].astype(int)
    # Inspections miss part of the fraud (reported clear), never invent one.
    assert ((reported == joined["outcome"]) | (reported == 0)).all()
    frauds = joined[joined["outcome"] > 0]
    assert 0.7 < (reported[frauds.index] > 0).mean() < 0.97
    # Inspected records are richer in fraud than the population: the legacy rules find something.
    assert joined["fraud"].mean() > truth["fraud"].mean()


def test_generated_declarations_leave_labels_empty(generated):
    root, _ = generated
    sample = pd.read_csv(next((root / "landing" / "declarations").rglob("*.csv")), dtype=str, keep_default_na=False)
    assert (sample["Fraud"] == "").all() and (sample["Critical Fraud"] == "").all()


def test_events_ground_truth(generated):
    root, _ = generated
    events = json.loads((root / "truth" / "events.json").read_text())
    kinds = {e["kind"] for e in events}
    assert kinds == {"price_surge", "supply_shock"}
    assert all(e["hs6"] and e["start"] > START.isoformat() for e in events)


@pytest.mark.parametrize("channel", ["declarations", "express", "mail"])
def test_a_day_without_records_is_an_empty_batch(channel):
    """A channel's day of 0 records (a holiday, a tiny scale) gives empty rows and truth, not an error."""
    import numpy as np

    from generator import channels
    from generator.world import World

    config = GeneratorConfig()
    world, make = World(config, dt.date(2024, 1, 1)), getattr(channels, channel)
    batch = make(world, dt.date(2024, 1, 2), 0, config.rates, np.random.default_rng(1))
    full = make(world, dt.date(2024, 1, 2), 5, config.rates, np.random.default_rng(1))
    assert len(batch.rows) == len(batch.truth) == 0
    assert list(batch.rows.columns) == list(full.rows.columns)


def test_truth_labels_mark_outcome_two_as_critical_and_keep_only_known_records():
    from generator.silver import with_truth_labels

    frame = pd.DataFrame({"awb": ["a", "b", "c", "z"], "x": [1.0, 2.0, 3.0, 4.0]})
    truth = pd.DataFrame({"record_key": ["a", "b", "c"], "fraud": [0, 1, 1], "outcome": [0, 1, 2],
                          "fraud_type": ["", "undervaluation", "drugs"]})
    labelled = with_truth_labels(frame, truth, "awb").set_index("awb")
    assert list(labelled.index) == ["a", "b", "c"]  # "z" has no truth row
    assert labelled["fraud"].tolist() == [0, 1, 1] and labelled["critical"].tolist() == [0, 0, 1]
    assert list(labelled.columns) == ["x", "fraud", "critical"]
