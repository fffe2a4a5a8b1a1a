"""Write, audit, publish: a day above the quarantine threshold changes nothing downstream; MERGEs
read only their days' partitions and report their own counts; two writers of one day both end."""

from __future__ import annotations

import datetime as dt
import threading

from delta.tables import DeltaTable

from expectations.runner import GxValidator
from jobs.ingest import land_bronze, refine_silver
from jobs.sources import SOURCES
from tests.conftest import DAY, declaration_line, write_landing, write_rows

DECLARATIONS = SOURCES["declarations"]


def version(spark, path) -> int:
    return DeltaTable.forPath(spark, str(path)).history(1).first()["version"]


def ingest(spark, settings, source="declarations", days=DAY):
    spec = SOURCES[source]
    land_bronze(spark, spec, settings, days)
    return refine_silver(spark, spec, settings, days, GxValidator())


def test_held_day_leaves_silver_and_feedback_untouched_and_publishes_once_fixed(spark, settings):
    write_landing(settings.landing_dir, "a.csv", [declaration_line(f"D{i}", fraud="", critical_fraud="")
                                                  for i in range(20)])
    assert ingest(spark, settings).published
    silver = settings.table_path("silver", "declarations")
    before = version(spark, silver)

    later = DAY + dt.timedelta(days=3)
    good = [{"channel": "declarations", "record_key": f"D{i}", "inspection_date": later.isoformat(), "outcome": "1",
             "finding": "under_valuation"} for i in range(3)]
    bad = [{"channel": "declarations", "record_key": "D9", "inspection_date": "yesterday", "outcome": "7"}]
    results_file = write_rows(settings.landing_dir, "inspection_results", later, good + bad)
    held = ingest(spark, settings, "inspection_results", later)

    assert not held.published and held.held_days == [later]
    assert "1 of 4 rows quarantined" in held.held_reason()
    assert (held.by_day[later].valid_rows, held.by_day[later].rule_failures) == (3, 1)
    results_path = settings.table_path("silver", "inspection_results")
    assert not DeltaTable.isDeltaTable(spark, str(results_path))  # never written
    assert version(spark, silver) == before  # no label written back onto the declarations
    quarantined = spark.read.format("delta").load(str(settings.table_path("quarantine", "inspection_results")))
    assert quarantined.count() == 1  # the audit result itself is kept, for the engineer to read

    results_file.unlink()
    write_rows(settings.landing_dir, "inspection_results", later, good)
    fixed = ingest(spark, settings, "inspection_results", later)
    assert fixed.published and fixed.extra["labels_applied_declarations"] == 3
    assert version(spark, silver) == before + 1
    labelled = spark.read.format("delta").load(str(silver)).where("inspection_outcome = 1").count()
    assert labelled == 3


def test_range_run_publishes_good_days_and_names_the_held_one(spark, settings):
    second = DAY + dt.timedelta(days=1)
    write_landing(settings.landing_dir, "a.csv", [declaration_line(f"A{i}") for i in range(10)])
    write_landing(settings.landing_dir, "b.csv", [declaration_line("B1", day=second), "broken line"], day=second)
    result = ingest(spark, settings, days=[DAY, second])
    assert result.held_days == [second] and result.by_day[DAY].quarantined == 0
    assert result.by_day[second].rows_read == 2 and result.by_day[second].reconciles and result.reconciles
    silver = spark.read.format("delta").load(str(settings.table_path("silver", "declarations")))
    assert {r.declaration_id for r in silver.collect()} == {f"A{i}" for i in range(10)}


def test_merge_reads_only_its_days_and_counts_its_own_rows(spark, settings):
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    for day in days:
        write_landing(settings.landing_dir, "a.csv", [declaration_line(f"{day}-{i}", day=day) for i in range(5)],
                      day=day)
    first = ingest(spark, settings, days=days)
    assert (first.inserted, first.updated) == (15, 0)
    write_landing(settings.landing_dir, "b.csv", [declaration_line(f"{days[1]}-0", day=days[1], item_price="9.0"),
                                                  declaration_line("new", day=days[1])],
                  day=days[1], mtime=4_000_000_000)
    again = ingest(spark, settings, days=days[1])
    assert (again.inserted, again.updated) == (1, 1)
    merge = DeltaTable.forPath(spark, str(settings.table_path("silver", "declarations"))).history(1).first()
    # The MERGE carried the day as a partition predicate: Delta prunes the other days' files.
    assert f"= {days[1]})" in merge["operationParameters"]["predicate"]
    assert f"{days[0]}" not in merge["operationParameters"]["predicate"]
    assert int(merge["operationMetrics"]["numTargetRowsCopied"]) == 4  # only that day's file was rewritten


def test_two_runs_of_the_same_day_at_once_both_end_with_each_record_once(spark, settings):
    write_landing(settings.landing_dir, "a.csv", [declaration_line(f"D{i}") for i in range(30)])
    land_bronze(spark, DECLARATIONS, settings, DAY)
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(refine_silver(spark, DECLARATIONS, settings, DAY, GxValidator()))
        except Exception as err:  # noqa: BLE001 - the test reports what went wrong
            outcomes.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    silver = spark.read.format("delta").load(str(settings.table_path("silver", "declarations")))
    assert silver.count() == 30 and silver.select("declaration_id").distinct().count() == 30


def test_a_reinspection_on_a_later_day_updates_the_result_instead_of_adding_one(spark, settings):
    write_landing(settings.landing_dir, "a.csv", [declaration_line("D1", fraud="", critical_fraud="")])
    ingest(spark, settings)
    first, again = DAY + dt.timedelta(days=2), DAY + dt.timedelta(days=5)
    for day, outcome in ((first, "0"), (again, "1")):
        write_rows(settings.landing_dir, "inspection_results", day,
                   [{"channel": "declarations", "record_key": "D1", "inspection_date": day.isoformat(),
                     "outcome": outcome, "finding": "under_valuation" if outcome == "1" else ""}])
        assert ingest(spark, settings, "inspection_results", day).published
    results = spark.read.format("delta").load(str(settings.table_path("silver", "inspection_results")))
    assert [(r.inspection_date, r.outcome) for r in results.collect()] == [(again, 1)]
