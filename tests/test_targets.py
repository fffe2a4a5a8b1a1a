"""Daily target lists: incremental features equal the full rebuild, scoring in Arrow batches,
lanes by capacity with exploration and rules, masking, re-runs, no scoring without a champion."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from generator.silver import build_lake
from jobs.settings import LaneCapacity, Settings
from jobs.state_store import (
    CumulativeTable,
    StateNotReady,
    _replace_increments,
    _write_snapshot,
    advance,
    state_before,
)
from models.channels import SELECTORS
from models.daily import advance_entity_state, day_features
from models.day_targets import build_day_targets, load_champion
from models.pipeline import build_feature_table, references, train_channel_selector
from models.scoring import ChampionMismatch, ScoringModel, reasons_frame, score_frame
from models.targets import SelectionPolicy, allocate
from models.train import TrainParams, train_selector

START, DAYS = dt.date(2024, 3, 4), 12
TINY = TrainParams(n_estimators=40, max_depth=3, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """A generated lake of 12 days of every channel (module-wide: tests only read it, or write
    per-day outputs they own), with its own MLflow store."""
    root = tmp_path_factory.mktemp("targets")
    settings = replace(Settings.from_env(), lake_dir=root / "lake", publish_dir=root / "publish",
                       landing_dir=root / "landing", gx_dir=root / "gx")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        yield settings, build_lake(spark, settings, START, DAYS)


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.set_index(key).sort_index()


@pytest.mark.parametrize("channel,day_numbers", [("declarations", [7, 8]), ("express", [9, 11]), ("mail", [10])])
def test_incremental_features_equal_the_full_rebuild(spark, lake, channel, day_numbers):
    settings, generated = lake
    selector = SELECTORS[channel]
    silver = spark.read.format("delta").load(str(settings.table_path("silver", channel)))
    # Labels arrive 1-7 days after their record: the state of each day holds late labels.
    assert silver.where(F.col("inspection_date") > F.col(selector.day_column)).count() > 20
    full = selector.build_features(silver, silver, references(spark, settings)[0]).cache()
    for number in day_numbers:
        day = START + dt.timedelta(days=number)
        advance_entity_state(spark, settings, selector, day - dt.timedelta(days=1))
        daily = _sorted(day_features(spark, settings, selector, day).frame.toPandas(), selector.record_id)
        rebuilt = _sorted(full.where(F.col(selector.day_column) == F.lit(day)).toPandas(), selector.record_id)
        assert len(daily) > 10 and list(daily.columns) == list(rebuilt.columns)
        pd.testing.assert_frame_equal(daily, rebuilt, check_exact=False, rtol=1e-9)
        profiled = [c for c in daily.columns if c.endswith("_n")]
        assert daily[profiled].to_numpy().sum() > 0  # the state carried labels, not just zeros
    full.unpersist()


def test_state_store_reruns_and_replays_a_corrected_day(spark, tmp_path):
    from features.entity_state import INCREMENT_SCHEMA, EntityStateSpec, accumulate, entity_increments
    from features.profiles import profile_features

    spec = EntityStateSpec({"importer": ("importer_id",)}, "declaration_id", "date")
    days = [dt.date(2024, 1, d) for d in range(1, 6)]
    rows = [(f"D{d.day}{i}", d, f"I{i % 2}", i % 3 == 0) for d in days for i in range(4)]

    def frames(extra=()):
        df = spark.createDataFrame(list(rows) + list(extra), "declaration_id string, date date, importer_id string, "
                                   "flagged boolean")
        labels = (df.where("flagged").withColumn("fraud", F.lit(1)).withColumn("critical", F.lit(0))
                  .withColumn("label_date", F.date_add("date", 1)))
        return df, labels

    current = {"extra": []}

    def increments_for(first, last):
        df, labels = frames(current["extra"])
        in_range = (lambda c: (c >= F.lit(first)) & (c <= F.lit(last))) if first else (lambda c: c <= F.lit(last))
        return entity_increments(spec, df.where(in_range(F.col("date"))), labels.where(in_range(F.col("label_date"))))

    table = CumulativeTable.at(tmp_path, "importers", accumulate, tuple(f.name for f in INCREMENT_SCHEMA.fields))
    with pytest.raises(StateNotReady, match="materialize the state"):
        state_before(spark, table, days[2])
    assert advance(spark, table, days[2], increments_for).bootstrapped
    assert advance(spark, table, days[4], increments_for).folded == days[3:]
    assert advance(spark, table, days[1], increments_for).unchanged == [days[1]]
    current["extra"] = [("LATE", days[1], "I1", True)]  # a corrected re-delivery of day 2
    assert advance(spark, table, days[1], increments_for).replayed == days[1:]
    # A run that stopped half way (day 3's new increment written, no commit recording it): the next
    # run does not take it as unchanged.
    current["extra"] = [("LATE", days[1], "I1", True), ("LATE2", days[2], "I0", True)]
    _replace_increments(table, increments_for(days[2], days[2]), days[2], days[2])
    assert advance(spark, table, days[2], increments_for).replayed == days[2:]
    # A replay that stopped half way: the versions it has not rewritten yet are not served.
    through_day_2, _ = state_before(spark, table, days[2])
    _write_snapshot(spark, table, through_day_2, days[1], {}, {}, replayed_from=days[1].isoformat())
    with pytest.raises(StateNotReady, match="materialize the state"):
        state_before(spark, table, days[4])
    assert advance(spark, table, days[4], increments_for).folded == days[2:]

    df, labels = frames(current["extra"])
    want = profile_features(df, labels, spec.entities, "declaration_id", "date")
    for day in days[2:]:
        state, _ = state_before(spark, table, day)
        got = profile_features_from_state_for(spark, spec, df.where(F.col("date") == F.lit(day)), state)
        expected = want.where(F.col("date") == F.lit(day)).toPandas().set_index("declaration_id").sort_index()
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def profile_features_from_state_for(spark, spec, records, state) -> pd.DataFrame:
    from features.profiles import profile_features_from_state

    out = profile_features_from_state(records, state, spec.entities, spec.record_id, spec.day_column)
    got = out.toPandas().set_index(spec.record_id).sort_index()
    # An entity type too large to broadcast is joined by a shuffle, to the same values.
    shuffled = profile_features_from_state(records, state, spec.entities, spec.record_id, spec.day_column,
                                           broadcast_rows=0)
    pd.testing.assert_frame_equal(shuffled.toPandas().set_index(spec.record_id).sort_index(), got)
    # Every type in long form, the records' own columns carried along (as the parcel features do).
    carried = profile_features_from_state(records, state, spec.entities, spec.record_id, spec.day_column,
                                          wide_joins=0, carry=True).toPandas().set_index(spec.record_id)
    assert set(records.columns) - {spec.record_id} <= set(carried.columns)
    pd.testing.assert_frame_equal(carried[got.columns].sort_index(), got)
    return got


FEATURES = ["log_value_usd", "pccc_identity_fail", "seller_fraud_rate", "value_to_de_minimis"]


def _toy_selector(rows: int = 600, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((rows, len(FEATURES))), columns=FEATURES)
    fraud = ((x["pccc_identity_fail"] > 0.8) | (x["seller_fraud_rate"] + 0.3 * rng.random(rows) > 1.0)).astype(int)
    frame = x.assign(fraud=fraud, critical=(fraud & (x["log_value_usd"] > 0.7)).astype(int),
                     record_key=[f"R{i:04d}" for i in range(rows)])
    selector = train_selector(frame[:400], frame[400:], FEATURES, TINY)
    selector.info.update(model_name="toy_selector", version="1")
    return selector, frame


def test_scores_in_arrow_batches_equal_the_selector_and_reasons_are_words(spark):
    selector, frame = _toy_selector()
    model = ScoringModel.from_selector(selector)
    df = spark.createDataFrame(frame[["record_key", *FEATURES]])
    scored = score_frame(df, model, "record_key").toPandas().set_index("record_key").loc[frame["record_key"]]
    fraud, critical = selector.scores(frame)
    np.testing.assert_allclose(scored["fraud_score"], fraud, rtol=1e-6)
    np.testing.assert_allclose(scored["critical_score"], critical, rtol=1e-6)
    likely = scored.nlargest(40, "fraud_score").index
    reasons = reasons_frame(df.where(F.col("record_key").isin(list(likely))), model, "record_key",
                            spark.createDataFrame([], "record_key string"))
    texts = reasons.toPandas()
    # A likely fraud has features that raised its score; they are named in words, not column names.
    assert len(texts) == len(likely) > 10 and texts["reason_1"].notna().all()
    assert not texts["reason_1"].str.contains("_").any()
    with pytest.raises(ChampionMismatch, match="retrain"):
        model.check_features([*FEATURES[:-1], "something_new"], "retrain")


def _scored(spark, n: int, rules: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    fraud = rng.random(n)
    frame = pd.DataFrame({"record_key": [f"K{i:05d}" for i in range(n)], "fraud_score": fraud,
                          "critical_score": fraud * rng.random(n)})
    hit = rng.choice(n, rules, replace=False)
    frame["rule_hits"] = [["pccc_identity_failure"] if i in set(hit) else [] for i in range(n)]
    return spark.createDataFrame(frame, "record_key string, fraud_score double, critical_score double, "
                                        "rule_hits array<string>"), frame


def test_capacity_of_a_share_is_not_one_over():
    assert LaneCapacity(red=0.03, yellow=0.07).sizes(100_000) == (3000, 7000)
    assert LaneCapacity(red=0.03, yellow=0.07).sizes(200) == (6, 14)
    assert LaneCapacity(red=0.03, yellow=0.07).sizes(101) == (4, 8)  # a part of a record is a whole one
    assert LaneCapacity(red=500, yellow=0.5).sizes(300) == (300, 0)


@pytest.mark.parametrize("rules", [12, 150])
def test_lanes_respect_capacity_exploration_and_rules(spark, rules):
    scored, frame = _scored(spark, 1000, rules)
    policy = SelectionPolicy(LaneCapacity(red=0.05, yellow=0.05), critical_share=0.2, exploration_share=0.1)
    allocation = allocate(scored, policy, seed="express:2024-03-25")
    listed = allocation.listed.toPandas().merge(frame, on="record_key")
    lanes = listed["lane"].value_counts().to_dict()
    assert lanes["red"] == 50 and lanes["yellow"] == 50  # exactly the capacity
    explored = listed[listed["selection_reason"] == "exploration"]
    assert len(explored) == 5  # 10 % of red
    own_top = set(frame.nlargest(100, "fraud_score")["record_key"])
    assert not set(explored["record_key"]) & own_top  # outside what the model would pick itself
    rule_rows = frame[frame["rule_hits"].map(len) > 0]
    assert set(rule_rows["record_key"]) <= set(listed["record_key"])  # every rule hit is listed
    by_rule = listed[listed["record_key"].isin(rule_rows["record_key"])]
    assert by_rule["selection_reason"].str.startswith("rule:").all()
    overflow = max(0, rules - (50 - 5) - 50)
    assert lanes.get("overflow", 0) == overflow == allocation.counts["overflow"]
    assert sorted(listed["rank"]) == list(range(1, len(listed) + 1))
    again = allocate(scored, policy, seed="express:2024-03-25").listed.toPandas()
    pd.testing.assert_frame_equal(again.sort_values("rank", ignore_index=True),
                                  allocation.listed.toPandas().sort_values("rank", ignore_index=True))


def test_masks_and_formula_safe_csv(spark, tmp_path):
    from jobs.publish import mask_name, mask_pccc, mask_phone, scrub_text, write_csv

    raw = spark.createDataFrame(
        [("P123456789012", "010-1234-5678", "김민수"), ("P000011112222", "01099998888", "John"),
         ("P1", "02-555-1234", "이"), (None, None, None)], "pccc string, phone string, name string")
    masked = raw.select(mask_pccc(F.col("pccc")).alias("p"), mask_phone(F.col("phone")).alias("t"),
                        mask_name(F.col("name")).alias("n")).collect()
    assert [tuple(r) for r in masked] == [
        ("P1234****9012", "010-****-5678", "김*"), ("P0000****2222", "010-****-8888", "J*"),
        ("****", "02-****-1234", "*"), (None, None, None)]
    odd = spark.createDataFrame([("0101234-5678", "gift for 김민수 P123456789012 call 010-9876-5432")],
                                "p string, t string")
    row = odd.select(mask_phone(F.col("p")).alias("p"), scrub_text(F.col("t")).alias("t")).first()
    assert row["p"] == "010-****-5678" and "1234" not in row["p"]  # a dash in an odd place leaks nothing
    assert "123456789012" not in row["t"] and "9876" not in row["t"] and row["t"].startswith("gift for")
    path = write_csv(pd.DataFrame({"text": ["=HYPERLINK(\"x\")", "+1", "@SUM(A1)", "-2", "\tx", "ok"],
                                   "value": [-1.5, 2, 3, 4, 5, 6]}), tmp_path / "out.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["text"].str.startswith("'").sum() == 5 and back["value"].iloc[0] == -1.5


def test_no_scoring_without_a_champion(lake):
    with pytest.raises(ChampionMismatch, match="customs-risk train"):
        load_champion(replace(SELECTORS["mail"], model_name="never_trained_selector"))


def test_published_list_for_a_day(spark, lake):
    settings, generated = lake
    selector = SELECTORS["express"]
    build_feature_table(spark, settings, selector)
    train_channel_selector(spark, settings, selector, TINY, eval_days=3, stop_days=2)
    model = load_champion(selector)
    day = generated.last
    advance_entity_state(spark, settings, selector, day - dt.timedelta(days=1))
    first = build_day_targets(spark, settings, selector, day, model)
    csv_bytes = first.csv_path.read_bytes()
    published = pd.read_csv(first.csv_path, encoding="utf-8-sig", dtype=str)
    red, yellow = settings.capacity["express"].sizes(first.counts["records"])
    assert (published["lane"] == "red").sum() == red and (published["lane"] == "yellow").sum() == yellow
    assert {"rank", "lane", "selection_reason", "record_key", "fraud_score", "reason_1", "master_awb",
            "recipient_pccc_masked"} <= set(published.columns)
    assert published["reason_1"].notna().mean() > 0.5
    # Personal data never leaves unmasked: no raw PCCC, phone or name of the day in any cell.
    records = spark.read.format("delta").load(str(settings.table_path("silver", "express"))).where(
        F.col("arrival_date") == F.lit(day)).select("recipient_pccc", "recipient_phone", "recipient_name").toPandas()
    raw_values = {v for v in records.to_numpy().ravel() if isinstance(v, str) and len(v) > 1}
    for frame in (published, pd.read_parquet(first.parquet_path).astype(str)):
        cells = frame.astype(str).to_numpy().ravel()
        assert not [c for c in cells if any(raw in c for raw in raw_values)]
    # Re-running the day gives the identical list, and the table holds it once.
    again = build_day_targets(spark, settings, selector, day, model)
    assert again.csv_path.read_bytes() == csv_bytes
    stored = spark.read.format("delta").load(str(settings.table_path("gold", "targets"))).where(
        (F.col("day") == F.lit(day)) & (F.col("channel") == "express"))
    assert stored.count() == len(published)
    assert stored.select("model_name", "model_version").distinct().count() == 1
    assert "silver.express" in stored.first()["input_versions"]


def test_selection_performance_by_reason_and_outside_the_list(spark):
    from models.feedback import OUTSIDE_LIST, selection_performance

    day = dt.date(2024, 3, 5)
    scores = spark.createDataFrame([(day, "express", k, lane) for k, lane in
                                    (("A", "red"), ("B", "red"), ("C", "yellow"), ("D", "green"), ("E", "green"))],
                                   "day date, channel string, record_key string, lane string")
    targets = spark.createDataFrame([(day, "express", "A", "model"), (day, "express", "B", "exploration"),
                                     (day, "express", "C", "rule:pccc_identity_failure")],
                                    "day date, channel string, record_key string, selection_reason string")
    results = spark.createDataFrame([("express", "A", 1, 5000.0, 0.0), ("express", "B", 0, 0.0, 0.0),
                                     ("express", "D", 2, 0.0, 1.5), ("mail", "A", 1, 9.0, 0.0)],
                                    "channel string, record_key string, outcome int, additional_duty_krw double, "
                                    "seized_kg double")
    rows = {r["selection_reason"]: r for r in selection_performance(scores, targets, results).collect()}
    model, rule = rows["model"], rows["rule:pccc_identity_failure"]
    assert (model["inspected"], model["hits"], model["duty_recovered_krw"]) == (1, 1, 5000.0)
    assert rows["exploration"]["hit_rate"] == 0.0
    assert rule["inspected"] == 0 and rule["hit_rate"] is None
    outside = rows[OUTSIDE_LIST]
    assert (outside["selected"], outside["inspected"]) == (2, 1)
    assert (outside["critical_finds"], outside["seized_kg"]) == (1, 1.5)


def test_the_daily_run_fails_clearly_without_a_champion(spark, settings, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.definitions import defs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            partition_key="2024-03-05", instance=instance, raise_on_error=False,
            asset_selection=[dg.AssetKey(["gold", "mail_targets"])])
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0].event_specific_data.error
    assert "no champion registered for mail_selector" in failure.message and "customs-risk train" in failure.message


def test_backtest_reveals_only_the_selected_labels(spark):
    from models.backtest import POLICIES, BacktestConfig, run_backtest

    config = BacktestConfig(weeks=1, warmup_weeks=2, scale=0.4, seed=11, params=TINY)
    result = run_backtest(spark, config, log=lambda _: None)
    for policy in POLICIES:
        revealed = result.revealed[policy]
        assert set(revealed["record_key"]) == result.selected[policy]  # nothing unselected is ever labelled
        assert revealed["record_key"].is_unique
    week = result.weekly
    assert set(week["policy"]) == set(POLICIES) and (week["inspected"] > 0).all()
    assert week.groupby("week")["inspected"].nunique().eq(1).all()  # every policy inspects as many
    assert result.summary["hybrid"]["fraud_never_seen"] is not None


def test_a_corrected_earlier_day_reaches_the_state(spark, lake):
    """A re-delivery that changes an earlier day's records is found in silver's Delta log on the
    next advance, and the state is replayed from that day (runs last: it changes the lake)."""
    from delta.tables import DeltaTable

    settings, _ = lake
    selector = SELECTORS["express"]
    day = START + dt.timedelta(days=9)
    advance_entity_state(spark, settings, selector, day)
    corrected = START + dt.timedelta(days=6)
    path = str(settings.table_path("silver", "express"))
    gone = spark.read.format("delta").load(path).where(F.col("arrival_date") == F.lit(corrected)).first()["house_awb"]
    DeltaTable.forPath(spark, path).delete(F.col("house_awb") == gone)
    outcome = advance_entity_state(spark, settings, selector, day)
    assert outcome.replayed and outcome.replayed[0] == corrected
    silver = spark.read.format("delta").load(path)
    full = selector.build_features(silver, silver, references(spark, settings)[0])
    target = day + dt.timedelta(days=1)
    daily = _sorted(day_features(spark, settings, selector, target).frame.toPandas(), selector.record_id)
    rebuilt = _sorted(full.where(F.col("arrival_date") == F.lit(target)).toPandas(), selector.record_id)
    pd.testing.assert_frame_equal(daily, rebuilt, check_exact=False, rtol=1e-9)
