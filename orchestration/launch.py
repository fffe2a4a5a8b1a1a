"""Run a job in this process the way the Dagster UI records it: under the workspace's code location.

`JobDefinition.execute_in_process` stores a run without a repository origin, so the UI lists it in
Runs but not under Jobs > <job> > Runs nor on the Overview timeline (both look runs up by the
code location `workspace.yaml` loads). This module creates the run with that origin and executes
it here, on the process's one SparkSession, with the job's in-process executor.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from dagster._core.execution.api import execute_run
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.workspace.load import location_origins_from_yaml_paths
from dagster._utils.hosted_user_process import recon_job_from_origin

from jobs.settings import PROJECT_ROOT

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
REPOSITORY_NAME = "__repository__"  # what Dagster calls the repository of a `Definitions` object


def code_location_origin() -> InProcessCodeLocationOrigin:
    """`workspace.yaml`'s code location (the one the UI and the daemon load), loaded in this
    process under the same name."""
    (origin,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    return InProcessCodeLocationOrigin(origin.loadable_target_origin, location_name=origin.location_name)


def partition_tags(job: dg.JobDefinition, days: list[str]) -> dict[str, str]:
    """Tags selecting one partition, or a range of them as one single-run backfill."""
    if len(days) == 1:
        return dict(job.get_tags_for_partition_key(days[0], selected_asset_keys=None))
    return {ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]}


def execute_job_in_workspace(instance: dg.DagsterInstance, job_name: str, *, tags: Mapping[str, str] | None = None,
                             run_config: Mapping | None = None) -> ExecutionResult:
    """Create a run of `job_name` recorded under the workspace's code location (as a UI launch
    would be), then execute it in this process. Returns the run's result; never raises on a
    failed step (the result says what failed)."""
    run_config = dict(run_config or {})
    with code_location_origin().create_location(instance) as location:
        repository = location.get_repository(REPOSITORY_NAME)
        remote_job = repository.get_full_job(job_name)
        plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                           instance=instance).execution_plan_snapshot
        run = instance.create_run(
            job_name=job_name, run_id=None, run_config=run_config,
            resolved_op_selection=None, step_keys_to_execute=plan.step_keys_to_execute, op_selection=None,
            status=None, root_run_id=None, parent_run_id=None,
            tags={**remote_job.tags, **(tags or {})},
            job_snapshot=remote_job.job_snapshot, execution_plan_snapshot=plan,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
            asset_selection=None, asset_check_selection=None, asset_graph=repository.asset_graph,
        )
        job = recon_job_from_origin(remote_job.get_python_origin())
    return execute_run(job, run, instance, raise_on_error=False)
