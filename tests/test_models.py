"""Selectors: metrics on hand-computed examples, the critical reserve, no leakage, the promotion gate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from features.declarations import declaration_features
from models.metrics import ranking_report, roc_auc, selection_metrics, top_n
from models.selection import fraud_ranking, published_ranking


def test_top_n_rounds_up_and_needs_one():
    assert top_n(0.05, 100) == 5 and top_n(0.05, 101) == 6 and top_n(0.01, 10) == 1 and top_n(0.1, 0) == 0


def test_metrics_on_a_hand_computed_example():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    fraud = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1])
    critical = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    revenue = np.array([10, 0, 30, 0, 0, 20, 0, 0, 0, 40.0])
    m = selection_metrics(fraud_ranking(scores), fraud, critical, 0.3, revenue)
    # top 3 = records 0, 1, 2: two frauds of four, one critical of two, 40 of 100 duty
    assert m == {"precision": 2 / 3, "recall": 0.5, "critical_recall": 0.5, "revenue_recall": 0.4}
    report = ranking_report(fraud_ranking(scores), fraud, critical, [0.1, 0.5])
    assert report["precision_at"] == {"0.1": 1.0, "0.5": 0.4}
    assert report["recall_at"] == {"0.1": 0.25, "0.5": 0.5}


def test_roc_auc_on_a_hand_computed_example():
    fraud = np.array([1, 0, 1, 0])
    # pairs (fraud, clear) ranked right: (0.9 > 0.4), (0.9 > 0.2), (0.3 > 0.2); wrong: (0.3 < 0.4)
    assert roc_auc(np.array([0.9, 0.4, 0.3, 0.2]), fraud) == 0.75
    assert roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), fraud) == 0.5  # ties count half
    assert roc_auc(np.array([0.1, 0.2]), np.array([1, 1])) is None


def test_novel_rows_are_those_without_an_identical_consignment():
    from models.evaluate import novel_rows
    seen = pd.DataFrame({"hs6_code": ["010101", "020202"], "net_mass": [1.0, 2.0], "item_price": [10.0, 20.0]})
    test = pd.DataFrame({"hs6_code": ["010101", "010101", "020202", "030303"], "net_mass": [1.0, 1.0, 2.0, 1.0],
                         "item_price": [10.0, 11.0, 20.0, 10.0], "row": [0, 1, 2, 3]})
    # same goods at another price, or other goods at a seen mass and price, are novel
    assert novel_rows(test, seen)["row"].tolist() == [1, 3]


def test_published_ranking_reserves_capacity_for_critical_scores():
    fraud_score = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    critical_score = np.array([0.0, 0.0, 0.1, 0.9, 0.5])
    order = published_ranking(fraud_score, critical_score, rate=0.8, critical_share=0.5)  # 4 slots, 2 reserved
    assert list(order[:4]) == [3, 4, 0, 1]
    assert sorted(order) == [0, 1, 2, 3, 4]


def _declarations(spark, rows):
    from jobs.sources import DECLARATIONS

    return spark.createDataFrame(pd.DataFrame(rows)).select(
        [F.col(c.name).cast(c.dtype).alias(c.name) for c in DECLARATIONS.columns])


def _row(i: int, day: dt.date, importer: str, fraud, critical=0) -> dict:
    return {"declaration_id": str(i), "date": day, "office_id": "30", "process_type": "B", "import_type": "11",
            "import_use": "21", "payment_type": "11", "mode_of_transport": "10", "declarant_id": "D1",
            "importer_id": importer, "seller_id": "S1", "courier_id": None, "hs6_code": "440890",
            "country_of_departure": "CN", "country_of_origin": "CN", "tax_rate": 8.0, "tax_type": "A",
            "country_of_origin_indicator": "G", "net_mass": 10.0 + i, "item_price": 1000.0 * (i + 1),
            "fraud": fraud, "critical_fraud": critical}


def test_features_of_day_d_ignore_labels_of_day_d_and_later(spark):
    d0 = dt.date(2021, 1, 1)
    rows = [_row(i, d0 + dt.timedelta(days=i // 3), "IMP" if i % 2 else "OTHER", i % 2) for i in range(24)]
    target_day = d0 + dt.timedelta(days=4)
    base = _declarations(spark, rows)
    before = declaration_features(base, base).where(F.col("date") == F.lit(target_day)).orderBy("declaration_id")
    # Flip every label of the target day and later: features of the target day must not move.
    flipped_rows = [dict(r, fraud=(1 - r["fraud"]) if r["date"] >= target_day else r["fraud"],
                         critical_fraud=2 if r["date"] >= target_day else 0) for r in rows]
    flipped = _declarations(spark, flipped_rows)
    after = declaration_features(flipped, flipped).where(F.col("date") == F.lit(target_day)).orderBy("declaration_id")
    assert before.count() == 3
    pd.testing.assert_frame_equal(before.toPandas(), after.toPandas())
    # ... while flipping an earlier label does move them.
    earlier = [dict(r, fraud=1 - r["fraud"]) if r["date"] < target_day else r for r in rows]
    moved = declaration_features(_declarations(spark, earlier), _declarations(spark, earlier))
    moved = moved.where(F.col("date") == F.lit(target_day)).orderBy("declaration_id").toPandas()
    assert not moved["importer_fraud_rate"].equals(before.toPandas()["importer_fraud_rate"])


def test_profile_counts_only_earlier_days(spark):
    d0 = dt.date(2021, 1, 1)
    rows = [_row(0, d0, "IMP", 1), _row(1, d0, "IMP", 1), _row(2, d0 + dt.timedelta(days=1), "IMP", 0),
            _row(3, d0, "IMP", None, None)]  # not inspected: counts as a record, not as a label
    feats = declaration_features(_declarations(spark, rows), _declarations(spark, rows)).toPandas()
    by_id = feats.set_index("declaration_id")
    assert by_id.loc["0", "importer_n"] == 0 and by_id.loc["1", "importer_n"] == 0  # same day: unseen
    assert by_id.loc["2", "importer_n"] == 2 and by_id.loc["2", "importer_days_since"] == 1
    assert by_id.loc["2", "importer_records"] == 3 and by_id.loc["0", "importer_records"] == 0
    assert by_id.loc["2", "importer_fraud_rate"] > by_id.loc["0", "importer_fraud_rate"]


def test_identical_consignments_carry_earlier_outcomes(spark):
    d0 = dt.date(2021, 1, 1)
    same_goods = {"hs6_code": "071080", "net_mass": 24000.0, "item_price": 6360000.0}
    rows = [dict(_row(0, d0, "A", 1), **same_goods), dict(_row(1, d0 + dt.timedelta(days=1), "B", 1), **same_goods),
            dict(_row(2, d0 + dt.timedelta(days=2), "C", None, None), **same_goods),
            dict(_row(3, d0 + dt.timedelta(days=2), "D", 0), **same_goods),  # same day as 2: not seen by it
            _row(4, d0 + dt.timedelta(days=2), "E", None, None)]  # other goods
    feats = declaration_features(_declarations(spark, rows), _declarations(spark, rows)).toPandas()
    by_id = feats.set_index("declaration_id")
    assert by_id.loc["2", "consignment_n"] == 2 and by_id.loc["2", "consignment_frauds"] == 2
    assert by_id.loc["2", "hs6_mass_n"] == 2 and by_id.loc["4", "consignment_n"] == 0
    assert by_id.loc["2", "consignment_fraud_rate"] > by_id.loc["4", "consignment_fraud_rate"]
    assert by_id.loc["2", "consignment_days_since"] == 1 and pd.isna(by_id.loc["0", "consignment_days_since"])


def test_five_digit_hs_codes_get_their_leading_zero(spark, tmp_path):
    from models.evaluate import read_kcs_csv
    from tests.conftest import HEADER, declaration_line

    path = tmp_path / "kcs.csv"
    path.write_text(f"{HEADER}\n{declaration_line('1', hs6_code='71080')}\n")
    declarations = read_kcs_csv(spark, [path])
    assert declarations.first()["hs6_code"] == "071080"
    assert declaration_features(declarations, declarations).count() == 1


def test_critical_score_is_fraud_times_critical_given_fraud():
    from models.train import TrainParams, train_selector

    train, valid = _synthetic(800, 4), _synthetic(400, 5)
    selector = train_selector(train, valid, ["a", "b", "c"], TrainParams(n_estimators=60, max_depth=3))
    fraud, critical = selector.scores(valid)
    given_fraud = selector.critical.predict_proba(valid[["a", "b", "c"]].astype(float))[:, 1]
    np.testing.assert_allclose(critical, fraud * given_fraud, rtol=1e-6)
    assert "critical_best_iteration" in selector.info
    # among the frauds, the critical ones (b > 1) score higher than the others
    frauds = valid["fraud"] == 1
    assert given_fraud[frauds & (valid["critical"] == 1)].mean() > given_fraud[frauds & (valid["critical"] == 0)].mean()


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    fraud = (x[:, 0] + 0.3 * rng.normal(size=n) > 1).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "fraud": fraud,
                         "critical": (fraud & (x[:, 1] > 1)).astype(int)})


def test_promotion_gate_keeps_the_better_champion(tracking):
    from models.registry import log_training_run, promote_if_better
    from models.train import TrainParams, train_selector

    train, valid = _synthetic(600, 1), _synthetic(300, 2)
    params = TrainParams(n_estimators=60, max_depth=3)
    good = train_selector(train, valid, ["a", "b", "c"], params)
    shuffled = train.assign(fraud=np.random.default_rng(3).permutation(train["fraud"].to_numpy()))
    bad = train_selector(shuffled, valid, ["a", "b", "c"], params)
    v_good = log_training_run(good, params, {"p": 1.0}, valid, "test_selector", {"train": "synthetic"})
    first = promote_if_better("test_selector", v_good, valid)
    assert first["promoted"] and first["reason"] == "no champion yet"
    v_bad = log_training_run(bad, params, {"p": 0.0}, valid, "test_selector", {"train": "shuffled"})
    second = promote_if_better("test_selector", v_bad, valid)
    assert not second["promoted"] and second["new_precision"] < second["champion_precision"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    assert str(client.get_model_version_by_alias("test_selector", "champion").version) == v_good
    assert str(client.get_model_version_by_alias("test_selector", "challenger").version) == v_bad
    # scoring loads the champion with the critical model of its run and scores as training did
    from models.registry import load_selector

    loaded = load_selector("test_selector")
    assert loaded.info["version"] == v_good and loaded.features == ["a", "b", "c"]
    for got, expected in zip(loaded.scores(valid), good.scores(valid), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_loaded_selector_without_critical_labels_ranks_critical_by_fraud(tracking):
    from models.registry import load_selector, log_training_run, promote_if_better
    from models.train import TrainParams, train_selector

    train, valid = _synthetic(400, 6).assign(critical=0), _synthetic(200, 7).assign(critical=0)
    selector = train_selector(train, valid, ["a", "b", "c"], TrainParams(n_estimators=30, max_depth=3))
    assert selector.critical is selector.fraud
    version = log_training_run(selector, TrainParams(), {}, valid, "fallback_selector", {"train": "synthetic"})
    promote_if_better("fallback_selector", version, valid)
    fraud, critical = load_selector("fallback_selector").scores(valid)
    np.testing.assert_allclose(critical, fraud)
    np.testing.assert_allclose(fraud, selector.scores(valid)[0], rtol=1e-6)


def test_the_gate_ranks_probabilities_not_labels(tracking):
    """Two models that predict identical labels on the window but rank it differently get
    different gate figures (the generic pyfunc returned 0/1 labels: ties broken by row order)."""
    from mlflow.tracking import MlflowClient

    from models.registry import log_training_run, promote_if_better
    from models.train import TrainParams, train_selector

    train, valid = _synthetic(800, 11), _synthetic(1500, 12)
    params = TrainParams(n_estimators=80, max_depth=3)
    sharp = train_selector(train, valid[:300], ["a", "b", "c"], params)
    # A noisier training label: other scores, the same 0/1 labels below.
    noisy = train.assign(fraud=np.where(np.random.default_rng(4).random(len(train)) < 0.5, 0, train["fraud"]))
    blunt = train_selector(noisy, valid[:300], ["a", "b", "c"], params)
    p_sharp, p_blunt = sharp.scores(valid)[0], blunt.scores(valid)[0]
    window = valid[(p_sharp < 0.5) & (p_blunt < 0.5)].reset_index(drop=True)
    x = window[["a", "b", "c"]]
    assert len(window) > 500 and window["fraud"].sum() > 10
    assert (sharp.fraud.predict(x) == blunt.fraud.predict(x)).all()  # identical labels (all 0)
    v1 = log_training_run(blunt, params, {}, window, "gate_selector", {"train": "noisy"})
    first = promote_if_better("gate_selector", v1, window, window_label="2024-03-01..2024-03-14")
    v2 = log_training_run(sharp, params, {}, window, "gate_selector", {"train": "clean"})
    second = promote_if_better("gate_selector", v2, window, window_label="2024-03-01..2024-03-14")
    assert first["new_precision"] != second["new_precision"]
    fraud = window["fraud"].to_numpy()
    expected = selection_metrics(fraud_ranking(sharp.scores(window)[0]), fraud, fraud, 0.05)["precision"]
    assert second["new_precision"] == round(expected, 4)
    version = MlflowClient().get_model_version("gate_selector", v2)
    assert version.tags["gate.window"] == "2024-03-01..2024-03-14"
    assert version.tags["gate.rule"].startswith("paired bootstrap")
    assert version.tags["gate.decision"] == ("champion" if second["promoted"] else "challenger")
    assert "precision@5%" in version.description and "2024-03-01..2024-03-14" in version.description
    # MLflow 3 opens the experiment on its training runs, each with a precision/recall chart
    experiment = MlflowClient().get_experiment_by_name("risk-selectors")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    artifacts = {a.path for a in MlflowClient().list_artifacts(version.run_id)}
    assert "precision_recall_by_rate.png" in artifacts


def test_a_tie_keeps_the_champion_and_noise_does_not_flip_it():
    from models.registry import paired_bootstrap

    rng = np.random.default_rng(0)
    fraud = (rng.random(400) < 0.2).astype(int)
    scores = fraud + rng.normal(0, 0.8, 400)
    assert paired_bootstrap(scores, scores, fraud, 0.05) == 0.0  # identical: never a win
    slightly = scores + rng.normal(0, 0.05, 400)
    assert paired_bootstrap(slightly, scores, fraud, 0.05) < 0.9  # noise is not a 90 % win
    better = fraud * 3 + rng.normal(0, 0.8, 400)
    assert paired_bootstrap(better, scores, fraud, 0.05) >= 0.9


def test_windows_keep_evaluation_records_out_of_training():
    from models.pipeline import split_windows

    days = pd.Series([dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(40)])
    w = split_windows(days, eval_days=14, stop_days=7)
    assert (w.eval_from, w.stop_from) == (dt.date(2024, 3, 27), dt.date(2024, 3, 20))
    train, stop, evaluation = days[days < w.stop_from], days[(days >= w.stop_from) & (days < w.eval_from)], \
        days[days >= w.eval_from]
    assert train.max() < stop.min() and stop.max() < evaluation.min() and len(evaluation) == 14
    short = split_windows(days[:10], eval_days=14, stop_days=7)  # too short: 60 / 20 / 20 % of the days
    assert short.first < short.stop_from < short.eval_from <= short.last


def test_critical_recall_is_null_without_a_critical_case():
    order = np.arange(10)
    m = selection_metrics(order, np.array([1, 0] * 5), np.zeros(10, dtype=int), 0.2)
    assert m["critical_recall"] is None
    report = ranking_report(order, np.array([1, 0] * 5), np.zeros(10, dtype=int), [0.1])
    assert report["critical_recall_at"]["0.1"] is None


def test_evaluate_reads_what_the_lake_would_accept(spark, tmp_path):
    from models.evaluate import read_kcs_checked
    from tests.conftest import HEADER, declaration_line

    path = tmp_path / "kcs.csv"
    lines = [declaration_line("1"), declaration_line("2", net_mass="0"), declaration_line("3", country_of_origin="XX"),
             declaration_line("4", hs6_code="71080"), declaration_line("5", tax_rate="abc")]
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    rows, report = read_kcs_checked(spark, path)
    assert sorted(r.declaration_id for r in rows.collect()) == ["1", "4"]  # the repaired HS code is kept
    assert report["rows"] == 5 and report["lost"] == 3
    assert report["lost_by_rule"] == {"net_mass_positive": 1, "country_of_origin_iso": 1, "tax_rate_is_number": 1}


def test_label_lag_delays_when_a_label_feeds_a_profile(spark):
    d0 = dt.date(2020, 3, 2)
    rows = [_row(0, d0, "A", 1), _row(1, d0 + dt.timedelta(days=3), "A", None, None),
            _row(2, d0 + dt.timedelta(days=9), "A", None, None)]
    history = _declarations(spark, rows).withColumn("_label_day", F.date_add("date", 7))
    feats = declaration_features(_declarations(spark, rows), history, label_day_column="_label_day")
    by_id = feats.toPandas().set_index("declaration_id")
    # known 7 days after the declaration: not yet on day 3, counted on day 9
    assert by_id.loc["1", "importer_n"] == 0 and by_id.loc["2", "importer_n"] == 1


def test_training_variants_reach_the_booster():
    """The training benchmark's `name=value` variants become TrainParams with typed fields, an
    unknown field is refused, and `max_bin` reaches XGBoost."""
    from benchmarks.train_speed import parse_variants
    from models.train import TrainParams, _booster

    variants = parse_variants("default; learning_rate=0.1,max_bin=64")
    assert variants["default"] == TrainParams()
    changed = variants["learning_rate=0.1,max_bin=64"]
    assert changed.learning_rate == 0.1 and changed.max_bin == 64 and isinstance(changed.max_bin, int)
    assert _booster(changed).get_params()["max_bin"] == 64
    with pytest.raises(SystemExit, match="unknown TrainParams field 'depth'"):
        parse_variants("depth=4")
