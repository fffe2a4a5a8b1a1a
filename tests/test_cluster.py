"""The same day on a Spark standalone cluster and in local mode gives identical tables.

Needs the cluster of `make cluster-up` (`make test-cluster` starts it, runs these tests and stops
it). The history (silver, labels, trained champions) is built once in this process; the day is then
landed from files and run by the real `customs-risk run` twice, in two copies of that lake: once
with `local[2]`, once with `spark://127.0.0.1:7077` (Delta jars and the project's code shipped
to the executors)."""

from __future__ import annotations

import os
import shutil
import urllib.request

import pandas as pd
import pytest

from tests.lake_compare import DAY, DAY_TABLES, build_history, customs_risk, failure, published_lists, read_table

pytestmark = pytest.mark.cluster

MASTER = os.environ.get("CUSTOMS_TEST_SPARK_MASTER", "spark://127.0.0.1:7077")
MASTER_UI = os.environ.get("CUSTOMS_TEST_SPARK_MASTER_UI", "http://127.0.0.1:8080/json/")


def _cluster_is_up() -> bool:
    try:
        with urllib.request.urlopen(MASTER_UI, timeout=3) as response:
            return b'"ALIVE"' in response.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """History and champions built once; the day run locally and on the cluster in two copies."""
    if not _cluster_is_up():
        pytest.fail(f"no Spark standalone cluster at {MASTER_UI}: run `make test-cluster` (it starts one)")
    root = tmp_path_factory.mktemp("cluster")
    mlflow_uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
        build_history(spark, root / "base")
    results = {}
    for name, master in (("local", "local[2]"), ("cluster", MASTER)):
        home = root / name
        shutil.copytree(root / "base", home)
        results[name] = (home, customs_risk(["run", "--date", DAY.isoformat()], CUSTOMS_HOME=str(home),
                                            MLFLOW_TRACKING_URI=mlflow_uri, CUSTOMS_SPARK_MASTER=master))
    return results


def test_the_day_ran_on_the_cluster(runs):
    for name, (_, done) in runs.items():
        assert done.returncode == 0, failure(name, done)
    assert "1 day(s), 0 failed" in runs["cluster"][1].stdout


@pytest.mark.parametrize(("layer", "table"), DAY_TABLES, ids=["/".join(t) for t in DAY_TABLES])
def test_cluster_tables_equal_local_mode(spark, runs, layer, table):
    local, cluster = (read_table(spark, runs[name][0] / "lake", layer, table) for name in ("local", "cluster"))
    assert len(local) > 0
    pd.testing.assert_frame_equal(local, cluster)


def test_cluster_target_lists_equal_local_mode(runs):
    local, cluster = (published_lists(runs[name][0]) for name in ("local", "cluster"))
    assert all(body.count(b"\n") > 1 for body in local.values())
    assert local == cluster
