"""The rules of each source. Type-format rules are derived from the source's column types; the
rest are written here, once, and serve both the GX suite and the quarantine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pycountry

from expectations.rules import RAW_SUFFIX, Rule, between, matches, not_null, one_of, type_rule, unique
from jobs.sources import SourceSpec

ISO_COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
# Korean tariff rates exceed 100% for some farm goods (ginseng 754.3%, rice 513%): a 0..100 bound
# would quarantine real declarations, so the bound is the highest plausible rate.
MAX_TAX_RATE_PERCENT = 1000.0


def date_in_partition(column: str, day: dt.date) -> Rule:
    """The record's date must be the landing folder's day (the partition it is ingested into)."""
    return one_of(column + RAW_SUFFIX, [day.isoformat()], f"{column}_in_partition",
                  f"{column} must be the delivery day {day.isoformat()}")


def iso_country(column: str) -> Rule:
    """ISO-3166 alpha-2 country code."""
    return one_of(column, ISO_COUNTRIES, f"{column}_iso", f"{column} must be an ISO-3166 alpha-2 code")


def declarations_rules(day: dt.date) -> list[Rule]:
    """Import declarations (KCS schema): key present and unique, HS6, countries, amounts, labels."""
    return [
        not_null("declaration_id"),
        unique("declaration_id"),
        not_null("date"),
        date_in_partition("date", day),
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


SUITES: dict[str, Callable[[dt.date], list[Rule]]] = {
    "declarations": declarations_rules,
}


def rules_for(spec: SourceSpec, day: dt.date) -> list[Rule]:
    """All rules of a source for one delivery day: type formats first, then the source's own."""
    typed = [type_rule(c.name, c.dtype) for c in spec.columns]
    return [r for r in typed if r is not None] + SUITES[spec.name](day)
