"""How many entity types the day features should join wide (by broadcast, one at a time) before the
rest go through the long form: the declarations' day features of a kept lake, timed for each
`--wide` value (`features.profiles.profile_features_from_state`'s `wide_joins`).

    .venv/bin/python benchmarks/wide_joins.py --workdir .bench/run-1m-h30 --day 2024-01-31 --wide 0,6,12,20,26,33

The lake is one a `daily_run.py --workdir DIR` run kept. An untimed pass at the current default runs
first so every timed value finds a warm JVM; each value writes the features to Spark's noop sink.
Prints the seconds and writes JSON to benchmarks/results/wide_joins.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.kept_lake import add_kept_lake_arguments, use_kept_lake  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_kept_lake_arguments(parser)
    parser.add_argument("--channel", default="declarations")
    parser.add_argument("--wide", default="0,6,12,20,26,33", help="comma-separated numbers of wide joins")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "wide_joins.json")
    args = parser.parse_args()
    work = use_kept_lake(args.workdir)

    import features.entity_state as entity_state
    import features.profiles as profiles
    from jobs.settings import Settings
    from models.channels import SELECTORS
    from models.daily import day_features
    from orchestration.resources import SparkResource

    spark, settings, selector = SparkResource().session(), Settings.from_env(), SELECTORS[args.channel]
    default = profiles.WIDE_JOINS
    values = [int(v) for v in args.wide.split(",")]
    seconds: dict[str, float] = {}
    for i, wide in enumerate([None, *values]):
        entity_state.profile_features_from_state = partial(profiles.profile_features_from_state,
                                                           wide_joins=default if wide is None else wide)
        began = time.perf_counter()
        day_features(spark, settings, selector, args.day).frame.write.format("noop").mode("overwrite").save()
        took = round(time.perf_counter() - began, 1)
        label = f"{default} (warm-up)" if wide is None else str(wide)
        seconds[label] = took
        print(f"[{i}/{len(values)}] {label} wide joins: {took} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"workdir": str(work), "day": args.day.isoformat(), "channel": args.channel,
                                    "seconds": seconds}, indent=2))
    print(f"{args.channel} day features on {args.day} by wide joins: {seconds}; written to {args.out}")


if __name__ == "__main__":
    main()
