"""Selector training assets (weekly): train, log to MLflow, register, promote only if better."""

import dagster as dg

from jobs.sources import DECLARATIONS, INSPECTION_RESULTS
from models.pipeline import DECLARATIONS_MODEL, train_declarations_selector
from models.train import TrainParams
from orchestration.ingestion import silver_key
from orchestration.resources import LakeResource, SparkResource


class SelectorConfig(dg.Config):
    """Hyperparameters and the validation window (days of the most recent labels)."""

    valid_days: int = 14
    max_depth: int = 8
    learning_rate: float = 0.05
    n_estimators: int = 1000
    early_stopping_rounds: int = 50


@dg.asset(
    key=["models", DECLARATIONS_MODEL],
    group_name="selectors",
    deps=[silver_key(DECLARATIONS), silver_key(INSPECTION_RESULTS)],
    kinds={"xgboost", "mlflow", "spark"},
    description="XGBoost fraud and critical selectors for general-cargo declarations, trained on every "
    "labelled declaration before the validation window; registered in MLflow, `champion` only if it beats "
    "the current champion on the same window.",
)
def declarations_selector(context: dg.AssetExecutionContext, config: SelectorConfig, lake: LakeResource,
                          spark: SparkResource) -> dg.MaterializeResult:
    """Weekly retraining of the declarations selector on the latest inspection feedback."""
    params = TrainParams(max_depth=config.max_depth, learning_rate=config.learning_rate,
                         n_estimators=config.n_estimators, early_stopping_rounds=config.early_stopping_rounds)
    outcome = train_declarations_selector(spark.session(), lake.settings(), params, config.valid_days)
    context.log.info(f"model version {outcome.version}: {outcome.promotion['reason']}")
    fraud = outcome.report["fraud_ranking"]
    return dg.MaterializeResult(metadata={
        "model_version": outcome.version,
        "promoted_to_champion": outcome.promotion["promoted"],
        "promotion": dg.MetadataValue.json(outcome.promotion),
        "n_train": outcome.n_train,
        "n_valid": outcome.n_valid,
        "valid_from": outcome.valid_from.isoformat(),
        "precision_at_0.05": fraud["precision_at"]["0.05"],
        "precision_at_0.1": fraud["precision_at"]["0.1"],
        "critical_recall_at_0.1": outcome.report["published_ranking"]["critical_recall_at"]["0.1"],
        "report": dg.MetadataValue.json(outcome.report),
    })


weekly_training = dg.define_asset_job(
    "weekly_training", selection=dg.AssetSelection.groups("selectors"), executor_def=dg.in_process_executor,
    description="Retrain the risk selectors on the latest labelled data.",
)
weekly_training_schedule = dg.ScheduleDefinition(
    name="weekly_training_schedule", job=weekly_training, cron_schedule="0 5 * * 1", execution_timezone="Asia/Seoul",
)
