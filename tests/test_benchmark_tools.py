"""The benchmarks' measuring tools: which plan operators a profiled stage ran, and the process
tree's memory split by kind. Pure Python, no Spark."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.memory import PeakMemory
from benchmarks.profile_report import operator_line, stage_operators


def _plan(name: str, metrics: dict[str, int], children: list[dict] | None = None) -> dict:
    return {"nodeName": name.split(" ")[0], "simpleString": name, "children": children or [],
            "metrics": [{"name": n, "accumulatorId": i, "metricType": "sum"} for n, i in metrics.items()]}


def test_a_stage_is_named_by_the_plan_operators_whose_metrics_it_updated():
    adaptive = _plan("SortMergeJoin [house_awb], [house_awb], LeftOuter", {"number of output rows": 11},
                     [_plan("Sort [house_awb ASC]", {"sort time": 12, "spill size": 13}),
                      _plan("WholeStageCodegen (3)", {"duration": 14})])
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
            {"ID": 14, "Name": "duration", "Value": "900"}]}},
    ]
    operators = stage_operators(events)
    assert operators[5] == [{"operator": "Scan parquet", "rows": 1000},
                            {"operator": "Exchange hashpartitioning(house_awb, 4)", "shuffle_bytes": 64000}]
    # operators found in an adaptive re-plan; whole-stage codegen wrappers are left out
    assert operators[6] == [{"operator": "SortMergeJoin [house_awb], [house_awb], LeftOuter", "rows": 1000},
                            {"operator": "Sort [house_awb ASC]", "sort_ms": 250, "spill_bytes": 0}]
    assert operator_line(operators[6][1], width=20).split() == ["Sort", "[house_awb", "ASC]", "sort_ms=250"]


def test_peak_memory_names_each_child_and_counts_shared_pages_once():
    with PeakMemory(every=0.05) as memory:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
        time.sleep(0.5)
        child.wait()
    figures = memory.figures()
    assert figures["peak_memory_gb_by_process"].keys() >= {"driver_python", "other"}
    assert any("time.sleep" in command for command in figures["other_children_gb"])
    assert figures["python_workers_at_most"] == 0  # no Spark here
    assert 0 < memory.peak_pss <= memory.peak  # a shared page counts once in PSS, once per process in RSS
