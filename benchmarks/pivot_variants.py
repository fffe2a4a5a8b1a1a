"""Ways to regroup the long-form profile rows back to one row per record, timed on the day features
of a lake a `daily_run.py --workdir DIR` run kept (the biggest stage of the 1M day's profile).

    .venv/bin/python benchmarks/pivot_variants.py --workdir .bench/run-1m-h30 --day 2024-01-31

Each variant replaces `features.profiles.pivot_profiles` and writes the declarations' day features
(`models.daily.day_features`) to Spark's noop sink; the day features regroup only the entity types
beyond the `WIDE_JOINS` smallest (`profile_features_from_state`), and every variant joins its rows to
the records the wide types were joined to. An untimed pass of the current code runs first, so every
timed variant finds a warm JVM. Variants: `current` (sorted `collect_list`, then a join to the
records), `arrow_reshape` (sort by record and position, numpy reshape in `mapInArrow`, then the
join), `pivot_first` (Spark's `pivot`), `shuffle_first` (the current code after a shuffle by
record). `--check` compares each variant's first 2,000 records with the current code's; `--repeat
N` times each variant N times, in turn. Prints the wall and task seconds (from
Spark's event log) of every run and writes JSON to benchmarks/results/pivot_variants.json."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.kept_lake import add_kept_lake_arguments, use_kept_lake  # noqa: E402
from benchmarks.profile_report import read_events, spark_activity  # noqa: E402
from benchmarks.profiling import record_event_log  # noqa: E402


def variants() -> dict:
    """name -> a function with `pivot_profiles`' signature."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    import features.profiles as profiles

    current = profiles.pivot_profiles
    stats = profiles.PROFILE_STATS

    def arrow_reshape(records, long, entities, record_id):
        names, width = list(entities), len(entities)
        columns = [f"{name}_{stat}" for name in names for stat in stats]
        schema = T.StructType([T.StructField(record_id, T.StringType()),
                               *[T.StructField(c, T.DoubleType()) for c in columns]])
        arrow_schema = pa.schema([pa.field(record_id, pa.string()), *[pa.field(c, pa.float64()) for c in columns]])

        def reshape(batches):
            carry = None
            for batch in batches:  # a record's rows are contiguous; a batch may end inside one
                table = pa.Table.from_batches([batch])
                table = table if carry is None else pa.concat_tables([carry, table])
                n = table.num_rows // width * width
                carry = table.slice(n)
                if not n:
                    continue
                part = table.slice(0, n).combine_chunks()
                if not (part.column("_i").to_numpy().reshape(-1, width) == np.arange(width)).all():
                    raise ValueError("profile rows out of order")
                values = {s: part.column(s).to_numpy(zero_copy_only=False).astype("float64").reshape(-1, width)
                          for s in stats}
                arrays = [part.column(record_id).combine_chunks().take(pa.array(np.arange(0, n, width)))]
                arrays += [pa.array(values[s][:, i], from_pandas=True) for i in range(width) for s in stats]
                yield pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)
            if carry is not None and carry.num_rows:
                raise ValueError("a record without all its profile rows")

        rows = long.select(record_id, "_i", *[F.col(s).cast("double").alias(s) for s in stats])
        wide = rows.repartition(record_id).sortWithinPartitions(record_id, "_i").mapInArrow(reshape, schema)
        return records.join(wide, record_id, "left")

    def pivot_first(records, long, entities, record_id):
        names = list(entities)
        wide = (long.groupBy(record_id).pivot("_i", list(range(len(names))))
                .agg(*[F.first(stat).alias(stat) for stat in stats]))
        wide = wide.select(record_id, *[F.col(f"{i}_{stat}").alias(f"{name}_{stat}")
                                        for i, name in enumerate(names) for stat in stats])
        return records.join(wide, record_id, "left")

    def shuffle_first(records, long, entities, record_id):
        # The rows of a record brought together first: the aggregation's partial step then groups
        # whole records (one sort if it falls back) instead of building lists on the join's side.
        return current(records, long.repartition(record_id), entities, record_id)

    return {"current": current, "arrow_reshape": arrow_reshape, "pivot_first": pivot_first,
            "shuffle_first": shuffle_first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_kept_lake_arguments(parser)
    parser.add_argument("--variants", default="current,arrow_reshape")
    parser.add_argument("--check", action="store_true", help="compare 2,000 records of each with the current code")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each variant, in turn")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pivot_variants.json")
    args = parser.parse_args()
    work = use_kept_lake(args.workdir)
    # Spark's event log, so each run is also measured in task seconds (steadier than wall seconds).
    events = Path(tempfile.mkdtemp(prefix="pivot-variants-"))
    record_event_log(events)

    import pandas as pd

    import features.profiles as profiles
    from jobs.settings import Settings
    from models.channels import SELECTORS
    from models.daily import day_features
    from orchestration.resources import SparkResource

    spark, settings, selector = SparkResource().session(), Settings.from_env(), SELECTORS["declarations"]
    chosen = variants()
    reference, windows = None, []
    runs = ["current (warm-up)", *[name for _ in range(args.repeat) for name in args.variants.split(",")]]
    for i, name in enumerate(runs):
        profiles.pivot_profiles = chosen[name.split()[0]]
        began = time.time()  # epoch seconds: the event log's clock
        frame = day_features(spark, settings, selector, args.day).frame
        frame.write.format("noop").mode("overwrite").save()
        windows.append((name, (began, time.time())))
        print(f"[{i}/{len(runs) - 1}] {name}: {windows[-1][1][1] - began:.1f} s", flush=True)
        if args.check:  # the warm-up's rows (the current code's) are the reference
            rows = frame.orderBy(selector.record_id).limit(2000).toPandas()
            reference = rows if reference is None else reference
            pd.testing.assert_frame_equal(reference[rows.columns], rows, check_dtype=False)
    spark.stop()  # the event log is complete once the application ends
    _, _, stages = spark_activity(read_events(events))
    shutil.rmtree(events)
    results: dict[str, dict[str, list[float]]] = {}
    for name, window in windows:
        tasks = sum(s["task_seconds"] for s in stages if window[0] <= s["start"] < window[1])
        figures = results.setdefault(name, {"seconds": [], "task_seconds": []})
        figures["seconds"].append(round(window[1] - window[0], 1))
        figures["task_seconds"].append(round(tasks, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"workdir": str(work), "day": args.day.isoformat(), "runs": results}, indent=2))
    for name, figures in results.items():
        print(f"{name}: {figures['seconds']} s, task seconds {figures['task_seconds']}")
    print(f"pivot variants on {args.day}, {args.repeat} run(s) each; written to {args.out}")


if __name__ == "__main__":
    main()
