"""Where the time of a profiled daily run goes: Spark's event log and py-spy's samples, per step.

    .venv/bin/python benchmarks/daily_run.py --records 1000000 --profile .bench/profile-1m ...
    .venv/bin/python benchmarks/profile_report.py .bench/profile-1m [--step gold__declarations_targets]

For each Dagster step of the run: its wall time, the time in which at least one Spark job ran
(the rest is the driver alone: Python, query planning, Delta's log, Dagster), the summed task time
and the jobs run. For the step asked for (default: the longest): its SQL executions and stages
ranked by time, and the Python functions py-spy found busy (driver and Python workers; samples
of the whole run, as py-spy's raw output has no timestamps). Writes `report.json` beside the
inputs.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

PROJECT_PACKAGES = ("jobs/", "features/", "models/", "expectations/", "orchestration/")
BENCHMARK_THREADS = ("PeakMemory.", "StepProgress.")
STAGE_METRICS = {"number of output rows": "rows", "sort time": "sort_ms", "time in aggregation build": "aggregate_ms",
                 "spill size": "spill_bytes", "data size": "shuffle_bytes"}  # plan metric -> short name


def read_events(folder: Path) -> list[dict]:
    """Every event of the (uncompressed, not rolled) Spark event log in `folder/events`."""
    logs = [p for p in (folder / "events").iterdir() if p.is_file() and not p.name.endswith(".inprogress")]
    logs = logs or list((folder / "events").iterdir())
    if len(logs) > 1:
        raise SystemExit(f"{folder / 'events'} holds {len(logs)} applications' logs: profile into an empty folder")
    with logs[0].open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def spark_activity(events: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """SQL executions, jobs and stages with start/end in epoch seconds and summed task seconds."""
    sql, jobs, stages = {}, {}, {}
    task_seconds: Counter = Counter()
    for e in events:
        kind = e["Event"]
        if kind.endswith("SQLExecutionStart"):
            sql[e["executionId"]] = {"id": e["executionId"], "description": e.get("description", ""),
                                     "start": e["time"] / 1000, "plan": e.get("physicalPlanDescription", "")}
        elif kind.endswith("SQLExecutionEnd") and e["executionId"] in sql:
            sql[e["executionId"]]["end"] = e["time"] / 1000
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            jobs[e["Job ID"]] = {"id": e["Job ID"], "start": e["Submission Time"] / 1000,
                                 "sql": props.get("spark.sql.execution.id"),
                                 "stages": [s["Stage ID"] for s in e.get("Stage Infos", [])]}
        elif kind == "SparkListenerJobEnd" and e["Job ID"] in jobs:
            jobs[e["Job ID"]]["end"] = e["Completion Time"] / 1000
        elif kind == "SparkListenerTaskEnd":
            metrics = e.get("Task Metrics") or {}
            task_seconds[e["Stage ID"]] += metrics.get("Executor Run Time", 0) / 1000
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            stages[info["Stage ID"]] = {"id": info["Stage ID"], "name": info["Stage Name"],
                                        "tasks": info["Number of Tasks"],
                                        "start": info.get("Submission Time", 0) / 1000,
                                        "end": info.get("Completion Time", 0) / 1000}
    for stage_id, stage in stages.items():
        stage["task_seconds"] = round(task_seconds[stage_id], 2)
    # a job also lists the stages it skipped (reused shuffle output): task time is counted per
    # stage, by the stage's own submission time, never per job
    return [s for s in sql.values() if "end" in s], [j for j in jobs.values() if "end" in j], list(stages.values())


def stage_operators(events: list[dict]) -> dict[int, list[dict]]:
    """Per stage, the SQL plan operators that ran in it, with their figures (rows out, sort and
    aggregation milliseconds, spill and shuffle bytes): a stage reports the values of the
    accumulators it updated, and each plan node names the accumulators of its metrics, in the
    plans of the executions' start and of every adaptive re-plan. Two operators of the same text
    stay two entries (a node is known by its metrics' accumulators)."""
    metric_owner: dict[int, tuple[int, str, str]] = {}  # accumulator -> (node, node text, metric)

    def walk(node: dict) -> None:
        ids = [metric["accumulatorId"] for metric in node.get("metrics", [])]
        for metric in node.get("metrics", []):
            metric_owner[metric["accumulatorId"]] = (min(ids), node["simpleString"], metric["name"])
        for child in node.get("children", []):
            walk(child)

    for e in events:
        if e["Event"].endswith(("SQLExecutionStart", "SQLAdaptiveExecutionUpdate")) and "sparkPlanInfo" in e:
            walk(e["sparkPlanInfo"])
    operators: dict[int, list[dict]] = {}
    for e in events:
        if e["Event"] != "SparkListenerStageCompleted":
            continue
        nodes: dict[int, dict] = {}
        for accumulable in e["Stage Info"].get("Accumulables", []):
            owner = metric_owner.get(accumulable["ID"])
            if owner and owner[2] in STAGE_METRICS:
                node = nodes.setdefault(owner[0], {"operator": owner[1]})
                node[STAGE_METRICS[owner[2]]] = int(accumulable.get("Value") or 0)
        operators[e["Stage Info"]["Stage ID"]] = list(nodes.values())
    return operators


def operator_line(operator: dict, width: int = 90) -> str:
    """One operator with its figures, e.g. `Sort [house_awb ASC], false, 0  rows=1,000,000 sort_ms=2,279`."""
    figures = " ".join(f"{k}={v:,}" for k, v in operator.items() if k != "operator" and v)
    return f"{operator['operator'][:width]:{width}}  {figures}"


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of the intervals."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def within(item: dict, window: tuple[float, float]) -> bool:
    return window[0] <= item["start"] < window[1]


def plan_operators(plan: str, top: int = 8) -> str:
    """The most frequent operators of a physical plan, as a short hint of what the query does."""
    names = Counter()
    tree = plan.split("== Physical Plan ==")[-1].strip("\n").split("\n\n")[0]  # the tree, not the node details
    for line in tree.splitlines():
        word = line.strip(" +-*:|()0123456789").split(" ")[0]
        if word and word[0].isupper():
            names[word] += 1
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in names.most_common(top))


def _function(frame: str) -> str:
    """A py-spy frame without its line: `score (models/scoring.py:93)` -> `score (models/scoring.py)`."""
    name, _, line = frame.rpartition(":")
    return f"{name})" if line.rstrip(")").isdigit() else frame


def pyspy_functions(path: Path, top: int = 25) -> dict:
    """py-spy's raw samples: per process kind, the project functions and the leaf functions with the
    most samples (a sample counts once per function on its stack, whatever the line)."""
    if not path.exists():
        return {}
    inclusive: dict[str, Counter] = defaultdict(Counter)
    leaf: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        # with --subprocesses a stack starts with the chain of processes down to the sampled one
        frames = stack.split(";")
        processes = [i for i, f in enumerate(frames) if f.startswith("process ")]
        kind = "driver" if len(processes) <= 1 else "python_workers"
        frames = frames[processes[-1] + 1 if processes else 0:]
        if not frames:
            continue
        if any(f.startswith(BENCHMARK_THREADS) for f in frames):
            continue  # the benchmark's own threads (memory sampling, progress), not the run
        samples = int(count)
        totals[kind] += samples
        leaf[kind][_function(frames[-1])] += samples
        for function in {_function(f) for f in frames if any(f"({package}" in f for package in PROJECT_PACKAGES)}:
            inclusive[kind][function] += samples
    return {kind: {"samples": totals[kind],
                   "project_functions": inclusive[kind].most_common(top),
                   "leaf_functions": leaf[kind].most_common(top)} for kind in totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--step", default=None, help="the step to break down (default: the longest)")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--operators", type=int, default=30, help="plan operators shown per stage")
    args = parser.parse_args()
    windows = {k: tuple(v) for k, v in json.loads((args.folder / "steps.json").read_text()).items()}
    events = read_events(args.folder)
    sql, jobs, stages = spark_activity(events)

    per_step = {}
    for key, window in sorted(windows.items(), key=lambda kv: kv[1][0]):
        step_jobs = [j for j in jobs if within(j, window)]
        spark_busy = busy_seconds([(j["start"], min(j["end"], window[1])) for j in step_jobs])
        per_step[key] = {"wall": round(window[1] - window[0], 1), "spark_busy": round(spark_busy, 1),
                         "driver_only": round(window[1] - window[0] - spark_busy, 1),
                         "task_seconds": round(sum(s["task_seconds"] for s in stages if within(s, window)), 1),
                         "jobs": len(step_jobs), "sql_executions": sum(within(s, window) for s in sql)}
    print(f"{'step':45} {'wall':>7} {'spark':>7} {'driver':>7} {'tasks':>8} {'jobs':>5}")
    for key, f in per_step.items():
        print(f"{key:45} {f['wall']:7.1f} {f['spark_busy']:7.1f} {f['driver_only']:7.1f} {f['task_seconds']:8.1f} "
              f"{f['jobs']:5d}")

    step = args.step or max(per_step, key=lambda k: per_step[k]["wall"])
    window = windows[step]
    top_sql = sorted((s for s in sql if within(s, window)), key=lambda s: s["end"] - s["start"], reverse=True)
    top_sql = top_sql[:args.top]
    top_stages = sorted((s for s in stages if within(s, window)), key=lambda s: -s["task_seconds"])[:args.top]
    print(f"\n{step}: the longest SQL executions")
    for s in top_sql:
        print(f"  {s['end'] - s['start']:6.1f}s  {s['description'][:70]:70}  {plan_operators(s['plan'])}")
    operators = stage_operators(events)
    print(f"\n{step}: the stages with the most task time, and the plan operators that ran in each")
    for s in top_stages:
        print(f"  {s['task_seconds']:6.1f}s in {s['tasks']:4d} tasks, {s['end'] - s['start']:6.1f}s wall  "
              f"stage {s['id']}: {s['name'][:70]}")
        for operator in operators.get(s["id"], [])[:args.operators]:
            print(f"      {operator_line(operator)}")
    functions = pyspy_functions(args.folder / "pyspy.txt")
    for kind, found in functions.items():
        print(f"\npy-spy, {kind}: {found['samples']} samples at 20/s = {found['samples'] / 20:.0f} busy thread-seconds "
              "(summed over threads and processes)")
        for frame, count in found["project_functions"][:args.top]:
            print(f"  {count / 20:7.1f}s  {frame[:110]}")
    report = {"steps": per_step, "step": step,
              "sql": [{"seconds": round(s["end"] - s["start"], 2), "description": s["description"],
                       "operators": plan_operators(s["plan"])} for s in top_sql],
              "stages": [{**{k: s[k] for k in ("id", "name", "tasks", "task_seconds")},
                          "operators": operators.get(s["id"], [])} for s in top_stages],
              "pyspy": functions}
    (args.folder / "report.json").write_text(json.dumps(report, indent=1))
    print(f"\nwritten {args.folder / 'report.json'}")


if __name__ == "__main__":
    main()
