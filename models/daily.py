"""A channel's features for one day from the lake, without recomputing history: the entity state
(`state/<channel>_entities`, advanced once a day) as it stood before the day, the day's silver
partition, the window of earlier days the windowed features need, and the reference tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.entity_state import INCREMENT_SCHEMA, StateSums, accumulate, entity_increments
from features.parcels import ORDER_LOOKBACK_DAYS, ParcelReferences
from jobs.settings import Settings
from jobs.state_store import AdvanceResult, CumulativeTable, Source, advance, state_before
from jobs.storage import join
from jobs.tables import read_partition, table_exists
from models.channels import ChannelSelector
from models.pipeline import pinned, references

# Labels of a day are looked for among the records of this many earlier days first; a label for
# an older record (rare) is still found, by a scan of the whole channel (counts are checked).
LABEL_LOOKBACK_DAYS = 60


def entity_state_table(settings: Settings, selector: ChannelSelector) -> CumulativeTable:
    """The channel's entity state: `state/<channel>_entities` and `state/<channel>_entities_increments`."""
    return CumulativeTable.at(join(settings.lake_dir, "state"), f"{selector.channel}_entities", accumulate,
                              tuple(f.name for f in INCREMENT_SCHEMA.fields))


def _silver(spark: SparkSession, settings: Settings, channel: str) -> DataFrame:
    path = settings.table_path("silver", channel)
    if not table_exists(spark, path):
        raise ValueError(f"silver.{channel} does not exist yet: run the daily pipeline first")
    return spark.read.format("delta").load(str(path))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _expected_labels(spark: SparkSession, settings: Settings, channel: str, first: dt.date,
                     last: dt.date) -> int | None:
    path = settings.table_path("silver", "inspection_results")
    if not table_exists(spark, path):
        return None
    return (read_partition(spark, path, "inspection_date", _days(first, last))
            .where(F.col("channel") == channel).count())


def lake_increments(spark: SparkSession, settings: Settings, selector: ChannelSelector, first: dt.date | None,
                    last: dt.date) -> DataFrame:
    """What the days `first`..`last` (None: from the beginning) add to the channel's entity state:
    the records of those days and the labels that became known on them."""
    silver = _silver(spark, settings, selector.channel)
    day = F.col(selector.day_column)
    if first is None:
        records = silver.where(day <= F.lit(last))
        labelled = selector.labelled(silver).where(F.col("label_date") <= F.lit(last))
    else:
        records = read_partition(spark, settings.table_path("silver", selector.channel), selector.day_column,
                                 _days(first, last))
        recent = read_partition(spark, settings.table_path("silver", selector.channel), selector.day_column,
                                _days(first - dt.timedelta(days=LABEL_LOOKBACK_DAYS), last))
        in_days = F.col("label_date").between(F.lit(first), F.lit(last))
        labelled = selector.labelled(recent).where(in_days)
        expected = _expected_labels(spark, settings, selector.channel, first, last)
        found = labelled.where(F.col("inspection_date").isNotNull()).count()
        if expected is None or found < expected:
            labelled = selector.labelled(silver).where(in_days)
    price_history = records if selector.state.price_groups else None
    return entity_increments(selector.state, records, labelled, price_history)


def advance_entity_state(spark: SparkSession, settings: Settings, selector: ChannelSelector,
                         through: dt.date) -> AdvanceResult:
    """Advance the channel's entity state so that it holds every day up to `through`, and replay it
    from any earlier day whose records or results changed since the last fold."""
    sources = [Source(f"silver.{selector.channel}", str(settings.table_path("silver", selector.channel)),
                      selector.day_column),
               Source("silver.inspection_results", str(settings.table_path("silver", "inspection_results")),
                      "inspection_date")]
    return advance(spark, entity_state_table(settings, selector), through,
                   lambda first, last: lake_increments(spark, settings, selector, first, last), sources)


@dataclass
class DayFeatures:
    """A day's feature rows and the table versions they were read from."""

    frame: DataFrame
    records: DataFrame
    refs: ParcelReferences
    sources: dict[str, object]


def day_features(spark: SparkSession, settings: Settings, selector: ChannelSelector, day: dt.date) -> DayFeatures:
    """Every feature of the channel's records of `day`: profiles and prices from the entity state
    before the day, windowed features over the last `window_days` days only, references as of the
    day. Equal to the weekly full rebuild's rows of that day (tested)."""
    silver_path = str(settings.table_path("silver", selector.channel))
    if not table_exists(spark, silver_path):
        raise ValueError(f"silver.{selector.channel} does not exist yet: run the daily pipeline first")
    silver, version = pinned(spark, silver_path)
    sources: dict[str, object] = {f"silver.{selector.channel}": version}
    state, provenance = state_before(spark, entity_state_table(settings, selector), day)
    sources.update({f"state.{selector.channel}_entities.{k}": v for k, v in provenance.items()})
    day_column = F.col(selector.day_column)
    records = silver.where(day_column == F.lit(day))
    earlier = None
    if selector.window_days:
        earlier = silver.where(day_column.between(F.lit(day - dt.timedelta(days=selector.window_days - 1)),
                                                  F.lit(day - dt.timedelta(days=1))))
    refs, ref_versions = references(spark, settings, (day - dt.timedelta(days=ORDER_LOOKBACK_DAYS), day))
    sources.update(ref_versions)
    frame = selector.features_from(records, StateSums(state), refs, earlier)
    return DayFeatures(frame, records, refs, sources)
