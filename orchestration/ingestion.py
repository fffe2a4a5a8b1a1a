"""Asset factory: bronze, silver and quarantine assets (with their quality checks) for any source.

Every source in `jobs.sources.SOURCES` gets the same three assets from this one function."""



import datetime as dt

import dagster as dg

from expectations.runner import GxValidator
from jobs.ingest import QUARANTINE_SCHEMA, land_bronze, refine_silver
from jobs.sources import INSPECTED_CHANNELS, SourceSpec
from orchestration.partitions import daily_partitions, partition_days
from orchestration.resources import LakeResource, SparkResource

GROUP = "ingestion"


def bronze_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's bronze table (`bronze/<source>_bronze`: the graph shows the last
    part, which must be readable on its own; the table itself is at <lake>/bronze/<source>)."""
    return dg.AssetKey(["bronze", f"{spec.name}_bronze"])


def silver_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's silver table."""
    return dg.AssetKey(["silver", f"{spec.name}_silver"])


def quarantine_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's quarantine table."""
    return dg.AssetKey(["quarantine", f"{spec.name}_quarantine"])


def upstream_of_silver(spec: SourceSpec) -> list[dg.AssetKey]:
    """What a source's silver step reads: its bronze, and for feedback the inspected channels."""
    extra = [silver_key(channel) for channel in INSPECTED_CHANNELS.values()] if spec.kind == "feedback" else []
    return [bronze_key(spec), *extra]


DATA_ENGINEERING = "team:data_engineering"


def column_schema(spec: SourceSpec, bronze: bool = False) -> dg.TableSchema:
    """The table's columns for the asset page: raw strings in bronze, silver types in silver."""
    columns = [dg.TableColumn(c.name, "string" if bronze else c.dtype.simpleString(),
                              description=c.description + (" (personal data)" if c.personal and "personal"
                                                           not in c.description.lower() else ""))
               for c in spec.columns]
    if not bronze:
        columns += [dg.TableColumn(c.name, c.dtype.simpleString(), description=c.description)
                    for c in spec.silver_extra]
    return dg.TableSchema(columns=columns)


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
        tags={"domain": spec.kind, "layer": "bronze"},
        owners=[DATA_ENGINEERING],
        metadata={"dagster/column_schema": column_schema(spec, bronze=True)},
        check_specs=[dg.AssetCheckSpec(
            "expected_delivery", asset=bronze_key(spec),
            description=f"Warns when a day has no {spec.name} landing file although the source must "
            "deliver every day (CUSTOMS_DAILY_SOURCES); reference lists may deliver nothing.")],
        description=f"Every line of the day's {spec.name} landing files as raw strings, with file, "
        "line number, checksum, encoding and ingest time. Replaced per day, so re-runs are safe.",
    )
    def bronze(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        settings = lake.settings()
        days = partition_days(context)
        result = land_bronze(spark.session(), spec, settings, days)
        missing = []
        for day in days:  # each partition of a range run carries its own day's figures
            files = [f for f in result.files if f["day"] == day.isoformat()]
            rows = sum(int(f["rows"]) for f in files)
            if not files:
                missing.append(day.isoformat())
            context.add_asset_metadata(
                {"dagster/row_count": rows, "rows": rows, "files": len(files),
                 "delivery": f"{len(files)} file(s)" if files else "no files",
                 "file_details": dg.MetadataValue.json(files)},
                partition_key=day.isoformat())
        must_deliver = spec.name in settings.daily_sources
        if missing:
            (context.log.warning if must_deliver else context.log.info)(
                f"no landing files for {spec.name} on {', '.join(missing)}")
        path = dg.MetadataValue.path(str(settings.table_path("bronze", spec.name)))
        yield dg.MaterializeResult(metadata={"path": path})
        yield dg.AssetCheckResult(
            check_name="expected_delivery",
            passed=not (must_deliver and missing),
            severity=dg.AssetCheckSeverity.WARN,
            description=(f"no {spec.name} files for {', '.join(missing)}" if missing else "every day delivered")
            + ("" if must_deliver else f" ({spec.name} may deliver nothing on a day)"),
            metadata={"days_without_files": dg.MetadataValue.json(missing), "must_deliver_daily": must_deliver},
        )

    @dg.multi_asset(
        name=f"validate_and_publish_{spec.name}",
        pool=lake_pool(spec),
        group_name=GROUP,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=[
            dg.AssetSpec(silver_key(spec), kinds={"spark", "delta"}, deps=upstream_of_silver(spec), skippable=True,
                         tags={"domain": spec.kind, "layer": "silver"}, owners=[DATA_ENGINEERING],
                         metadata={"dagster/column_schema": column_schema(spec)},
                         description=f"{spec.description} Typed, one row per {'+'.join(spec.key)}, "
                         + (f"Delta MERGE, partitioned by {spec.partition_column}." if spec.partition_column
                            else "history kept (a changed row closes its version), not partitioned.")),
            dg.AssetSpec(quarantine_key(spec), kinds={"spark", "delta"}, deps=upstream_of_silver(spec),
                         tags={"domain": spec.kind, "layer": "quarantine"}, owners=[DATA_ENGINEERING],
                         metadata={"dagster/column_schema": dg.TableSchema(columns=[
                             dg.TableColumn(f.name, f.dataType.simpleString()) for f in QUARANTINE_SCHEMA.fields])},
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
        validator = GxValidator(settings.gx_dir, keep_results=settings.gx_keep_results)
        result = refine_silver(spark.session(), spec, settings, partition_days(context), validator)
        counts = {name: value for name, value in result.as_dict().items() if name != "quarantine_share"}
        per_day = dg.MetadataValue.json({day.isoformat(): c.as_dict() for day, c in result.by_day.items()})
        held = [day.isoformat() for day in result.held_days]
        silver_path = dg.MetadataValue.path(str(settings.table_path("silver", spec.name)))
        silver_by_day = {}
        for day, day_counts in result.by_day.items():  # each partition carries its own day's figures
            figures = day_counts.as_dict()
            key = day.isoformat()
            silver_by_day[key] = {**figures, "dagster/row_count": figures["valid_rows"], "path": silver_path}
            context.add_asset_metadata({"rows": figures["quarantined"], "dagster/row_count": figures["quarantined"],
                                        "quarantine_share": figures["quarantine_share"]},
                                       asset_key=quarantine_key(spec), partition_key=key)
        run_figures = {"run_inserted": result.inserted, "run_updated": result.updated, "run_days": len(result.by_day),
                       "by_day": per_day}
        if result.published:
            for key, figures in silver_by_day.items():
                context.add_asset_metadata(figures, asset_key=silver_key(spec), partition_key=key)
            yield dg.MaterializeResult(asset_key=silver_key(spec), metadata=run_figures)
        else:
            # Only the days written are reported materialized; the held ones stay as they were (and
            # show as failed in the partition view), with the gate's reason on the check.
            context.log.error(f"{silver_key(spec).to_user_string()} held back by the quality gate: "
                              f"{result.held_reason()}")
            for key, figures in silver_by_day.items():
                if dt.date.fromisoformat(key) not in result.held_days:
                    context.log_event(dg.AssetMaterialization(asset_key=silver_key(spec), partition=key,
                                                              metadata={**figures, **run_figures}))
        yield dg.MaterializeResult(
            asset_key=quarantine_key(spec),
            metadata={
                "run_rows": result.quarantined,
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
