"""Daily target-list assets per channel: the entity state (as it stood before the day), the day's
target list (scored with the champion, published), and the feedback table joining inspection
results back to what was selected."""

import datetime as dt

import dagster as dg

from jobs.sources import INSPECTION_RESULTS, PCCC_REGISTRY, PLATFORM_ORDERS, SOURCES, WATCH_LISTS
from jobs.state_store import StateNotReady
from jobs.storage import join
from models.channels import SELECTORS, ChannelSelector
from models.daily import advance_entity_state
from models.day_targets import build_day_targets, load_champion
from models.feedback import HORIZON_DAYS, refresh_selection_performance
from models.scoring import ChampionMismatch
from orchestration.ingestion import DATA_ENGINEERING, silver_key
from orchestration.partitions import daily_partitions, partition_days
from orchestration.resources import LakeResource, SparkResource
from orchestration.table_metadata import delta_table_metadata

GROUP = "targets"
PREVIOUS_DAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
PERFORMANCE_KEY = dg.AssetKey(["gold", "selection_performance"])


def state_key(selector: ChannelSelector) -> dg.AssetKey:
    """Asset key of a channel's entity state."""
    return dg.AssetKey(["state", f"{selector.channel}_entities"])


def targets_key(selector: ChannelSelector) -> dg.AssetKey:
    """Asset key of a channel's daily target list."""
    return dg.AssetKey(["gold", f"{selector.channel}_targets"])


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of `rows` (the top of a list, for the Dagster UI)."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return "" if value is None else str(value).replace("|", "/")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


RISK_TEAM = "team:risk_targeting"
PREVIEW_COLUMNS = ["rank", "lane", "selection_reason", "record_key", "fraud_score", "reason_1", "reason_2", "reason_3"]


def build_target_assets(selector: ChannelSelector) -> list[dg.AssetsDefinition]:
    """The entity-state asset and the target-list asset of one channel."""
    channel_silver = silver_key(SOURCES[selector.channel])

    @dg.asset(
        key=state_key(selector),
        pool=f"targets_{selector.channel}",
        group_name=GROUP,
        owners=[DATA_ENGINEERING],
        tags={"domain": selector.channel, "layer": "state"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"spark", "delta"},
        deps=[dg.AssetDep(channel_silver, partition_mapping=PREVIOUS_DAY),
              dg.AssetDep(silver_key(INSPECTION_RESULTS), partition_mapping=PREVIOUS_DAY)],
        description=f"Point-in-time entity state of {selector.channel} as it stood at the start of the day: "
        "running label, fraud, critical and record counts per entity (and price sums), folded in once a day "
        "from the previous day's records and the labels that became known that day. One Delta version per day.",
    )
    def entity_state(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        """Advance the state so it holds every day before each partition day."""
        settings = lake.settings()
        outcome = None
        folded, replayed, unchanged = [], [], []
        for day in partition_days(context):
            outcome = advance_entity_state(spark.session(), settings, selector, day - dt.timedelta(days=1))
            folded += outcome.folded
            replayed += outcome.replayed
            unchanged += outcome.unchanged
        return dg.MaterializeResult(metadata={
            "through_day": outcome.through_day.isoformat(),
            "state_version": outcome.version,
            "bootstrapped": outcome.bootstrapped,
            "days_folded": len(folded),
            "days_replayed": dg.MetadataValue.json([d.isoformat() for d in replayed]),
            "days_unchanged": len(unchanged),
            **delta_table_metadata(spark.session(), join(settings.lake_dir, "state", f"{selector.channel}_entities")),
        })

    refs = [silver_key(s) for s in (PCCC_REGISTRY, WATCH_LISTS, PLATFORM_ORDERS)]

    @dg.asset(
        key=targets_key(selector),
        pool=f"targets_{selector.channel}",
        group_name=GROUP,
        owners=[RISK_TEAM],
        tags={"domain": selector.channel, "layer": "gold"},
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"spark", "delta", "xgboost"},
        deps=[state_key(selector), channel_silver, *refs, dg.AssetKey(["models", selector.model_name])],
        description=f"The day's {selector.channel} target list for the risk teams: every record scored with "
        f"models:/{selector.model_name}@champion, red/yellow lanes sized by capacity (rules, critical reserve, "
        "exploration, model), three plain-word reasons per row, personal data masked. Rows in gold/targets, all "
        "scores in gold/scores, files in publish/targets/YYYY-MM-DD/ (CSV and Parquet).",
    )
    def target_list(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
        """Score the day, build the list, publish it."""
        settings = lake.settings()
        try:
            model = load_champion(selector)
            published = [build_day_targets(spark.session(), settings, selector, day, model)
                         for day in partition_days(context)]
        except (ChampionMismatch, StateNotReady) as err:
            raise dg.Failure(description=str(err)) from err
        last = published[-1]
        for day in published:
            context.log.info(f"{selector.channel} {day.day}: {day.counts} -> {day.csv_path}")
        return dg.MaterializeResult(metadata={
            "model": f"{last.model_name} version {last.model_version}",
            "records": last.counts["records"],
            "dagster/row_count": last.counts["red"] + last.counts["yellow"] + last.counts["overflow"],
            "red": last.counts["red"], "yellow": last.counts["yellow"], "overflow": last.counts["overflow"],
            "exploration": last.counts["exploration"], "critical_reserve": last.counts["critical_reserve"],
            "rule_hits": last.counts["rule_hits"],
            "counts_per_day": dg.MetadataValue.json({d.day.isoformat(): d.counts for d in published}),
            "seconds_per_stage": dg.MetadataValue.json({d.day.isoformat(): d.seconds for d in published}),
            "input_versions": dg.MetadataValue.json(last.sources),
            "csv": dg.MetadataValue.path(str(last.csv_path)),
            "parquet": dg.MetadataValue.path(str(last.parquet_path)),
            "top_20": dg.MetadataValue.md(markdown_table(last.preview, PREVIEW_COLUMNS)),
            **delta_table_metadata(spark.session(), settings.table_path("gold", "targets")),
        })

    return [entity_state, target_list]


@dg.asset(
    key=PERFORMANCE_KEY,
    pool="targets_performance",
    group_name=GROUP,
    owners=[RISK_TEAM],
    tags={"domain": "feedback", "layer": "gold"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"spark", "delta"},
    deps=[*[targets_key(s) for s in SELECTORS.values()], silver_key(INSPECTION_RESULTS)],
    description="Inspection results joined back to the lists: per day, channel, lane and selection reason "
    f"(model, critical reserve, exploration, rule, outside the list) the records selected, inspected, hits, hit "
    f"rate, critical finds, duty recovered and kg seized. The last {HORIZON_DAYS} list days are recomputed each "
    "run, as their results arrive.",
)
def selection_performance(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    """Refresh the feedback table for the recent list days."""
    summary = refresh_selection_performance(spark.session(), lake.settings(), partition_days(context))
    metadata: dict[str, object] = {
        **summary, **delta_table_metadata(spark.session(), lake.settings().table_path("gold", "selection_performance"))}
    if summary["listed_inspected"]:
        metadata["listed_hit_rate"] = dg.MetadataValue.float(round(summary["listed_hits"] /
                                                                   summary["listed_inspected"], 4))
    return dg.MaterializeResult(metadata=metadata)


target_assets = [a for selector in SELECTORS.values() for a in build_target_assets(selector)] + [selection_performance]
