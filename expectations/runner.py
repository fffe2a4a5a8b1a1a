"""Run a source's rules on a run's batch (a day or a range of days): the GX suite for the report,
the same rules as Spark conditions for the row-level split into valid rows and quarantine rows."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
from great_expectations.core import ExpectationSuiteValidationResult  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from expectations.docs_offline import make_offline  # noqa: E402
from expectations.rules import Rule  # noqa: E402
from expectations.suites import rules_for  # noqa: E402
from jobs.ingest import ValidationOutcome  # noqa: E402
from jobs.sources import SourceSpec  # noqa: E402

logging.getLogger("great_expectations").setLevel(logging.WARNING)
logger = logging.getLogger(__name__)


def with_helper_columns(frame: DataFrame, rules: list[Rule]) -> DataFrame:
    """Add the boolean column of every derived rule (e.g. the S10 check digit is right) and of
    every unique rule (the key repeats: the repeated keys, usually none or a few, are joined on
    whole to each task, so the wide rows are not shuffled)."""
    for rule in rules:
        if rule.kind == "derived":
            frame = frame.withColumn(rule.helper_column, rule.expression())
        elif rule.kind == "unique" and rule.helper_column not in frame.columns:
            in_order = [*frame.columns, rule.helper_column]
            repeated = F.broadcast(rule.repeated_keys(frame.select(*rule.columns)))
            frame = frame.join(repeated, list(rule.columns), "left").select(*in_order)
    return frame


def flag_failures(frame: DataFrame, rules: list[Rule], personal: Mapping[str, str] | None = None) -> DataFrame:
    """Add `_failed_rules` (names of every rule the row breaks) and `_reason` (readable text, with
    the values of `personal` columns masked)."""
    # Each rule's condition built once (an `in_set` rule's condition is a literal per code).
    failures = [(r, r.failure()) for r in rules]
    fails_one = F.lit(False)
    for _, failure in failures:
        fails_one = fails_one | F.coalesce(failure, F.lit(False))
    names = F.filter(F.array(*[F.when(failure, F.lit(r.name)) for r, failure in failures]), lambda x: x.isNotNull())
    reasons = F.array_join(F.filter(F.array(*[F.when(failure, r.reason(personal)) for r, failure in failures]),
                                    lambda x: x.isNotNull()), "; ")
    # The arrays (interpreted row by row, not compiled) are built only on the rows that fail a rule.
    return (
        frame.withColumn("_fails_one", fails_one)
        .withColumn("_failed_rules", F.when(F.col("_fails_one"), names).otherwise(F.array().cast("array<string>")))
        .withColumn("_reason", F.when(F.col("_fails_one"), reasons).otherwise(F.lit("")))
        .drop("_fails_one")
    )


def _failures_per_rule(rules: list[Rule]) -> list[F.Column]:
    """One aggregate per rule: the rows whose `_failed_rules` name it."""
    return [F.sum(F.array_contains("_failed_rules", r.name).cast("int")).alias(r.name) for r in rules]


def count_failures(flagged: DataFrame, rules: list[Rule]) -> dict[str, int]:
    """Rows failing each rule (a row failing two rules counts for both)."""
    row = flagged.agg(*_failures_per_rule(rules)).first()
    return {r.name: int(row[r.name] or 0) for r in rules}


def count_failures_by_day(flagged: DataFrame, rules: list[Rule],
                          day_column: str = "_partition_date") -> tuple[dict[str, int], dict[dt.date, tuple[int, int]]]:
    """Rows failing each rule over the batch, and each delivery day's passing and failing rows,
    in one Spark job (a run's fixed cost is mostly such small jobs)."""
    fails = F.size("_failed_rules") > 0
    rows = flagged.groupBy(day_column).agg(F.sum((~fails).cast("int")).alias("_valid"),
                                           F.sum(fails.cast("int")).alias("_failed"),
                                           *_failures_per_rule(rules)).collect()
    by_rule = {r.name: sum(int(row[r.name] or 0) for row in rows) for r in rules}
    return by_rule, {row[day_column]: (int(row["_valid"]), int(row["_failed"])) for row in rows}


def split_by_rules(frame: DataFrame, rules: list[Rule],
                   personal: Mapping[str, str] | None = None) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """The rows passing every rule, the rows failing one (with `_failed_rules`, `_reason`), and
    the failures per rule: the quarantine's own conditions, without a GX report."""
    flagged = flag_failures(with_helper_columns(frame, rules), rules, personal).cache()
    has_failure = F.size("_failed_rules") > 0
    return (flagged.where(~has_failure).drop("_failed_rules", "_reason"), flagged.where(has_failure),
            count_failures(flagged, rules))


def result_name(source: str, days: list[dt.date]) -> str:
    """The GX run name of one source's result: `<source>-<day>` for a day, `<source>-<first>..<last>`
    for a range run's days."""
    first, last = min(days), max(days)
    return f"{source}-{first.isoformat()}" + ("" if first == last else f"..{last.isoformat()}")


def result_span(run_name: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day a result covers, read back from its run name (None for a name
    `result_name` did not make)."""
    match = re.search(r"-(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$", run_name)
    if not match:
        return None
    first = dt.date.fromisoformat(match[1])
    return first, dt.date.fromisoformat(match[2]) if match[2] else first


def results_to_drop(keys: list, keep_results: int) -> list:
    """Of one source's stored result keys: every result that a later run covers (the same day or
    range, or a range that spans all its days: a re-run or a backfill replaces it; a later run
    that covers only part of its days leaves it), and every result beyond the latest
    `keep_results` (by their first day)."""
    by_time = sorted(keys, key=lambda k: str(k.run_id.run_time))
    spans = [result_span(k.run_id.run_name) for k in by_time]

    def covered(i: int) -> bool:
        name, span = by_time[i].run_id.run_name, spans[i]
        return any(later.run_id.run_name == name
                   or (span and other and other[0] <= span[0] and span[1] <= other[1])
                   for later, other in zip(by_time[i + 1:], spans[i + 1:], strict=True))

    current = [k for i, k in enumerate(by_time) if not covered(i)]
    kept = {id(k) for k in sorted(current, key=lambda k: k.run_id.run_name, reverse=True)[:keep_results]}
    return [k for k in keys if id(k) not in kept]


class GxValidator:
    """Validator for `jobs.ingest.refine_silver`: GX 1.x suite built from the source's rules, run on
    the Spark DataFrame, results kept in a file-backed GX project with Data Docs (when `gx_dir`
    is given) so data engineers can read every run's result.

    Each run is one GX validation of its batch: a daily run's result is its day's, a range run's
    (a backfill) covers its days (validating each day on its own cost a fixed ~2 s of GX on Spark
    per day, most of a month's backfill); the per-day counts are in the quarantine table and the
    run's metadata. A run replaces the results it covers (the same day or range, or days all
    inside its range), and each source keeps its latest `keep_results` results, so the site stays
    small enough to browse and to rebuild."""

    # BASIC: each expectation's counts and up to 20 failing values (SUMMARY adds value counts of
    # the failures: more Spark jobs per expectation and run, nothing the quarantine does not show).
    result_format = "BASIC"

    def __init__(self, gx_dir: Path | None = None, keep_results: int = 90) -> None:
        self.gx_dir = Path(gx_dir) if gx_dir else None
        self.keep_results = keep_results
        self.last_gx_counts: dict[str, int] = {}

    def _context(self):
        if self.gx_dir is None:
            context = gx.get_context(mode="ephemeral")
        else:
            self.gx_dir.mkdir(parents=True, exist_ok=True)
            context = gx.get_context(mode="file", project_root_dir=str(self.gx_dir))
        context.variables.progress_bars = {"globally": False}
        return context

    def _checkpoint(self, context, spec: SourceSpec, rules: list[Rule]):
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=spec.name, expectations=[r.expectation() for r in rules]))
        try:
            source = context.data_sources.get("spark")
        except (KeyError, ValueError):
            source = context.data_sources.add_spark(name="spark")
        try:
            asset = source.get_asset(spec.name)
        except LookupError:
            asset = source.add_dataframe_asset(name=spec.name)
        try:
            batch = asset.get_batch_definition("daily")
        except KeyError:
            batch = asset.add_batch_definition_whole_dataframe("daily")
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"{spec.name}", data=batch, suite=suite)
        )
        # Data Docs are built after the run (below), with the superseded results dropped first.
        return context.checkpoints.add_or_update(
            gx.Checkpoint(name=f"{spec.name}_daily", validation_definitions=[definition], actions=[],
                          result_format={"result_format": self.result_format, "partial_unexpected_count": 0})
        )

    def run_suite(self, frame: DataFrame, spec: SourceSpec, days: list[dt.date],
                  rules: list[Rule]) -> tuple[ExpectationSuiteValidationResult | None, str | None]:
        """Run the GX suite once on the rows of `frame`, the batch of `days` (a batch without rows has
        nothing to validate, and its missing delivery is the `expected_delivery` check's to
        report); returns the suite result (None without rows) and the Data Docs index (None
        without a GX project)."""
        context = self._context()
        result, name = None, None
        if not frame.isEmpty():
            name = result_name(spec.name, days)
            run = self._checkpoint(context, spec, rules).run(
                batch_parameters={"dataframe": frame},
                run_id=gx.core.run_identifier.RunIdentifier(run_name=name))
            result = next(iter(run.run_results.values()))
        docs = self._publish_docs(context, spec, name) if self.gx_dir else None
        return result, docs

    def _publish_docs(self, context, spec: SourceSpec, name: str | None) -> str | None:
        """Drop superseded and beyond-the-cap results of `spec`, render the batch's pages and the
        index, and make the site readable offline."""
        site = self.gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
        store = context.validation_results_store
        keys = [k for k in store.list_keys() if k.expectation_suite_identifier.name == spec.name]
        for key in results_to_drop(keys, self.keep_results):
            store.remove_key(key)
            page = site.joinpath("validations", *key.to_tuple()).with_suffix(".html")
            page.unlink(missing_ok=True)
        fresh = [k for k in store.list_keys() if k.run_id.run_name == name]
        if fresh:  # GX reads an empty list as "rebuild every page"
            context.build_data_docs(resource_identifiers=fresh)
        if not (site / "index.html").exists():
            return None
        try:
            external = make_offline(site)
            if external:
                logger.warning("Data Docs still load %s from the network", ", ".join(external))
        except FileNotFoundError as err:
            logger.warning("Data Docs left pointing at CDNs (unreadable offline): %s", err)
        return str(site / "index.html")

    def __call__(self, frame: DataFrame, spec: SourceSpec, days: list[dt.date]) -> ValidationOutcome:
        """Validate a batch of `spec` (one or more delivery days); split rows into valid and failed."""
        rules = rules_for(spec)
        personal = spec.personal_columns
        # GX sees rules on personal data as pass/fail flags, so its results and Data Docs hold no
        # names, phones or PCCCs; the row-level split uses the rules themselves.
        gx_rules = [r.as_flag() if r.touches(personal) and r.kind != "derived" else r for r in rules]
        frame = with_helper_columns(frame, rules)
        flagged = flag_failures(frame, rules, personal).cache()
        failures, by_day = count_failures_by_day(flagged, rules)  # fills the cache
        # GX's metrics read the cached rows, not the staging windows again for each expectation.
        flags = [r for r in gx_rules if r not in rules]
        result, docs = self.run_suite(with_helper_columns(flagged, flags), spec, days, gx_rules)
        counts: Counter[str] = Counter()
        for r in result.results if result is not None else []:
            counts[r.expectation_config.meta["rule"]] += int(r.result.get("unexpected_count") or 0)
        self.last_gx_counts = dict(counts)
        has_failure = F.size("_failed_rules") > 0
        # `flagged` stays cached for the caller's writes; Spark drops it with the session's LRU.
        return ValidationOutcome(
            valid=flagged.where(~has_failure).drop("_failed_rules", "_reason"),
            failed=flagged.where(has_failure),
            rule_failures=failures,
            success=result.success if result is not None else True,
            report_path=docs,
            counts_by_day=by_day,
        )
