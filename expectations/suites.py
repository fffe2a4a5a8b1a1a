"""The rules of each source. Type-format rules are derived from the source's column types; the
rest are written here, once, and serve both the GX suite and the quarantine."""

from __future__ import annotations

from collections.abc import Callable

import pycountry
from pyspark.sql import Column
from pyspark.sql import functions as F

from expectations.rules import (
    RAW_SUFFIX,
    Rule,
    between,
    derived,
    matches,
    not_null,
    one_of,
    type_rule,
    unique,
)
from jobs.sources import SourceSpec

ISO_COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
ISO_CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
PCCC_REGEX = r"^P[0-9]{12}$"
PHONE_REGEX = r"^01[016789]-?[0-9]{3,4}-?[0-9]{4}$"
S10_REGEX = r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$"
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
CHANNELS = ["declarations", "express", "mail"]
FINDINGS = ["under_valuation", "pccc_misuse", "drugs", "prohibited", "counterfeit", "origin_misdeclaration",
            "misclassification", "regulated_undeclared", "split_shipment"]
# Korean tariff rates exceed 100% for some farm goods (ginseng 754.3%, rice 513%): a 0..100 bound
# would quarantine real declarations, so the bound is the highest plausible rate.
MAX_TAX_RATE_PERCENT = 1000.0


def date_in_partition(column: str) -> Rule:
    """The record's date must be its landing folder's day (the partition it is ingested into)."""
    raw = column + RAW_SUFFIX
    return derived((raw, "_partition_date"), f"{column}_in_partition",
                   f"{column} must be the delivery day (landing folder)",
                   lambda: F.col(raw) == F.col("_partition_date").cast("string"))


def iso_country(column: str) -> Rule:
    """ISO-3166 alpha-2 country code."""
    return one_of(column, ISO_COUNTRIES, f"{column}_iso", f"{column} must be an ISO-3166 alpha-2 code")


def iso_currency(column: str) -> Rule:
    """ISO-4217 currency code."""
    return one_of(column, ISO_CURRENCIES, f"{column}_iso", f"{column} must be an ISO-4217 code")


def pccc_format(column: str) -> Rule:
    """Personal customs clearance code: P followed by 12 digits."""
    return matches(column, PCCC_REGEX, f"{column}_format", f"{column} must be P + 12 digits")


def phone_format(column: str) -> Rule:
    """Korean mobile number (010-1234-5678, dashes optional)."""
    return matches(column, PHONE_REGEX, f"{column}_format", f"{column} must be a Korean mobile number")


def positive(column: str) -> Rule:
    """Strictly positive amount."""
    return between(column, f"{column}_positive", f"{column} must be > 0", min_value=0, strict_min=True)


def non_negative(column: str) -> Rule:
    """Amount of zero or more."""
    return between(column, f"{column}_non_negative", f"{column} must be >= 0", min_value=0)


def s10_check_digit_ok(column: str) -> Column:
    """UPU S10: weights 8,6,4,2,3,5,9,7 over the 8 serial digits; check = 11 - sum mod 11, with
    10 -> 0 and 11 -> 5. Null when the id is not S10-shaped (the format rule reports that)."""
    col = F.col(column)
    total = sum(F.substring(col, 3 + i, 1).try_cast("int") * w for i, w in enumerate(S10_WEIGHTS))
    remainder = F.lit(11) - total % 11
    check = F.when(remainder == 10, 0).when(remainder == 11, 5).otherwise(remainder)
    return F.when(col.rlike(S10_REGEX), F.substring(col, 11, 1).try_cast("int") == check)


def declarations_rules() -> list[Rule]:
    """Import declarations (KCS schema): key present and unique, HS6, countries, amounts, labels."""
    return [
        not_null("declaration_id"),
        unique("declaration_id"),
        not_null("date"),
        date_in_partition("date"),
        not_null("importer_id"),
        not_null("hs6_code"),
        matches("hs6_code", r"^[0-9]{6}$", "hs6_code_six_digits", "hs6_code must be six digits"),
        iso_country("country_of_departure"),
        iso_country("country_of_origin"),
        between("net_mass", "net_mass_positive", "net_mass must be > 0 kg", min_value=0, strict_min=True),
        between("item_price", "item_price_non_negative", "item_price must be >= 0 KRW", min_value=0),
        between("tax_rate", "tax_rate_in_range", f"tax_rate must be 0..{MAX_TAX_RATE_PERCENT:g} percent",
                min_value=0, max_value=MAX_TAX_RATE_PERCENT),
        one_of("fraud", [0, 1], "fraud_domain", "fraud must be 0 or 1 when present"),
        one_of("critical_fraud", [0, 1, 2], "critical_fraud_domain", "critical_fraud must be 0, 1 or 2"),
    ]


def express_rules() -> list[Rule]:
    """Express cargo: AWB key, PCCC/phone formats, countries, currency, amounts, clearance codes."""
    return [
        not_null("house_awb"),
        unique("house_awb"),
        matches("house_awb", r"^[A-Z0-9]{8,14}$", "house_awb_format", "house_awb must be 8-14 letters/digits"),
        matches("master_awb", r"^[0-9]{3}-?[0-9]{8}$", "master_awb_format", "master_awb must be IATA 3+8 digits"),
        not_null("arrival_date"),
        date_in_partition("arrival_date"),
        iso_country("country_of_departure"),
        iso_country("country_of_origin"),
        not_null("recipient_name"),
        pccc_format("recipient_pccc"),
        phone_format("recipient_phone"),
        matches("recipient_postcode", r"^[0-9]{5}$", "recipient_postcode_format", "postcode must be 5 digits"),
        matches("hs6_code", r"^[0-9]{6}$", "hs6_code_six_digits", "hs6_code must be six digits when present"),
        positive("quantity"),
        positive("gross_weight_kg"),
        non_negative("declared_value"),
        iso_currency("currency"),
        one_of("clearance_type", ["list", "full"], "clearance_type_domain", "clearance_type must be list or full"),
        one_of("purpose", ["personal", "commercial"], "purpose_domain", "purpose must be personal or commercial"),
    ]


def mail_rules() -> list[Rule]:
    """International mail: S10 id with a valid check digit, classes, categories, amounts."""
    return [
        not_null("mail_id"),
        unique("mail_id"),
        matches("mail_id", S10_REGEX, "mail_id_s10_format", "mail_id must be 2 letters, 9 digits, 2 letters"),
        derived(("mail_id",), "mail_id_check_digit", "mail_id's S10 check digit must be right",
                lambda: s10_check_digit_ok("mail_id")),
        iso_country("posting_country"),
        not_null("arrival_date"),
        date_in_partition("arrival_date"),
        one_of("mail_class", ["EMS", "parcel", "registered", "small_packet"], "mail_class_domain",
               "mail_class must be EMS, parcel, registered or small_packet"),
        not_null("recipient_name"),
        pccc_format("recipient_pccc"),
        one_of("contents_category", ["gift", "sample", "merchandise", "documents", "returned_goods"],
               "contents_category_domain", "contents_category must be a CN22/CN23 category"),
        non_negative("declared_value"),
        iso_currency("currency"),
        positive("weight_kg"),
    ]


def platform_orders_rules() -> list[Rule]:
    """Platform orders: (platform, order id) key, buyer identity formats, amounts."""
    return [
        not_null("platform"),
        not_null("order_id"),
        unique("platform", "order_id"),
        not_null("order_date"),
        date_in_partition("order_date"),
        pccc_format("buyer_pccc"),
        phone_format("buyer_phone"),
        positive("quantity"),
        non_negative("amount_paid_krw"),
    ]


def pccc_registry_rules() -> list[Rule]:
    """PCCC registry: code format and uniqueness, holder, phone, status."""
    return [
        not_null("pccc"),
        unique("pccc"),
        pccc_format("pccc"),
        not_null("holder_name"),
        phone_format("phone"),
        one_of("status", ["active", "suspended", "revoked"], "status_domain",
               "status must be active, suspended or revoked"),
    ]


def inspection_results_rules() -> list[Rule]:
    """Inspection results: known channel and record, outcome domain, non-negative seizures/duty."""
    return [
        one_of("channel", CHANNELS, "channel_domain", "channel must be declarations, express or mail"),
        not_null("record_key"),
        unique("channel", "record_key"),
        not_null("inspection_date"),
        date_in_partition("inspection_date"),
        not_null("outcome"),
        one_of("outcome", [0, 1, 2], "outcome_domain", "outcome must be 0, 1 or 2"),
        one_of("finding", FINDINGS, "finding_domain", "finding must be a known finding"),
        non_negative("seized_kg"),
        non_negative("additional_duty_krw"),
        one_of("record_known", [True], "record_known", "the inspected record must exist in its channel"),
    ]


def watch_lists_rules() -> list[Rule]:
    """Watch lists: agency, key type, value, risk level and a sensible validity window."""
    return [
        one_of("agency", ["MFDS", "ME", "MOEL", "NSSC", "KCS"], "agency_domain", "agency must be a known agency"),
        one_of("key_type", ["hs6", "seller", "keyword", "country"], "key_type_domain",
               "key_type must be hs6, seller, keyword or country"),
        not_null("key_value"),
        unique("agency", "key_type", "key_value"),
        between("risk_level", "risk_level_range", "risk_level must be 1..3", min_value=1, max_value=3),
        not_null("valid_from"),
        derived(("valid_from", "valid_to"), "validity_window", "valid_to must not be before valid_from",
                lambda: F.col("valid_to") >= F.col("valid_from")),
    ]


def monitored_items_rules() -> list[Rule]:
    """Item masters: code, list type, names and HS6 codes."""
    return [
        not_null("item_code"),
        one_of("list_type", ["price_disclosure", "surge_check", "supply_import", "supply_export"],
               "list_type_domain", "list_type must be a known item list"),
        unique("item_code", "list_type"),
        not_null("name_ko"),
        not_null("hs6_codes"),
        matches("hs6_codes", r"^[0-9]{6}(;[0-9]{6})*$", "hs6_codes_format", "hs6_codes must be ';'-separated HS6"),
    ]


SUITES: dict[str, Callable[[], list[Rule]]] = {
    "declarations": declarations_rules,
    "express": express_rules,
    "mail": mail_rules,
    "platform_orders": platform_orders_rules,
    "pccc_registry": pccc_registry_rules,
    "inspection_results": inspection_results_rules,
    "watch_lists": watch_lists_rules,
    "monitored_items": monitored_items_rules,
}


def rules_for(spec: SourceSpec) -> list[Rule]:
    """All rules of a source: type formats first, then the source's own."""
    typed = [type_rule(c.name, c.dtype) for c in spec.columns]
    return [r for r in typed if r is not None] + SUITES[spec.name]()
