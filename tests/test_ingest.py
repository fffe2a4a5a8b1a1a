"""Bronze -> silver/quarantine on Delta: quarantine reasons, idempotency, re-delivery, reconciliation."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from pyspark.sql import functions as F

from expectations.runner import GxValidator
from jobs.ingest import SilverResult, land_bronze, refine_silver, stage_bronze
from jobs.sources import DECLARATIONS
from jobs.tables import read_partition
from tests.conftest import DAY, KCS_DIR, declaration_line, write_landing


def ingest(spark, settings, day=DAY, validator: GxValidator | None = None) -> SilverResult:
    land_bronze(spark, DECLARATIONS, settings, day)
    # Row-level handling is what these tests look at; the write-audit-publish gate has its own tests.
    return refine_silver(spark, DECLARATIONS, settings, day, validator or GxValidator(), max_quarantine_share=None)


def silver(spark, settings):
    return spark.read.format("delta").load(str(settings.table_path("silver", "declarations")))


def quarantine(spark, settings):
    return spark.read.format("delta").load(str(settings.table_path("quarantine", "declarations")))


def test_clean_day_lands_typed_in_silver(spark, settings):
    write_landing(settings.landing_dir, "a.csv", [declaration_line(str(i)) for i in range(5)])
    result = ingest(spark, settings)
    assert (result.rows_read, result.valid_rows, result.quarantined, result.inserted) == (5, 5, 0, 5)
    assert result.reconciles
    rows = silver(spark, settings).orderBy("declaration_id").collect()
    assert [r.declaration_id for r in rows] == ["0", "1", "2", "3", "4"]
    assert rows[0].date == DAY and rows[0].net_mass == 108.0 and rows[0].fraud == 0
    assert rows[0]._source_file.endswith("a.csv") and rows[0]._line_number == 2


def test_five_digit_hs_code_lands_with_its_leading_zero(spark, settings):
    lines = [declaration_line("padded", hs6_code="71080"), declaration_line("short", hs6_code="7108")]
    write_landing(settings.landing_dir, "a.csv", lines)
    result = ingest(spark, settings)
    assert result.valid_rows == 1 and result.quarantined == 1
    assert [(r.declaration_id, r.hs6_code) for r in silver(spark, settings).collect()] == [("padded", "071080")]
    assert [set(r.failed_rules) for r in quarantine(spark, settings).collect()] == [{"hs6_code_six_digits"}]


def test_bad_rows_are_quarantined_with_every_reason_and_never_reach_silver(spark, settings):
    lines = [
        declaration_line("ok"),
        declaration_line("badhs", hs6_code="12AB56", net_mass="abc"),
        declaration_line("badcountry", country_of_origin="XX", tax_rate="1200"),
        declaration_line("negative", net_mass="0", item_price="-5"),
        declaration_line("wrongday", date="2020-03-03"),
        declaration_line("badlabel", fraud="7", critical_fraud="x"),
        declaration_line("", importer_id=""),
        "short,line",
    ]
    write_landing(settings.landing_dir, "a.csv", lines)
    result = ingest(spark, settings)
    assert result.valid_rows == 1 and result.quarantined == 7 and result.reconciles
    assert [r.declaration_id for r in silver(spark, settings).collect()] == ["ok"]
    rules = {r.line_number: set(r.failed_rules) for r in quarantine(spark, settings).collect()}
    assert rules[3] == {"hs6_code_six_digits", "net_mass_is_number"}
    assert rules[4] == {"country_of_origin_iso", "tax_rate_in_range"}
    assert rules[5] == {"net_mass_positive", "item_price_non_negative"}
    assert rules[6] == {"date_in_partition"}
    assert rules[7] == {"fraud_domain", "critical_fraud_is_integer"}
    assert rules[8] == {"declaration_id_present", "importer_id_present"}
    assert rules[9] == {"parse_error"}
    row = quarantine(spark, settings).where(F.col("line_number") == 3).first()
    assert "hs6_code=12AB56" not in row.reason and "12AB56" in row.reason
    assert row.source_file.endswith("a.csv") and row.record_key == "badhs"


def test_rerun_and_duplicated_file_change_no_counts(spark, settings):
    lines = [declaration_line(str(i)) for i in range(4)] + ["broken"]
    path = write_landing(settings.landing_dir, "a.csv", lines)
    first = ingest(spark, settings)
    second = ingest(spark, settings)
    assert second.inserted == 0 and second.updated == 0
    shutil.copy(path, path.with_name("a-copy.csv"))
    third = ingest(spark, settings)
    assert third.duplicates_skipped == 4 and third.parse_errors == 2 and third.reconciles
    assert silver(spark, settings).count() == 4
    assert first.quarantined == second.quarantined == 1
    assert quarantine(spark, settings).count() == 2  # the broken line of each file, by file and line


def test_key_repeated_within_one_file(spark, settings):
    lines = [
        declaration_line("same"), declaration_line("same"),  # exact repeat: skipped
        declaration_line("clash", item_price="10"), declaration_line("clash", item_price="20"),
    ]
    write_landing(settings.landing_dir, "a.csv", lines)
    result = ingest(spark, settings)
    assert (result.duplicates_skipped, result.valid_rows, result.rule_failures) == (1, 1, 2)
    assert result.reconciles
    clash = quarantine(spark, settings).where(F.col("record_key") == "clash").collect()
    assert len(clash) == 2 and all("declaration_id_unique" in r.failed_rules for r in clash)


def test_corrected_redelivery_updates_instead_of_duplicating(spark, settings):
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2")], mtime=1_000)
    ingest(spark, settings)
    write_landing(settings.landing_dir, "a-corrected.csv", [declaration_line("2", item_price="999.0")], mtime=2_000)
    result = ingest(spark, settings)
    assert result.superseded == 1 and result.updated == 1 and result.inserted == 0 and result.reconciles
    rows = {r.declaration_id: r.item_price for r in silver(spark, settings).collect()}
    assert rows == {"1": 372254.4, "2": 999.0}


def test_empty_and_header_only_files_do_not_lose_the_batch(spark, settings):
    write_landing(settings.landing_dir, "empty.csv", [], header=False, trailing_newline=False)
    write_landing(settings.landing_dir, "header.csv", [])
    write_landing(settings.landing_dir, "good.csv", [declaration_line("1")])
    result = ingest(spark, settings)
    assert result.valid_rows == 1 and result.parse_errors == 1 and result.reconciles
    assert quarantine(spark, settings).first().reason.startswith("empty file")


def test_cp949_file_lands(spark, settings):
    write_landing(settings.landing_dir, "kr.csv", [declaration_line("1", seller_id="한국무역상사")], encoding="cp949")
    ingest(spark, settings)
    assert silver(spark, settings).first().seller_id == "한국무역상사"


def test_gx_suite_counts_match_row_level_quarantine_and_docs_are_written(spark, settings):
    lines = [declaration_line("1", hs6_code="1234"), declaration_line("2", country_of_departure="ZZ"),
             declaration_line("2"), declaration_line("3", net_mass="-1")]
    write_landing(settings.landing_dir, "a.csv", lines)
    validator = GxValidator(settings.gx_dir)
    result = ingest(spark, settings, validator=validator)
    assert validator.last_gx_counts == result.failures_by_rule
    assert result.failures_by_rule["declaration_id_unique"] == 2
    assert result.failures_by_rule["hs6_code_six_digits"] == 1
    assert not result.validation_success
    assert result.report_path and (settings.gx_dir / "gx/uncommitted/data_docs/local_site/index.html").exists()


def test_failures_are_counted_per_rule_and_per_day_in_one_pass(spark):
    from expectations.rules import Rule
    from expectations.runner import count_failures_by_day
    day1, day2 = DAY, DAY + dt.timedelta(days=1)
    flagged = spark.createDataFrame(
        [(day1, []), (day1, ["a"]), (day1, ["a", "b"]), (day2, []), (day2, [])],
        "_partition_date date, _failed_rules array<string>")
    rules = [Rule(name=n, kind="not_null", columns=("x",), description=n) for n in ("a", "b", "c")]
    by_rule, by_day = count_failures_by_day(flagged, rules)
    assert by_rule == {"a": 2, "b": 1, "c": 0}
    assert by_day == {day1: (1, 2), day2: (2, 0)}
    assert count_failures_by_day(flagged.limit(0), rules) == ({"a": 0, "b": 0, "c": 0}, {})


def test_a_validator_without_day_counts_gives_the_same_reconciliation(spark, settings):
    """The validator's own per-day counts and counting its frames agree, on a range with a clean
    day, an all-failing day and a day of unparseable lines only."""
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    clean = [declaration_line("a", day=days[0]), declaration_line("b", day=days[0])]
    write_landing(settings.landing_dir, "0.csv", clean, day=days[0])
    write_landing(settings.landing_dir, "1.csv", [declaration_line("c", day=days[1], hs6_code="12"),
                                                  declaration_line("d", day=days[1], net_mass="-1")], day=days[1])
    write_landing(settings.landing_dir, "2.csv", ["not,a,declaration"], day=days[2])
    land_bronze(spark, DECLARATIONS, settings, days)

    def uncounted(frame, spec, batch_days):
        outcome = GxValidator()(frame, spec, batch_days)
        assert outcome.counts_by_day is not None
        outcome.counts_by_day = None
        return outcome

    counted = refine_silver(spark, DECLARATIONS, settings, days, GxValidator(), max_quarantine_share=None)
    recounted = refine_silver(spark, DECLARATIONS, settings, days, uncounted, max_quarantine_share=None)
    assert counted.by_day == recounted.by_day and all(c.reconciles for c in counted.by_day.values())
    assert [(c.valid_rows, c.rule_failures, c.parse_errors) for c in counted.by_day.values()] == [
        (2, 0, 0), (0, 2, 0), (0, 0, 1)]


def test_data_docs_keep_one_result_per_run_and_at_most_keep_results(spark, settings):
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    for i, day in enumerate(days):  # day 1 carries a row its rules reject
        write_landing(settings.landing_dir, f"{i}.csv", [declaration_line(str(i), day=day)]
                      + ([declaration_line("bad", day=day, hs6_code="1234")] if i == 1 else []), day=day)
    land_bronze(spark, DECLARATIONS, settings, days)
    validator = GxValidator(settings.gx_dir, keep_results=2)
    site = settings.gx_dir / "gx/uncommitted/data_docs/local_site"

    def results() -> list[str]:
        return sorted(p.relative_to(site / "validations/declarations").parts[0]
                      for p in (site / "validations/declarations").rglob("*.html"))

    refine_silver(spark, DECLARATIONS, settings, days[0], validator, max_quarantine_share=None)
    assert results() == [f"declarations-{days[0]}"]
    backfill = f"declarations-{days[0]}..{days[1]}"
    result = refine_silver(spark, DECLARATIONS, settings, days[:2], validator, max_quarantine_share=None)
    assert results() == [backfill]  # one validation of the range's days; it covers day 0's result
    assert validator.last_gx_counts == result.failures_by_rule and result.failures_by_rule["hs6_code_six_digits"] == 1
    assert not result.validation_success and result.by_day[days[1]].rule_failures == 1
    refine_silver(spark, DECLARATIONS, settings, days[1], validator, max_quarantine_share=None)
    assert results() == sorted([backfill, f"declarations-{days[1]}"])  # a day inside a range leaves the range's
    refine_silver(spark, DECLARATIONS, settings, days[:2], validator, max_quarantine_share=None)  # a re-run
    assert results() == [backfill]
    refine_silver(spark, DECLARATIONS, settings, days[2], validator, max_quarantine_share=None)
    refine_silver(spark, DECLARATIONS, settings, days[3], validator, max_quarantine_share=None)
    assert results() == [f"declarations-{d}" for d in days[2:]]  # the oldest result beyond the cap goes
    index = (site / "index.html").read_text()
    assert f"declarations-{days[3]}" in index and backfill not in index
    stored = list((settings.gx_dir / "gx/uncommitted/validations/declarations").rglob("*.json"))
    assert len(stored) == 2


def test_other_days_are_untouched(spark, settings):
    other = DAY + dt.timedelta(days=1)
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1")])
    write_landing(settings.landing_dir, "b.csv", [declaration_line("2", day=other), "bad"], day=other)
    ingest(spark, settings)
    ingest(spark, settings, other)
    ingest(spark, settings)  # re-running day 1 must not drop day 2's quarantine or silver rows
    assert silver(spark, settings).count() == 2
    assert quarantine(spark, settings).where(F.col("partition_date") == other).count() == 1


@pytest.mark.skipif(not KCS_DIR.is_dir(), reason="shared KCS sample not present")
def test_public_kcs_sample_day(spark, settings):
    source = KCS_DIR / "declarations_2020-01_2020-12.csv"
    with source.open() as f:
        lines = [line.rstrip("\n") for line in f if ",2020-03-02," in line]
    write_landing(settings.landing_dir, "kcs.csv", lines)
    result = ingest(spark, settings)
    assert result.rows_read == len(lines) > 50 and result.reconciles
    # The synthetic public sample has some zero-mass rows: the only rule it breaks.
    assert set(k for k, v in result.failures_by_rule.items() if v) <= {"net_mass_positive"}
    assert result.valid_rows + result.rule_failures == len(lines)


def test_backfill_range_in_one_batch(spark, settings):
    nxt = DAY + dt.timedelta(days=1)
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2"),
                                                  declaration_line("3", day=nxt)])
    write_landing(settings.landing_dir, "b.csv", [declaration_line("2", day=nxt, item_price="5.0"),
                                                  declaration_line("4", day=nxt)], day=nxt)
    result = ingest(spark, settings, [DAY, nxt])
    # "3" is dated the next day but landed in DAY's folder; "2" is re-delivered (corrected) on nxt.
    assert (result.rows_read, result.valid_rows, result.superseded, result.rule_failures) == (5, 3, 1, 1)
    assert result.reconciles
    rows = {r.declaration_id: (r.date, r.item_price) for r in silver(spark, settings).collect()}
    assert rows == {"1": (DAY, 372254.4), "2": (nxt, 5.0), "4": (nxt, 372254.4)}
    bad = quarantine(spark, settings).first()
    assert bad.failed_rules == ["date_in_partition"] and bad.partition_date == DAY


def test_skipped_rows_leave_the_same_candidates_whether_their_ids_are_broadcast_or_shuffled(spark, settings):
    """Staging joins the skipped rows' ids onto the day's rows: sent whole to each task when few,
    shuffled when many (a whole re-delivered day); both keep the same rows."""
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2"), declaration_line("1")],
                  mtime=1_000)
    write_landing(settings.landing_dir, "b.csv", [declaration_line("2", item_price="5.0"), declaration_line("3")],
                  mtime=2_000)
    land_bronze(spark, DECLARATIONS, settings, DAY)
    bronze = read_partition(spark, settings.table_path("bronze", "declarations"), "_partition_date", [DAY])
    staged = stage_bronze(bronze, DECLARATIONS)
    try:
        assert staged.skipped_by_day == {"duplicate": {DAY: 1}, "superseded": {DAY: 1}}
        kept = sorted((r.declaration_id, r.item_price) for r in staged.candidates().collect())
        assert kept == [("1", "372254.4"), ("2", "5.0"), ("3", "372254.4")]
        shuffled = sorted((r.declaration_id, r.item_price) for r in staged.candidates(broadcast_limit=0).collect())
        assert shuffled == kept
    finally:
        staged.release()
