"""Weekly price index, surge flags, supply alerts: robust figures, thin weeks, history, the rule
for the target lists, the weekly assets and their CSVs, and detection on generated events."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.prices import (
    PRICE_LISTS,
    SurgeRule,
    item_codes,
    item_declarations,
    price_surges,
    surge_price_deviation,
    weekly_price_index,
)
from jobs.supply import SUPPLY_LISTS, SupplyRule, supply_alerts, supply_metrics

MONDAY = dt.date(2024, 1, 1)
DECLARATION_SCHEMA = ("declaration_id string, date date, hs6_code string, country_of_origin string, "
                      "net_mass double, item_price double")
ITEM_SCHEMA = ("item_code string, list_type string, name_ko string, name_en string, hs6_codes string, "
               "_valid_from date, _valid_to date")


def item(code="SC0001", hs="020130", valid_from=dt.date(2023, 1, 2), valid_to=None, list_type="surge_check"):
    return (code, list_type, "냉동 쇠고기", "frozen beef", hs, valid_from, valid_to)


def declarations(spark, week_prices: dict[int, list[float]], hs="020130", origin="AU", mass=100.0):
    """`week_prices[w]`: the unit prices (KRW/kg) of declarations in week `w` after MONDAY."""
    rows = []
    for week, prices in week_prices.items():
        for i, price in enumerate(prices):
            day = MONDAY + dt.timedelta(weeks=week, days=i % 5)
            rows.append((f"{hs}-{week}-{i}", day, hs, origin, mass, price * mass))
    return spark.createDataFrame(rows, DECLARATION_SCHEMA)


def rows_of(spark, decl, items, list_types=PRICE_LISTS):
    monitored = spark.createDataFrame(items, ITEM_SCHEMA)
    return item_declarations(decl, item_codes(monitored, list_types), MONDAY - dt.timedelta(weeks=60),
                             MONDAY + dt.timedelta(weeks=20))


def baseline(weeks=8, n=10, price=1000.0):
    return {w: [price * (1 + 0.01 * (i % 5 - 2)) for i in range(n)] for w in range(weeks)}


def test_one_absurd_shipment_does_not_move_the_index(spark):
    prices = [1000.0 + 10 * i for i in range(9)]
    plain = rows_of(spark, declarations(spark, {0: prices}), [item()])
    absurd = declarations(spark, {0: [1e9]}, mass=5e7).withColumn("declaration_id", F.lit("huge"))
    with_absurd = rows_of(spark, declarations(spark, {0: prices}).unionByName(absurd), [item()])
    before = weekly_price_index(plain, 8).where("origin = 'ALL'").first()
    after = weekly_price_index(with_absurd, 8).where("origin = 'ALL'").first()
    assert before.unit_price_krw_per_kg == 1040.0
    assert after.unit_price_krw_per_kg == 1045.0  # one rank up, not a billion
    assert after.unit_value_krw_per_kg > 1e8  # the mass-weighted figure would have followed the shipment
    assert after.declarations == 10 and not after.thin


def test_a_surge_is_flagged_with_its_evidence_and_a_thin_week_raises_nothing(spark):
    rule = SurgeRule()
    week = MONDAY + dt.timedelta(weeks=8)
    surged = rows_of(spark, declarations(spark, {**baseline(), 8: [1500.0] * 10}), [item()])
    flags = price_surges(surged, weekly_price_index(surged, rule.min_declarations), [week], rule).collect()
    assert len(flags) == 1
    flag = flags[0]
    assert flag.change_pct == pytest.approx(50.0, abs=1.5) and flag.declarations == 10
    assert flag.baseline_krw_per_kg == pytest.approx(1000.0, rel=0.02) and flag.baseline_weeks == 8
    assert flag.baseline_declarations == 80  # 8 weeks x 10 declarations of its one code
    assert flag.year_ago_krw_per_kg is None and "no index 52 weeks earlier" in flag.reason
    assert "on 10 declarations" in flag.reason and flag.name_ko == "냉동 쇠고기"

    thin = rows_of(spark, declarations(spark, {**baseline(), 8: [1500.0] * 3}), [item()])
    index = weekly_price_index(thin, rule.min_declarations)
    assert index.where(F.col("week_start") == week).where("origin = 'ALL'").first().thin
    assert price_surges(thin, index, [week], rule).count() == 0


def test_year_on_year_is_used_where_a_year_of_history_exists(spark):
    rule = SurgeRule()
    week = MONDAY + dt.timedelta(weeks=8)
    history = {w - 52: [1400.0] * 10 for w in (8,)}  # the same week a year earlier was already dear
    rows = rows_of(spark, declarations(spark, {**history, **baseline(), 8: [1500.0] * 10}), [item()])
    flags = price_surges(rows, weekly_price_index(rows, rule.min_declarations), [week], rule).collect()
    assert flags == []  # +50 % on the trailing weeks, but only +7 % on the year before: no surge


def test_an_item_whose_codes_change_is_priced_on_the_codes_valid_each_week(spark):
    change = MONDAY + dt.timedelta(weeks=2)
    versions = [item(hs="020130", valid_to=change), item(hs="020230", valid_from=change)]
    decl = declarations(spark, {w: [1000.0] * 3 for w in range(4)}, hs="020130").unionByName(
        declarations(spark, {w: [3000.0] * 3 for w in range(4)}, hs="020230"))
    index = weekly_price_index(rows_of(spark, decl, versions), 1).where("origin = 'ALL'").orderBy("week_start")
    by_week = [(r.hs6_codes, r.unit_price_krw_per_kg, r.declarations) for r in index.collect()]
    assert by_week == [(["020130"], 1000.0, 3), (["020130"], 1000.0, 3), (["020230"], 3000.0, 3),
                       (["020230"], 3000.0, 3)]


def test_declarations_far_off_a_surging_items_price_are_a_rule_hit(spark):
    rule = SurgeRule()
    week = MONDAY + dt.timedelta(weeks=8)
    rows = rows_of(spark, declarations(spark, {**baseline(), 8: [1500.0] * 10}), [item()])
    surges = price_surges(rows, weekly_price_index(rows, rule.min_declarations), [week], rule)
    day = week + dt.timedelta(days=9)
    today = spark.createDataFrame([("cheap", day, "020130", "AU", 100.0, 500.0 * 100),
                                   ("normal", day, "020130", "AU", 100.0, 1500.0 * 100),
                                   ("other", day, "999999", "AU", 100.0, 10.0 * 100)], DECLARATION_SCHEMA)
    hits = {r.declaration_id: r.price_surge_deviation for r in
            surge_price_deviation(today, surges, "date", rule).collect()}
    assert hits == {"cheap": 1.0, "normal": 0.0}  # 500 against ~1500: a third of the item's price


def test_supply_alerts_on_a_drop_and_on_a_new_dependence(spark):
    rule = SupplyRule()
    mixed = ["CN", "US", "VN", "JP", "DE"]
    rows = []
    for w in range(7):
        for i in range(40):
            rows.append((f"b{w}-{i}", MONDAY + dt.timedelta(weeks=w, days=i % 5), "270900", mixed[i % 5], 10.0, 1e4))
    for w in (7, 8):  # the shock: 8 declarations a week instead of 40, all from one origin
        for i in range(8):
            rows.append((f"s{w}-{i}", MONDAY + dt.timedelta(weeks=w, days=i % 5), "270900", "ID", 10.0, 1e4))
    decl = spark.createDataFrame(rows, DECLARATION_SCHEMA)
    metrics = supply_metrics(rows_of(spark, decl, [item("SI0001", "270900", list_type="supply_import")],
                                     SUPPLY_LISTS))
    calm = metrics.where(F.col("week_start") == MONDAY).first()
    assert (calm.declarations, calm.origins, calm.hhi) == (40, 5, 2000.0)
    week = MONDAY + dt.timedelta(weeks=8)
    alerts = {r.alert: r for r in supply_alerts(metrics, [week], rule).collect()}
    assert set(alerts) == {"volume_drop", "origin_dependence"}
    drop = alerts["volume_drop"]
    assert (drop.declarations, drop.baseline_declarations_per_week) == (16, 40.0)  # two weeks pooled
    assert "fell to 16 declarations against 80.0 expected from the previous 7 weeks" in drop.reason
    assert alerts["origin_dependence"].top_origin == "ID" and alerts["origin_dependence"].hhi == 10000.0
    assert supply_alerts(metrics, [MONDAY + dt.timedelta(weeks=6)], rule).count() == 0


def test_a_thin_items_shock_alerts_on_the_drop_and_dependence_together(spark):
    """5-6 declarations a week fall to 2 and 1, all from one new origin: 3 against 10.9 expected is
    only 2.4 Poisson sd (no volume_drop) and 3 declarations are too few for origin_dependence alone;
    together they are the shock. The same fall spread over the usual origins raises nothing, nor
    does a baseline under the minimum a week."""
    rule = SupplyRule()
    mixed = ["CN", "US", "VN", "JP", "DE"]
    weekly = [5, 6, 5, 6, 5, 6, 5]  # 5.43 a week: above the 4-a-week minimum

    def alerts_after(week7: list[str], week8: list[str], judged_by: SupplyRule = rule) -> dict:
        rows = [(f"b{w}-{i}", MONDAY + dt.timedelta(weeks=w, days=i % 5), "270900", mixed[(w + i) % 5], 10.0, 1e4)
                for w, n in enumerate(weekly) for i in range(n)]
        rows += [(f"s{w}-{i}", MONDAY + dt.timedelta(weeks=w, days=i), "270900", origin, 10.0, 1e4)
                 for w, origins in ((7, week7), (8, week8)) for i, origin in enumerate(origins)]
        metrics = supply_metrics(rows_of(spark, spark.createDataFrame(rows, DECLARATION_SCHEMA),
                                         [item("SI0001", "270900", list_type="supply_import")], SUPPLY_LISTS))
        return {r.alert: r for r in supply_alerts(metrics, [MONDAY + dt.timedelta(weeks=8)], judged_by).collect()}

    alerts = alerts_after(["ID", "ID"], ["ID"])
    assert set(alerts) == {"drop_with_dependence"}
    shock = alerts["drop_with_dependence"]
    assert (shock.declarations, shock.baseline_declarations_per_week, shock.top_origin) == (3, 5.43, "ID")
    assert rule.drop_z < shock.drop_z <= rule.combined_drop_z
    assert "fell to 3 declarations against 10.9 expected" in shock.reason and "ID supplied 100%" in shock.reason
    assert alerts_after(["CN", "US"], ["VN"]) == {}
    # 2 against 10.9 expected is 2.7 sd, a volume_drop on its own; where the drop alone needs 3 sd,
    # 2 of 2 from a new origin still alerts as the combined shock ... unless 3 are needed
    assert set(alerts_after(["ID"], ["ID"])) == {"volume_drop"}
    strict_drop = replace(rule, drop_z=-3.0)
    assert set(alerts_after(["ID"], ["ID"], strict_drop)) == {"drop_with_dependence"}
    assert alerts_after(["ID"], ["ID"], replace(strict_drop, combined_min_top_origin=3)) == {}
    assert alerts_after(["ID", "ID"], ["ID"], replace(rule, min_baseline_declarations=6.0)) == {}


def test_the_weekly_assets_write_gold_and_publish_csvs(spark, settings):
    import dagster as dg

    from orchestration.definitions import defs

    week = MONDAY + dt.timedelta(weeks=8)
    decl = declarations(spark, {**baseline(), 8: [1500.0] * 10})
    decl.write.format("delta").partitionBy("date").save(str(settings.table_path("silver", "declarations")))
    items = [item(), ("SC0002", "surge_check", "=HYPERLINK(\"x\")", "formula", "020130", dt.date(2023, 1, 2), None),
             item("SI0001", list_type="supply_import")]
    (spark.createDataFrame(items, ITEM_SCHEMA).withColumn("_is_current", F.lit(True))
     .write.format("delta").save(str(settings.table_path("silver", "monitored_items"))))
    folder = settings.publish_dir / "prices" / week.isoformat()
    snapshots = []
    with dg.instance_for_test() as instance:
        for _ in range(2):  # re-running a week gives the same tables and files
            result = defs.resolve_job_def("weekly_markets").execute_in_process(
                partition_key=week.isoformat(), instance=instance, raise_on_error=False)
            assert result.success
            tables = {t: sorted(map(str, spark.read.format("delta").load(str(settings.table_path("gold", t)))
                                    .drop("code_baselines", "origin_declarations").collect()))
                      for t in ("price_index", "price_surges", "supply_metrics", "supply_alerts")}
            snapshots.append((tables, (folder / "price_surges.csv").read_bytes()))
    assert snapshots[0] == snapshots[1]
    surges = spark.read.format("delta").load(str(settings.table_path("gold", "price_surges")))
    assert sorted(r.item_code for r in surges.collect()) == ["SC0001", "SC0002"]
    index = spark.read.format("delta").load(str(settings.table_path("gold", "price_index")))
    assert index.where("origin = 'ALL'").count() == 2
    raw = (folder / "price_surges.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "냉동 쇠고기".encode() in raw and b"frozen beef" in raw
    published = pd.read_csv(folder / "price_surges.csv", encoding="utf-8-sig", dtype=str)
    assert published.loc[0, "hs6_codes"] == "020130" and published.loc[0, "code_baselines"].startswith("020130=")
    assert published.loc[0, "reason"].startswith("up 50")
    assert "'=HYPERLINK" in (folder / "price_index.csv").read_text(encoding="utf-8-sig")  # formula-safe
    assert (settings.publish_dir / "supply" / week.isoformat() / "supply_metrics.csv").exists()
    materialized = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
                    for e in result.get_asset_materialization_events()}
    assert materialized["gold/price_surges"]["dagster/row_count"].value == 2
    assert "dagster/column_schema" in materialized["gold/supply_alerts"]


def test_a_known_generated_surge_is_flagged(spark):
    from models.detector_check import CheckConfig, check_detectors

    report = check_detectors(spark, CheckConfig(weeks=13, scale=4, seed=5), log=lambda _: None)
    surge = report["surge"]
    # 13 weeks at a fifth of check-detectors' volume: thinner items, shorter history; 10 of 12
    # surges and 4 of 8 shocks found when written.
    assert surge["events"] == 12 and surge["detected"] >= 8, surge
    assert surge["false_alarms_per_100_item_weeks"] < 1, surge
    assert report["supply"]["detected"] >= 3, report["supply"]


def test_the_weeks_a_range_covers_are_its_complete_monday_to_sunday_weeks():
    from orchestration.cli import complete_weeks

    assert complete_weeks(dt.date(2024, 3, 5), dt.date(2024, 3, 31)) == [dt.date(2024, 3, d) for d in (11, 18, 25)]
    assert complete_weeks(dt.date(2024, 3, 4), dt.date(2024, 3, 9)) == []


def test_the_weekly_batch_without_its_silver_tables_says_what_to_land(spark, settings):
    from jobs.markets import price_week

    with pytest.raises(ValueError, match="need silver declarations and monitored_items: land them first"):
        price_week(spark, settings, MONDAY)
