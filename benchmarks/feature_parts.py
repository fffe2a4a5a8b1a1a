"""What each part of a parcel channel's day features costs: the day's features of a kept lake
(`score_day.py --workdir DIR`) computed in one warm JVM, all of them and then with one part at a
time replaced by constant columns (the platform orders, the entity profiles, the watch lists), each
variant `--rounds` times in turn. The first round warms the JVM; the figures to read are the later
rounds'.

    .venv/bin/python benchmarks/score_day.py --channel express --workdir .bench/score-express
    .venv/bin/python benchmarks/feature_parts.py --workdir .bench/score-express

Prints each round and writes JSON to benchmarks/results/feature_parts-<channel>.json. A part's cost
is read as the difference to `all`; the parts overlap (a shuffle one part needs may serve another),
so the differences need not add up to the total."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

import features.entity_state as entity_state  # noqa: E402
import features.express as express  # noqa: E402
import features.mail as mail  # noqa: E402
from features.parcels import PAID_COLUMNS, watch_columns  # noqa: E402
from features.profiles import profile_columns  # noqa: E402
from jobs.settings import Settings  # noqa: E402
from jobs.spark_session import build_spark_session  # noqa: E402
from models.channels import SELECTORS  # noqa: E402
from models.daily import day_features  # noqa: E402

VARIANTS = ("all", "no_orders", "no_profiles", "no_watch")


def _constants(frame: DataFrame, columns: list[str]) -> DataFrame:
    return frame.select("*", *[F.lit(0.0).alias(c) for c in columns])


def _patches(variant: str) -> list[tuple[object, str, Callable]]:
    """(module or class, attribute, replacement) for the variant."""
    if variant == "no_orders":
        return [(express, "with_declared_vs_paid", lambda frame, _orders, _day: _constants(frame, list(PAID_COLUMNS)))]
    if variant == "no_profiles":
        return [(entity_state.StateSums, "with_profiles",
                 lambda _self, frame, entities, _id, _day: _constants(frame, profile_columns(entities)))]
    if variant == "no_watch":
        def no_watch(frame, _watch, _day, keys, text_column):
            return _constants(frame, watch_columns(keys, text_column))
        return [(express, "with_watch_levels", no_watch), (mail, "with_watch_levels", no_watch)]
    return []


def time_variant(spark, settings: Settings, channel: str, day: dt.date, variant: str, sink: str) -> float:
    """Seconds to compute the day's features with `variant`'s part replaced, to `sink`."""
    patches = _patches(variant)
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        start = time.perf_counter()
        frame = day_features(spark, settings, SELECTORS[channel], day).frame
        if sink == "noop":
            frame.write.format("noop").mode("overwrite").save()
        else:
            frame = frame.cache()
            frame.count()
            frame.unpersist()
        return round(time.perf_counter() - start, 1)
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "score-express",
                        help="a lake kept by score_day.py --workdir")
    parser.add_argument("--channel", choices=("express", "mail"), default="express")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=None, help="default: the last day in silver")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--sink", choices=("noop", "cache"), default="noop",
                        help="noop: computed and dropped; cache: cached as the daily scoring does")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    workdir = args.workdir.resolve()
    if not (workdir / "lake").exists():
        raise SystemExit(f"no lake in {workdir}: run benchmarks/score_day.py --workdir {workdir} first")
    settings = replace(Settings.from_env(), lake_dir=workdir / "lake", publish_dir=workdir / "publish")
    spark = build_spark_session(settings, app_name="feature-parts-benchmark")
    selector = SELECTORS[args.channel]
    day = args.day or spark.read.format("delta").load(str(settings.table_path("silver", args.channel))).agg(
        F.max(selector.day_column)).first()[0]
    variants = args.variants.split(",")
    rounds: list[dict[str, float]] = []
    for number in range(1, args.rounds + 1):
        seconds = {}
        for variant in variants:
            seconds[variant] = time_variant(spark, settings, args.channel, day, variant, args.sink)
            print(f"round {number}/{args.rounds} {variant}: {seconds[variant]} s", flush=True)
        rounds.append(seconds)
    later = rounds[1:] or rounds
    summary = {v: round(min(r[v] for r in later), 1) for v in variants}
    result = {"channel": args.channel, "day": day.isoformat(), "sink": args.sink, "rounds": rounds,
              "best_of_later_rounds": summary, "measured_on": dt.date.today().isoformat()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"feature_parts-{args.channel}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"{args.channel} {day}: best of the later rounds {summary} ({args.sink} sink); written {path}")
    spark.stop()


if __name__ == "__main__":
    main()
