"""A validation rule: one definition that yields both a GX expectation and a row-level Spark test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import great_expectations.expectations as gxe
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.ingest import RAW_SUFFIX
from jobs.publish import mask_name, mask_pccc, mask_phone

MASKS = {"pccc": mask_pccc, "phone": mask_phone, "name": mask_name}

RuleKind = Literal["not_null", "regex", "in_set", "between", "unique", "derived"]

NUMBER_REGEX = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
INTEGER_REGEX = r"^-?[0-9]{1,18}$"
DATE_REGEX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@dataclass(frozen=True)
class Rule:
    """A named data-quality rule over one column (or a key of several columns).

    `failure(...)` is true exactly on the rows GX counts as unexpected for `expectation()`;
    nulls pass every rule except `not_null`, as in GX."""

    name: str
    kind: RuleKind
    columns: tuple[str, ...]
    description: str
    regex: str | None = None
    values: tuple | None = None
    min_value: float | None = None
    max_value: float | None = None
    strict_min: bool = False
    # For `derived` rules: builds a boolean column (true = ok, null = not applicable) that is added
    # to the batch as `helper_column`, so GX and the quarantine test the very same values. A
    # `unique` rule's helper column marks the rows whose key repeats (`repeated_keys`).
    expression: Callable[[], Column] | None = None

    @property
    def helper_column(self) -> str:
        """Name of the boolean column a derived rule adds to the batch."""
        return f"_check_{self.name}"

    @property
    def column(self) -> str:
        """The single column the rule tests (not for compound keys)."""
        return self.columns[0]

    def failure(self) -> Column:
        """Spark condition, true on a failing row (may use a window over the batch)."""
        if self.kind == "derived":
            return F.col(self.helper_column) == F.lit(False)
        col = F.col(self.column)
        if self.kind == "not_null":
            return col.isNull()
        if self.kind == "regex":
            return col.isNotNull() & ~col.rlike(self.regex)
        if self.kind == "in_set":
            return col.isNotNull() & ~col.isin(list(self.values))
        if self.kind == "between":
            low = F.lit(False)
            if self.min_value is not None:
                low = (col <= self.min_value) if self.strict_min else (col < self.min_value)
            high = (col > self.max_value) if self.max_value is not None else F.lit(False)
            return col.isNotNull() & (low | high)
        if self.kind == "unique":
            return F.coalesce(F.col(self.helper_column), F.lit(False))
        raise ValueError(f"unknown rule kind {self.kind}")

    def repeated_keys(self, frame: DataFrame) -> DataFrame:
        """For a `unique` rule: the keys (all parts present) that `frame` holds more than once, with
        `helper_column` true, to join onto the rows: only the key columns are shuffled."""
        keys_present = F.lit(True)
        for name in self.columns:
            keys_present = keys_present & F.col(name).isNotNull()
        return (frame.where(keys_present).groupBy(*self.columns).count().where(F.col("count") > 1)
                .select(*self.columns, F.lit(True).alias(self.helper_column)))

    def expectation(self) -> gxe.Expectation:
        """The same rule as a Great Expectations 1.x expectation."""
        meta = {"rule": self.name, "description": self.description}
        if self.kind == "derived":
            return gxe.ExpectColumnValuesToBeInSet(column=self.helper_column, value_set=[True], meta=meta)
        if self.kind == "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(column=self.column, meta=meta)
        if self.kind == "regex":
            return gxe.ExpectColumnValuesToMatchRegex(column=self.column, regex=self.regex, meta=meta)
        if self.kind == "in_set":
            return gxe.ExpectColumnValuesToBeInSet(column=self.column, value_set=list(self.values), meta=meta)
        if self.kind == "between":
            return gxe.ExpectColumnValuesToBeBetween(
                column=self.column, min_value=self.min_value, max_value=self.max_value,
                strict_min=self.strict_min, meta=meta,
            )
        if self.kind == "unique":
            if len(self.columns) == 1:
                return gxe.ExpectColumnValuesToBeUnique(column=self.column, meta=meta)
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(self.columns), meta=meta)
        raise ValueError(f"unknown rule kind {self.kind}")

    def reason(self, personal: Mapping[str, str] | None = None) -> Column:
        """Human-readable failure text with the offending value, for the quarantine row; a value of
        a `personal` column (name -> "pccc" | "phone" | "name") is shown masked, as published."""
        personal = personal or {}

        def shown(name: str) -> Column:
            kind = personal.get(name.removesuffix(RAW_SUFFIX))
            value = F.col(name).cast("string")
            return F.coalesce(MASKS[kind](value) if kind else value, F.lit("null"))

        return F.concat(F.lit(f"{self.name} ({self.description}): "), F.concat_ws(",", *map(shown, self.columns)))

    def touches(self, columns: Mapping[str, str]) -> bool:
        """Whether the rule reads one of `columns` (e.g. the personal ones)."""
        return any(c.removesuffix(RAW_SUFFIX) in columns for c in self.columns)

    def as_flag(self) -> Rule:
        """The same rule over a derived pass/fail column: GX then reports True/False, never the
        values (for rules on personal data, whose Data Docs must not show them)."""
        return derived(self.columns, self.name, self.description, lambda: ~self.failure())


def derived(columns: tuple[str, ...], name: str, description: str, expression: Callable[[], Column]) -> Rule:
    """A rule over a computed boolean (check digits, cross-column conditions); null = not applicable."""
    return Rule(name, "derived", columns, description, expression=expression)


def not_null(column: str) -> Rule:
    """The column must be present."""
    return Rule(f"{column}_present", "not_null", (column,), f"{column} must not be empty")


def unique(*columns: str) -> Rule:
    """The key must not repeat within one day's delivery (a batch may span several days; later
    days' versions of a key are handled before validation: superseded, or kept as history)."""
    return Rule(f"{'_'.join(columns)}_unique", "unique", (*columns, "_partition_date"),
                f"{'+'.join(columns)} must be unique within the delivery")


def matches(column: str, regex: str, name: str, description: str) -> Rule:
    """The column must match a (Java) regular expression."""
    return Rule(name, "regex", (column,), description, regex=regex)


def one_of(column: str, values: list | tuple, name: str, description: str) -> Rule:
    """The column must take one of `values`."""
    return Rule(name, "in_set", (column,), description, values=tuple(values))


def between(column: str, name: str, description: str, min_value: float | None = None,
            max_value: float | None = None, strict_min: bool = False) -> Rule:
    """The (typed) column must lie in a range."""
    return Rule(name, "between", (column,), description, min_value=min_value, max_value=max_value,
                strict_min=strict_min)


def type_rule(column: str, dtype: T.DataType) -> Rule | None:
    """Format rule on the raw string of a typed column, so a value that cannot be typed is caught
    before the cast (the typed column is null where this rule fails)."""
    raw = column + RAW_SUFFIX
    if isinstance(dtype, T.DoubleType | T.FloatType | T.DecimalType):
        return matches(raw, NUMBER_REGEX, f"{column}_is_number", f"{column} must be a number")
    if isinstance(dtype, T.IntegerType | T.LongType):
        return matches(raw, INTEGER_REGEX, f"{column}_is_integer", f"{column} must be an integer")
    if isinstance(dtype, T.DateType):
        return matches(raw, DATE_REGEX, f"{column}_is_date", f"{column} must be a YYYY-MM-DD date")
    return None
