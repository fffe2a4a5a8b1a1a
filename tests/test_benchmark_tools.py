"""The benchmarks' measuring tools: which plan operators a profiled stage ran, and the process
tree's memory split by kind. Pure Python, no Spark."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.memory import PeakMemory
from benchmarks.profile_report import operator_line, pyspy_functions, stage_operators


def _plan(name: str, metrics: dict[str, int], children: list[dict] | None = None) -> dict:
    return {"nodeName": name.split(" ")[0], "simpleString": name, "children": children or [],
            "metrics": [{"name": n, "accumulatorId": i, "metricType": "sum"} for n, i in metrics.items()]}


def test_a_stage_is_named_by_the_plan_operators_whose_metrics_it_updated():
    adaptive = _plan("SortMergeJoin [house_awb], [house_awb], LeftOuter", {"number of output rows": 11},
                     [_plan("Sort [house_awb ASC]", {"sort time": 12, "spill size": 13}),
                      _plan("WholeStageCodegen (3)", {"duration": 14}),
                      _plan("Sort [house_awb ASC]", {"sort time": 15})])
    events = [
        {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", "executionId": 1,
         "sparkPlanInfo": _plan("Exchange hashpartitioning(house_awb, 4)", {"data size": 1},
                                [_plan("Scan parquet", {"number of output rows": 2})])},
        {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLAdaptiveExecutionUpdate", "executionId": 1,
         "sparkPlanInfo": adaptive},
        {"Event": "SparkListenerStageCompleted", "Stage Info": {"Stage ID": 5, "Accumulables": [
            {"ID": 2, "Name": "number of output rows", "Value": "1000"},
            {"ID": 1, "Name": "data size", "Value": "64000"},
            {"ID": 99, "Name": "internal.metrics.executorRunTime", "Value": "7"}]}},
        {"Event": "SparkListenerStageCompleted", "Stage Info": {"Stage ID": 6, "Accumulables": [
            {"ID": 11, "Name": "number of output rows", "Value": "1000"},
            {"ID": 12, "Name": "sort time", "Value": "250"}, {"ID": 13, "Name": "spill size", "Value": "0"},
            {"ID": 14, "Name": "duration", "Value": "900"}, {"ID": 15, "Name": "sort time", "Value": "100"}]}},
    ]
    operators = stage_operators(events)
    assert operators[5] == [{"operator": "Scan parquet", "rows": 1000},
                            {"operator": "Exchange hashpartitioning(house_awb, 4)", "shuffle_bytes": 64000}]
    # operators found in an adaptive re-plan; two of the same text stay two; codegen durations are left out
    assert operators[6] == [{"operator": "SortMergeJoin [house_awb], [house_awb], LeftOuter", "rows": 1000},
                            {"operator": "Sort [house_awb ASC]", "sort_ms": 250, "spill_bytes": 0},
                            {"operator": "Sort [house_awb ASC]", "sort_ms": 100}]
    assert operator_line(operators[6][1], width=20).split() == ["Sort", "[house_awb", "ASC]", "sort_ms=250"]


def test_pyspy_samples_count_per_function_whatever_the_line(tmp_path):
    samples = tmp_path / "pyspy.txt"
    samples.write_text("run (benchmarks/x.py:5);score_frame.<locals>.score (models/scoring.py:91) 3\n"
                       "run (benchmarks/x.py:5);score_frame.<locals>.score (models/scoring.py:93) 2\n"
                       "run (benchmarks/x.py:6);write_csv (jobs/publish.py:92) 1\n")
    driver = pyspy_functions(samples)["driver"]
    assert driver["samples"] == 6
    assert driver["project_functions"] == [("score_frame.<locals>.score (models/scoring.py)", 5),
                                           ("write_csv (jobs/publish.py)", 1)]


SHARING_CHILD = """
import os, time
shared = bytearray(os.urandom(1 << 20)) * 192  # 192 MB touched before the fork: shared with the forked copy
if os.fork() == 0:
    time.sleep(0.8)
    os._exit(0)
time.sleep(0.8)
os.wait()
"""


def test_peak_memory_names_each_child_and_counts_shared_pages_once():
    with PeakMemory(every=0.05) as memory:
        child = subprocess.Popen([sys.executable, "-c", SHARING_CHILD])
        child.wait()  # sampled every 0.05 s meanwhile
    figures = memory.figures()
    sharing = [gb for command, gb in figures["other_children_gb"].items() if "shared = bytearray" in command]
    assert sharing and max(sharing) >= 0.18  # the child is named by its command line, with its own RSS
    # the 192 MB the two processes share count twice in the RSS sum and once in the PSS sum
    assert memory.peak - memory.peak_pss >= 150 * 2**20
    assert figures["peak_memory_pss_gb_by_process"]["other"] < figures["peak_memory_gb_by_process"]["other"]
