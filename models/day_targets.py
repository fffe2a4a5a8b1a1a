"""One channel's day, from silver to the published target list: the day's features from the
entity state, scores from the champion, rule hits, lanes by capacity, reasons, and the list written
to `gold/targets`, every score to `gold/scores`, and the files under `publish/targets/<day>/`."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.publish import write_csv, write_parquet
from jobs.settings import Settings
from jobs.tables import replace_where
from models.channels import ChannelSelector
from models.daily import day_features
from models.registry import load_selector
from models.rules import rule_inputs, with_rule_hits
from models.scoring import REASON_COUNT, ChampionMismatch, ScoringModel, reasons_frame, score_frame
from models.targets import CRITICAL_RESERVE, SelectionPolicy, allocate

_S, _D = T.StringType(), T.DoubleType()
LIST_HEAD = [("day", T.DateType()), ("channel", _S), ("rank", T.IntegerType()), ("lane", _S),
             ("selection_reason", _S), ("record_key", _S), ("fraud_score", _D), ("critical_score", _D),
             ("rule_hits", _S), *[(f"reason_{i}", _S) for i in range(1, REASON_COUNT + 1)]]
LIST_FIELDS = [("office_id", _S), ("master_awb", _S), ("courier_id", _S), ("importer_id", _S), ("hs6_code", _S),
               ("goods_description", _S), ("declared_category", _S), ("mail_class", _S), ("origin_country", _S),
               ("net_mass_kg", _D), ("declared_value", _D), ("currency", _S), ("recipient_name_masked", _S),
               ("recipient_pccc_masked", _S), ("recipient_phone_masked", _S)]
LIST_TAIL = [("model_name", _S), ("model_version", _S), ("input_versions", _S)]
TARGETS_SCHEMA = T.StructType([T.StructField(n, t, True) for n, t in (*LIST_HEAD, *LIST_FIELDS, *LIST_TAIL)])
SCORES_SCHEMA = T.StructType([T.StructField(n, t, True) for n, t in (
    ("day", T.DateType()), ("channel", _S), ("record_key", _S), ("fraud_score", _D), ("critical_score", _D),
    ("rule_hits", _S), ("lane", _S), ("model_version", _S))])
RETRAIN = "train a selector on today's features first (customs-risk train, or the weekly_training job)"


@dataclass
class DayTargets:
    """What was published for one channel and day."""

    day: dt.date
    channel: str
    model_name: str
    model_version: str
    counts: dict[str, int]
    sources: dict[str, object]
    csv_path: Path
    parquet_path: Path
    preview: list[dict]
    windows: dict[str, tuple[float, float]]  # stage -> (start, end), epoch seconds

    @property
    def seconds(self) -> dict[str, float]:
        """Each stage's seconds."""
        return stage_seconds(self.windows)


def stage_seconds(windows: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Seconds of each (start, end) window, to the hundredth."""
    return {stage: round(end - start, 2) for stage, (start, end) in windows.items()}


class Stopwatch:
    """Each stage of the day as (start, end) in epoch seconds (Spark is lazy: each lap ends with an
    action): its seconds, and the window a profile's Spark jobs are lined up with."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[float, float]] = {}
        self._epoch_offset = time.time() - time.perf_counter()
        self._last = self._now()

    def _now(self) -> float:
        """Epoch seconds from the monotonic clock, so that a wall-clock step cannot bend a lap."""
        return time.perf_counter() + self._epoch_offset

    def lap(self, stage: str, _materialized: object = None) -> None:
        """Close `stage` now."""
        now = self._now()
        self.windows[stage] = (self._last, now)
        self._last = now


def load_champion(selector: ChannelSelector) -> ScoringModel:
    """The channel's `champion` as a `ScoringModel`; a clear error when there is none."""
    try:
        return ScoringModel.from_selector(load_selector(selector.model_name))
    except mlflow.exceptions.MlflowException as err:
        raise ChampionMismatch(f"no champion registered for {selector.model_name} ({err.message.splitlines()[0]}): "
                               f"{RETRAIN}") from err


def _typed(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select([(F.col(f.name) if f.name in frame.columns else F.lit(None)).cast(f.dataType).alias(f.name)
                         for f in schema.fields])


def build_day_targets(spark: SparkSession, settings: Settings, selector: ChannelSelector, day: dt.date,
                      model: ScoringModel) -> DayTargets:
    """Score `day`'s records of the channel with `model`, build the list and publish it."""
    clock = Stopwatch()
    features = day_features(spark, settings, selector, day)
    model.check_features(selector.feature_columns(features.frame.columns),
                         f"{RETRAIN} (the champion's features are not today's)")
    frame = features.frame.cache()
    clock.lap("features", frame.count())
    hits = with_rule_hits(selector.channel, rule_inputs(selector.channel, frame, features.records, features.refs,
                                                        selector.record_id, selector.day_column))
    scored = score_frame(hits, model, selector.record_id, carry=("rule_hits",)).cache()
    clock.lap("scores_and_rules", scored.count())
    policy = SelectionPolicy(settings.capacity[selector.channel], settings.critical_share, settings.exploration_share)
    # The draw is reproducible for a re-run; the salt (a secret from the environment) keeps it from
    # being computed by anyone who has the code and chooses record keys.
    salt = os.environ.get("CUSTOMS_EXPLORATION_SALT", "")
    allocation = allocate(scored, policy, seed=f"{salt}:{selector.channel}:{day.isoformat()}")
    listed = allocation.listed
    clock.lap("lanes")
    # The list is bounded by capacity: broadcast, so the day's wide rows are filtered, not shuffled.
    listed_keys = F.broadcast(listed.select(F.col("record_key").alias(selector.record_id)))
    on_list = frame.join(listed_keys, selector.record_id)
    reasons = reasons_frame(on_list, model, selector.record_id,
                            listed.where(F.col("selection_reason") == CRITICAL_RESERVE).select("record_key"))
    fields = features.records.join(listed_keys, selector.record_id).select(
        F.col(selector.record_id).cast("string").alias("record_key"),
        *[expr().alias(name) for name, expr in selector.list_fields])
    versions = json.dumps(features.sources, sort_keys=True)
    targets = (listed.join(scored, "record_key").join(reasons, "record_key", "left").join(fields, "record_key", "left")
               .withColumn("rule_hits", F.array_join("rule_hits", "; "))
               .withColumn("day", F.lit(day)).withColumn("channel", F.lit(selector.channel))
               .withColumn("model_name", F.lit(model.name)).withColumn("model_version", F.lit(model.version))
               .withColumn("input_versions", F.lit(versions)))
    targets = _typed(targets, TARGETS_SCHEMA).orderBy("rank").cache()
    clock.lap("reasons", targets.count())
    where = f"day = DATE'{day.isoformat()}' AND channel = '{selector.channel}'"
    replace_where(targets, str(settings.table_path("gold", "targets")), where, ["day", "channel"])
    all_scores = (scored.join(listed.select("record_key", "lane"), "record_key", "left")
                  .withColumn("lane", F.coalesce("lane", F.lit("green")))
                  .withColumn("rule_hits", F.array_join("rule_hits", "; "))
                  .withColumn("day", F.lit(day)).withColumn("channel", F.lit(selector.channel))
                  .withColumn("model_version", F.lit(model.version)))
    replace_where(_typed(all_scores, SCORES_SCHEMA), str(settings.table_path("gold", "scores")), where,
                  ["day", "channel"])
    clock.lap("gold_tables")
    published = targets.toPandas()  # the list: bounded by the day's capacity, not by history
    columns = [n for n, _ in LIST_HEAD[2:]] + [n for n, _ in selector.list_fields] + [n for n, _ in LIST_TAIL]
    folder = settings.publish_dir / "targets" / day.isoformat()
    csv_path = write_csv(published[columns], folder / f"{selector.channel}.csv")
    parquet_path = write_parquet(published.drop(columns=["day"]), folder / f"{selector.channel}.parquet")
    clock.lap("files")
    for cached in (frame, scored, targets, listed):
        cached.unpersist()
    return DayTargets(day, selector.channel, model.name, model.version, allocation.counts, features.sources,
                      csv_path, parquet_path, published[columns].head(20).to_dict("records"),
                      clock.windows)
