"""Asset factory: bronze, silver and quarantine assets (with their quality checks) for any source.

Every source in `jobs.sources.SOURCES` gets the same three assets from this one function."""



import dagster as dg

from expectations.runner import GxValidator
from jobs.ingest import land_bronze, refine_silver
from jobs.sources import INSPECTED_CHANNELS, SourceSpec
from orchestration.partitions import daily_partitions, partition_days
from orchestration.resources import LakeResource, SparkResource

GROUP = "ingestion"


def bronze_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's bronze table."""
    return dg.AssetKey(["bronze", spec.name])


def silver_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's silver table."""
    return dg.AssetKey(["silver", spec.name])


def quarantine_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's quarantine table."""
    return dg.AssetKey(["quarantine", spec.name])


def upstream_of_silver(spec: SourceSpec) -> list[dg.AssetKey]:
    """What a source's silver step reads: its bronze, and for feedback the inspected channels."""
    extra = [silver_key(channel) for channel in INSPECTED_CHANNELS.values()] if spec.kind == "feedback" else []
    return [bronze_key(spec), *extra]


def lake_pool(spec: SourceSpec) -> str:
    """Dagster pool of the steps that write a source's bronze, silver and quarantine tables: with
    the instance's default pool limit of 1 no two runs write them at once."""
    return f"lake_{spec.name}"


def build_ingestion_assets(spec: SourceSpec) -> list[dg.AssetsDefinition]:
    """Bronze asset (landing files -> raw Delta rows) and the silver+quarantine multi-asset
    (validate, MERGE, quarantine) with blocking checks, for one source."""

    @dg.asset(
        key=bronze_key(spec),
        pool=lake_pool(spec),
        group_name=GROUP,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"spark", "delta"},
        description=f"Every line of the day's {spec.name} landing files as raw strings, with file, "
        "line number, checksum, encoding and ingest time. Replaced per day, so re-runs are safe.",
    )
    def bronze(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        settings = lake.settings()
        result = land_bronze(spark.session(), spec, settings, partition_days(context))
        if not result.files:
            context.log.warning(f"no landing files for {spec.name} in {context.partition_key_range}")
        return dg.MaterializeResult(
            metadata={
                "rows": result.rows,
                "files": len(result.files),
                "file_details": dg.MetadataValue.json(result.files),
                "path": dg.MetadataValue.path(str(settings.table_path("bronze", spec.name))),
            }
        )

    @dg.multi_asset(
        name=f"refine_{spec.name}",
        pool=lake_pool(spec),
        group_name=GROUP,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[
            dg.AssetSpec(silver_key(spec), kinds={"spark", "delta"}, deps=upstream_of_silver(spec), skippable=True,
                         description=f"{spec.description} Typed, one row per {'+'.join(spec.key)} "
                         f"(Delta MERGE), partitioned by {spec.date_column}."),
            dg.AssetSpec(quarantine_key(spec), kinds={"spark", "delta"}, deps=upstream_of_silver(spec),
                         description=f"{spec.name} rows that failed parsing or a rule, with every "
                         "failed rule, the source file and line. Never reach silver."),
        ],
        check_specs=[
            dg.AssetCheckSpec("quarantine_share_below_threshold", asset=silver_key(spec), blocking=True,
                              description="Write-audit-publish gate, per day: a day whose share of "
                              "quarantined rows exceeds CUSTOMS_MAX_QUARANTINE_SHARE is not written to "
                              "silver and blocks everything downstream."),
            dg.AssetCheckSpec("rows_reconcile", asset=silver_key(spec), blocking=True,
                              description="rows read = quarantined + duplicates skipped + "
                              "superseded + valid."),
        ],
    )
    def refine(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        settings = lake.settings()
        result = refine_silver(spark.session(), spec, settings, partition_days(context), GxValidator(settings.gx_dir))
        counts = {name: getattr(result, name) for name in
                  ("rows_read", "valid_rows", "quarantined", "parse_errors", "rule_failures", "duplicates_skipped",
                   "superseded")}
        per_day = dg.MetadataValue.json({day.isoformat(): c.as_dict() for day, c in result.by_day.items()})
        held = [day.isoformat() for day in result.held_days]
        if not result.published:
            context.log.error(f"silver/{spec.name} held back by the quality gate: {result.held_reason()}")
        if len(result.held_days) < len(result.by_day):  # silver was written for at least one day
            yield dg.MaterializeResult(
                asset_key=silver_key(spec),
                metadata={
                    **counts,
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "held_days": dg.MetadataValue.json(held),
                    "by_day": per_day,
                    "path": dg.MetadataValue.path(str(settings.table_path("silver", spec.name))),
                },
            )
        yield dg.MaterializeResult(
            asset_key=quarantine_key(spec),
            metadata={
                "rows": result.quarantined,
                "failures_by_rule": dg.MetadataValue.json(result.failures_by_rule),
                "by_day": per_day,
                "path": dg.MetadataValue.path(str(settings.table_path("quarantine", spec.name))),
            },
        )
        yield dg.AssetCheckResult(
            asset_key=silver_key(spec),
            check_name="quarantine_share_below_threshold",
            passed=result.published,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(result.held_reason() or "every day within the threshold; published"),
            metadata={
                "quarantine_share": dg.MetadataValue.float(round(result.quarantine_share, 6)),
                "threshold": dg.MetadataValue.float(settings.max_quarantine_share),
                "held_days": dg.MetadataValue.json(held),
                "passed_rows": result.valid_rows,
                "failed_rows": result.quarantined,
                "by_day": per_day,
                "failures_by_rule": dg.MetadataValue.json(
                    {k: v for k, v in result.failures_by_rule.items() if v}
                ),
                "gx_suite_success": result.validation_success,
                "gx_report": dg.MetadataValue.path(result.report_path or ""),
            },
        )
        unreconciled = [day.isoformat() for day, c in result.by_day.items() if not c.reconciles]
        yield dg.AssetCheckResult(
            asset_key=silver_key(spec),
            check_name="rows_reconcile",
            passed=not unreconciled,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"days that do not reconcile: {', '.join(unreconciled)}" if unreconciled else None,
            metadata={**counts, "by_day": per_day},
        )

    return [bronze, refine]
