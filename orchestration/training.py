"""Weekly selector assets per channel: the feature table (Delta, rebuilt from silver), then the
XGBoost selector trained on it, logged to MLflow, registered, promoted only if better."""

import os

import dagster as dg

from jobs.sources import INSPECTION_RESULTS, PCCC_REGISTRY, PLATFORM_ORDERS, SOURCES, WATCH_LISTS
from models.channels import SELECTORS, ChannelSelector
from models.pipeline import build_feature_table, train_channel_selector
from models.train import TrainParams
from orchestration.ingestion import DATA_ENGINEERING, silver_key
from orchestration.resources import LakeResource, SparkResource
from orchestration.table_metadata import delta_table_metadata

DEFAULT_PARAMS = TrainParams()


class SelectorConfig(dg.Config):
    """Hyperparameters and the windows: the last `eval_days` days of labels are the evaluation
    window (metrics, promotion gate), the `stop_days` before them early stopping, the rest training."""

    eval_days: int = 14
    stop_days: int = 7
    max_depth: int = DEFAULT_PARAMS.max_depth
    learning_rate: float = DEFAULT_PARAMS.learning_rate
    n_estimators: int = DEFAULT_PARAMS.n_estimators
    early_stopping_rounds: int = DEFAULT_PARAMS.early_stopping_rounds
    max_bin: int = DEFAULT_PARAMS.max_bin


def feature_key(selector: ChannelSelector) -> dg.AssetKey:
    """Asset key of a channel's feature table."""
    return dg.AssetKey(["features", f"{selector.channel}_features"])


def build_selector_assets(selector: ChannelSelector) -> list[dg.AssetsDefinition]:
    """The feature-table asset and the selector asset of one channel."""
    refs = [PCCC_REGISTRY, WATCH_LISTS, PLATFORM_ORDERS] if selector.needs_references else []

    @dg.asset(
        key=feature_key(selector),
        pool=f"features_{selector.channel}",
        group_name="features",
        owners=[DATA_ENGINEERING],
        tags={"domain": selector.channel, "layer": "features"},
        deps=[silver_key(SOURCES[selector.channel]), silver_key(INSPECTION_RESULTS), *map(silver_key, refs)],
        kinds={"spark", "delta"},
        description=f"Point-in-time features of every {selector.channel} record ({selector.description}); "
        "a Delta table partitioned by day, rebuilt from silver.",
    )
    def feature_table(context: dg.AssetExecutionContext, lake: LakeResource,
                      spark: SparkResource) -> dg.MaterializeResult:
        """Rebuild the channel's feature table from the current silver snapshot."""
        table = build_feature_table(spark.session(), lake.settings(), selector)
        context.log.info(f"{table.rows} rows x {table.features} features over {table.days} days -> {table.path}")
        return dg.MaterializeResult(metadata={
            "rows": table.rows, "dagster/row_count": table.rows, "days": table.days, "features": table.features,
            "delta_version": table.version, "silver_version": table.silver_version,
            **delta_table_metadata(spark.session(), table.path),
        })

    @dg.asset(
        key=["models", selector.model_name],
        pool=f"models_{selector.channel}",
        group_name="selectors",
        owners=["team:risk_targeting"],
        tags={"domain": selector.channel, "layer": "models"},
        deps=[feature_key(selector)],
        kinds={"xgboost", "mlflow", "spark"},
        description=f"XGBoost fraud and critical selectors for {selector.channel}: trained on the labelled records "
        "before the early-stopping and evaluation windows (time order), registered in MLflow, `champion` only if "
        "it beats the current champion on the evaluation window by a paired bootstrap.",
    )
    def selector_model(context: dg.AssetExecutionContext, config: SelectorConfig, lake: LakeResource,
                       spark: SparkResource) -> dg.MaterializeResult:
        """Weekly retraining on the latest inspection feedback."""
        params = TrainParams(max_depth=config.max_depth, learning_rate=config.learning_rate,
                             n_estimators=config.n_estimators, early_stopping_rounds=config.early_stopping_rounds,
                             max_bin=config.max_bin)
        outcome = train_channel_selector(spark.session(), lake.settings(), selector, params, config.eval_days,
                                         config.stop_days)
        context.log.info(f"{selector.model_name} version {outcome.version}: {outcome.promotion['reason']}")
        fraud = outcome.report["fraud_ranking"]
        critical = outcome.report["published_ranking"]["critical_recall_at"]["0.1"]
        ui = os.environ.get("CUSTOMS_MLFLOW_UI", "http://127.0.0.1:5000")
        return dg.MaterializeResult(metadata={
            "model_version": outcome.version,
            "promoted_to_champion": outcome.promotion["promoted"],
            "gate_reason": outcome.promotion["reason"],
            "promotion": dg.MetadataValue.json(outcome.promotion),
            "n_train": outcome.n_train,
            "n_early_stopping": outcome.n_stop,
            "n_eval": outcome.n_eval,
            "evaluation_window": outcome.windows.label(),
            "precision_at_0.05": fraud["precision_at"]["0.05"],
            "precision_at_0.1": fraud["precision_at"]["0.1"],
            "critical_recall_at_0.1": critical if critical is not None else "no critical case in the window",
            "mlflow_run_id": outcome.run_id,
            "mlflow_run": dg.MetadataValue.url(f"{ui}/#/experiments/{outcome.experiment_id}/runs/{outcome.run_id}"
                                               "?workflowType=machine_learning"),
            "report": dg.MetadataValue.json(outcome.report),
        })

    return [feature_table, selector_model]


selector_assets = [a for selector in SELECTORS.values() for a in build_selector_assets(selector)]

weekly_training = dg.define_asset_job(
    "weekly_training", selection=dg.AssetSelection.groups("features", "selectors"),
    executor_def=dg.in_process_executor,
    description="Rebuild each channel's feature table and retrain its selector on the latest labelled data.",
)
weekly_training_schedule = dg.ScheduleDefinition(
    name="weekly_training_schedule", job=weekly_training, cron_schedule="0 5 * * 1", execution_timezone="Asia/Seoul",
    description="Monday 05:00 Seoul: rebuild the feature tables and retrain the three selectors; a challenger "
    "becomes champion only if it beats the champion on the untouched evaluation window.",
)
