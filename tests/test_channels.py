"""Every other source through the same mechanism: rules with bad rows, history, late feedback."""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import functions as F

from expectations.runner import GxValidator
from jobs.ingest import land_bronze, refine_silver
from jobs.sources import SOURCES
from tests.conftest import DAY, declaration_line, write_landing, write_rows


def ingest(spark, settings, source: str, day=DAY, validator: GxValidator | None = None):
    spec = SOURCES[source]
    land_bronze(spark, spec, settings, day)
    # Row-level handling is what these tests look at; the write-audit-publish gate has its own tests.
    return refine_silver(spark, spec, settings, day, validator or GxValidator(), max_quarantine_share=None)


def table(spark, settings, layer: str, name: str):
    return spark.read.format("delta").load(str(settings.table_path(layer, name)))


def express_row(awb: str, **kw: str) -> dict[str, str]:
    row = {
        "house_awb": awb, "master_awb": "180-12345678", "arrival_date": DAY.isoformat(), "courier_id": "DHL",
        "country_of_departure": "CN", "country_of_origin": "CN", "seller_id": "S1", "platform": "ALI",
        "order_id": "O1", "recipient_pccc": "P123456789012", "recipient_name": "김민수",
        "recipient_phone": "010-1234-5678", "recipient_postcode": "06236", "item_description": "운동화",
        "hs6_code": "640411", "quantity": "1", "gross_weight_kg": "1.2", "declared_value": "45.5",
        "currency": "USD", "clearance_type": "list", "purpose": "personal",
    }
    row.update(kw)
    return row


def mail_row(mail_id: str, **kw: str) -> dict[str, str]:
    row = {
        "mail_id": mail_id, "posting_country": "US", "arrival_date": DAY.isoformat(), "mail_class": "EMS",
        "sender_name": "John", "recipient_name": "이영희", "recipient_pccc": "", "contents_description": "vitamins",
        "contents_category": "gift", "declared_value": "30", "currency": "USD", "weight_kg": "0.8",
    }
    row.update(kw)
    return row


def test_express_rules_quarantine_bad_identity_and_codes(spark, settings):
    rows = [
        express_row("AWB0000001"),
        express_row("AWB0000002", recipient_pccc="P12345", recipient_phone="02-555-1234"),
        express_row("AWB0000003", currency="XYZ", clearance_type="fast", quantity="0"),
        express_row("AWB0000004", hs6_code=""),  # HS6 may be missing in express
    ]
    write_rows(settings.landing_dir, "express", DAY, rows, encoding="cp949")
    result = ingest(spark, settings, "express")
    assert result.valid_rows == 2 and result.rule_failures == 2 and result.reconciles
    reasons = {r.record_key: set(r.failed_rules) for r in table(spark, settings, "quarantine", "express").collect()}
    assert reasons["AWB0000002"] == {"recipient_pccc_format", "recipient_phone_format"}
    assert reasons["AWB0000003"] == {"currency_iso", "clearance_type_domain", "quantity_positive"}
    names = {r.house_awb: r.recipient_name for r in table(spark, settings, "silver", "express").collect()}
    assert names["AWB0000001"] == "김민수"


def test_mail_s10_check_digit(spark, settings):
    rows = [mail_row("EE123456785KR"), mail_row("EE123456784KR"), mail_row("RR00000000XKR"),
            mail_row("CP000000000US")]  # serial 00000000: sum 0 -> 11 - 0 = 11 -> check digit 5, not 0
    write_rows(settings.landing_dir, "mail", DAY, rows)
    validator = GxValidator()
    result = ingest(spark, settings, "mail", validator=validator)
    reasons = {r.record_key: set(r.failed_rules) for r in table(spark, settings, "quarantine", "mail").collect()}
    assert reasons == {"EE123456784KR": {"mail_id_check_digit"}, "RR00000000XKR": {"mail_id_s10_format"},
                       "CP000000000US": {"mail_id_check_digit"}}
    assert result.valid_rows == 1
    assert validator.last_gx_counts == result.failures_by_rule


def test_platform_orders_compound_key(spark, settings):
    base = {"order_date": DAY.isoformat(), "buyer_pccc": "P000000000001", "buyer_name": "박",
            "buyer_phone": "01012345678", "product_name": "x", "site": "s", "seller_id": "S", "quantity": "1",
            "amount_paid_krw": "1000"}
    rows = [dict(base, platform="A", order_id="1"), dict(base, platform="B", order_id="1"),
            dict(base, platform="A", order_id="2", amount_paid_krw="-1")]
    write_rows(settings.landing_dir, "platform_orders", DAY, rows)
    result = ingest(spark, settings, "platform_orders")
    assert result.valid_rows == 2 and result.rule_failures == 1


def test_registry_keeps_history_and_reruns_are_safe(spark, settings):
    holder = {"pccc": "P000000000001", "holder_name": "최", "phone": "010-1111-2222", "issue_date": "2019-05-01",
              "status": "active"}
    write_rows(settings.landing_dir, "pccc_registry", DAY, [holder, dict(holder, pccc="P000000000002")])
    ingest(spark, settings, "pccc_registry")
    later = DAY + dt.timedelta(days=5)
    write_rows(settings.landing_dir, "pccc_registry", later, [dict(holder, status="suspended")])
    ingest(spark, settings, "pccc_registry", later)
    ingest(spark, settings, "pccc_registry", later)  # re-run: no new version
    history = table(spark, settings, "silver", "pccc_registry").where(F.col("pccc") == "P000000000001")
    versions = sorted(history.collect(), key=lambda r: r._valid_from)
    assert [(v.status, v._valid_from, v._valid_to, v._is_current) for v in versions] == [
        ("active", DAY, later, False), ("suspended", later, None, True)]
    assert table(spark, settings, "silver", "pccc_registry").count() == 3


def test_registry_days_in_one_backfill_batch_each_become_a_version(spark, settings):
    holder = {"pccc": "P000000000001", "holder_name": "최", "phone": "010-1111-2222", "issue_date": "2019-05-01",
              "status": "active"}
    later = DAY + dt.timedelta(days=3)
    write_rows(settings.landing_dir, "pccc_registry", DAY, [holder])
    write_rows(settings.landing_dir, "pccc_registry", later, [dict(holder, status="suspended")])
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    result = ingest(spark, settings, "pccc_registry", days)
    assert result.valid_rows == 2 and result.superseded == 0 and result.reconciles
    ingest(spark, settings, "pccc_registry", days)  # re-running the backfill adds no version
    ingest(spark, settings, "pccc_registry", DAY)  # nor does re-running the first day alone
    versions = sorted(table(spark, settings, "silver", "pccc_registry").collect(), key=lambda r: r._valid_from)
    assert [(v.status, v._valid_from, v._valid_to) for v in versions] == [
        ("active", DAY, later), ("suspended", later, None)]


def test_watch_list_validity_window(spark, settings):
    base = {"agency": "MFDS", "key_type": "keyword", "risk_level": "3", "reason": "sibutramine",
            "valid_from": "2020-01-01"}
    rows = [dict(base, key_value="diet pill"), dict(base, key_value="slim", valid_to="2019-12-31"),
            dict(base, key_value="x", agency="FBI")]
    write_rows(settings.landing_dir, "watch_lists", DAY, rows)
    result = ingest(spark, settings, "watch_lists")
    reasons = {r.record_key: set(r.failed_rules) for r in table(spark, settings, "quarantine", "watch_lists").collect()}
    assert reasons == {"MFDS|keyword|slim": {"validity_window"}, "FBI|keyword|x": {"agency_domain"}}
    assert result.valid_rows == 1


def test_late_inspection_results_label_records_and_unknown_ones_are_quarantined(spark, settings):
    write_landing(settings.landing_dir, "d.csv", [declaration_line("D1", fraud="", critical_fraud=""),
                                                  declaration_line("D2", fraud="", critical_fraud="")])
    ingest(spark, settings, "declarations")
    write_rows(settings.landing_dir, "express", DAY, [express_row("AWB0000001")])
    ingest(spark, settings, "express")
    later = DAY + dt.timedelta(days=4)
    results = [
        {"channel": "declarations", "record_key": "D1", "inspection_date": later.isoformat(), "outcome": "2",
         "finding": "drugs", "seized_kg": "1.5", "drug_type": "methamphetamine", "additional_duty_krw": "0"},
        {"channel": "express", "record_key": "AWB0000001", "inspection_date": later.isoformat(), "outcome": "1",
         "finding": "under_valuation", "seized_kg": "0", "additional_duty_krw": "52000"},
        {"channel": "mail", "record_key": "EE999999999KR", "inspection_date": later.isoformat(), "outcome": "0"},
    ]
    write_rows(settings.landing_dir, "inspection_results", later, results)
    result = ingest(spark, settings, "inspection_results", later)
    assert result.valid_rows == 2 and result.rule_failures == 1
    assert result.extra["labels_applied_declarations"] == 1 and result.extra["labels_applied_express"] == 1
    quarantined = table(spark, settings, "quarantine", "inspection_results").first()
    assert quarantined.failed_rules == ["record_known"] and quarantined.record_key == "mail|EE999999999KR"

    decl = {r.declaration_id: r for r in table(spark, settings, "silver", "declarations").collect()}
    assert (decl["D1"].fraud, decl["D1"].critical_fraud, decl["D1"].inspection_date) == (1, 2, later)
    assert decl["D2"].fraud is None and decl["D2"].inspection_outcome is None
    # Re-landing the declarations must not wipe the labels; re-running the results changes nothing.
    ingest(spark, settings, "declarations")
    again = ingest(spark, settings, "inspection_results", later)
    assert again.extra["labels_applied_declarations"] == 0
    d1 = table(spark, settings, "silver", "declarations").where(F.col("declaration_id") == "D1").first()
    assert d1.inspection_finding == "drugs" and d1.critical_fraud == 2
    # A corrected re-delivery (new price, labels still empty) keeps the labels too.
    write_landing(settings.landing_dir, "d2.csv", [declaration_line("D1", fraud="", critical_fraud="",
                                                                    item_price="1.0")], mtime=4_000_000_000)
    ingest(spark, settings, "declarations")
    d1 = table(spark, settings, "silver", "declarations").where(F.col("declaration_id") == "D1").first()
    assert (d1.item_price, d1.fraud, d1.critical_fraud, d1.inspection_outcome) == (1.0, 1, 2, 2)
    express = table(spark, settings, "silver", "express").first()
    assert express.inspection_outcome == 1 and express.inspection_finding == "under_valuation"


def test_quality_reports_show_personal_data_masked(spark, settings, tmp_path):
    bad_pccc, bad_phone = "P12345678901X", "010-9876-543"
    rows = [express_row("AWB0000001"), express_row("AWB0000002", recipient_pccc=bad_pccc, recipient_phone=bad_phone),
            express_row("AWB0000003", recipient_name="")]
    write_rows(settings.landing_dir, "express", DAY, rows)
    gx_dir = tmp_path / "gx"
    result = ingest(spark, settings, "express", validator=GxValidator(gx_dir))
    assert result.rule_failures == 2
    quarantined = {r.record_key: r for r in table(spark, settings, "quarantine", "express").collect()}
    reason = quarantined["AWB0000002"].reason
    assert "P1234****901X" in reason and "010-****-6543" in reason  # masked as published lists are
    assert bad_pccc not in reason and bad_phone not in reason
    assert bad_pccc in quarantined["AWB0000002"].raw_record  # the raw line stays, inside the lake
    # GX validation results and Data Docs: counts and pass/fail, no value of a personal column.
    written = "\n".join(p.read_text(errors="ignore") for p in gx_dir.rglob("*") if p.is_file()
                        and p.suffix in (".json", ".html"))
    assert "recipient_pccc_format" in written
    for value in (bad_pccc, bad_phone, "P123456789012", "010-1234-5678", "김민수"):
        assert value not in written, value
    # Offline: every script and stylesheet of every page is a local file of the site.
    pages = list(gx_dir.rglob("*.html"))
    assert any(p.name == "index.html" for p in pages)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "https://" not in " ".join(re.findall(r'(?:src|href)="[^"]+\.(?:js|css)"', html)), page
        for ref in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html):
            assert (page.parent / ref).resolve().is_file(), (page, ref)
