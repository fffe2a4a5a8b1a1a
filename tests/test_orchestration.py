"""Dagster: definitions load, a daily run materializes and checks, the sensor and the CLI."""

from __future__ import annotations

import os

import dagster as dg

from orchestration import cli
from orchestration.automation import build_landing_sensor, is_partition_day, landing_snapshot
from orchestration.definitions import daily_pipeline, defs
from tests.conftest import DAY, declaration_line, write_landing

EXPECTED_KEYS = {"bronze/declarations_bronze", "silver/declarations_silver", "quarantine/declarations_quarantine"}
ALL_SOURCES = ["declarations", "express", "mail", "platform_orders", "pccc_registry", "inspection_results",
               "watch_lists", "monitored_items"]


def test_definitions_load_with_assets_checks_schedule_and_sensor():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    layers = ("bronze", "silver", "quarantine")
    assert {f"{layer}/{source}_{layer}" for layer in layers for source in ALL_SOURCES} <= keys
    # The graph shows a key's last part: every one is readable and unique on its own.
    last_parts = [k.path[-1] for k in defs.resolve_asset_graph().get_all_asset_keys()]
    assert len(last_parts) == len(set(last_parts))
    assert defs.resolve_job_def("daily_pipeline").name == "daily_pipeline"
    assert defs.resolve_schedule_def("daily_pipeline_schedule").cron_schedule == "0 6 * * *"
    assert defs.resolve_sensor_def("landing_file_sensor")
    for channel in ("declarations", "express", "mail"):
        assert f"models/{channel}_selector" in keys and f"features/{channel}_features" in keys
    assert defs.resolve_schedule_def("weekly_training_schedule").cron_schedule == "0 5 * * 1"
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"quarantine_share_below_threshold", "rows_reconcile"} <= checks


DECLARATION_ASSETS = [dg.AssetKey.from_user_string(k) for k in sorted(EXPECTED_KEYS)]


def _run_day(instance):
    job = defs.resolve_job_def("daily_pipeline")
    return job.execute_in_process(partition_key=DAY.isoformat(), instance=instance, raise_on_error=False,
                                  asset_selection=DECLARATION_ASSETS)


def test_daily_run_materializes_and_reports_checks(spark, settings, tmp_path):
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2"), "bad"])
    with dg.instance_for_test() as instance:
        result = _run_day(instance)
        # 1 of 3 rows quarantined is above the default 5% threshold: the blocking check fails the
        # run, so nothing downstream of silver runs on this day.
        assert not result.success
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["rows_reconcile"].passed
        gate = checks["quarantine_share_below_threshold"]
        assert not gate.passed and gate.metadata["failed_rows"].value == 1
        assert gate.metadata["held_days"].value == [DAY.isoformat()]
        assert gate.metadata["by_day"].value[DAY.isoformat()]["rows_read"] == 3
        assert "1 of 3 rows quarantined" in gate.description
        mats = {e.event_specific_data.materialization.asset_key.to_user_string(): e
                for e in result.get_asset_materialization_events()}
        # Write-audit-publish: the held day's quarantine is written, silver is not (no materialization).
        assert EXPECTED_KEYS - set(mats) == {"silver/declarations_silver"}
        meta = mats["quarantine/declarations_quarantine"].event_specific_data.materialization.metadata
        assert meta["rows"].value == 1 and meta["by_day"].value[DAY.isoformat()]["valid_rows"] == 2


def test_threshold_is_configurable(spark, settings, monkeypatch):
    monkeypatch.setenv("CUSTOMS_MAX_QUARANTINE_SHARE", "0.5")
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2"), "bad"])
    with dg.instance_for_test() as instance:
        result = _run_day(instance)
        assert result.success
        gate = [c for c in result.get_asset_check_evaluations()
                if c.check_name == "quarantine_share_below_threshold"][0]
        assert gate.passed


def _tick(sensor, instance, cursor=None):
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    ranges = [(r.tags["customs/source"], r.tags["dagster/asset_partition_range_start"],
               r.tags["dagster/asset_partition_range_end"]) for r in result.run_requests]
    return ranges, result.cursor


def test_sensor_coalesces_new_days_into_range_runs_and_keeps_a_cursor(settings, monkeypatch):
    import datetime as dt

    monkeypatch.setattr("orchestration.automation.MIN_FILE_AGE_SECONDS", 0)
    for offset in (0, 1, 2, 5):
        day = DAY + dt.timedelta(days=offset)
        write_landing(settings.landing_dir, "a.csv", [declaration_line("1", day=day)], day=day)
    (settings.landing_dir / "declarations" / "not-a-day").mkdir()
    (settings.landing_dir / "declarations" / "not-a-day" / "x.csv").write_text("x")
    sensor = build_landing_sensor(daily_pipeline)
    with dg.instance_for_test() as instance:
        first, cursor = _tick(sensor, instance)
        fifth = (DAY + dt.timedelta(days=5)).isoformat()
        assert first == [("declarations", DAY.isoformat(), (DAY + dt.timedelta(days=2)).isoformat()),
                         ("declarations", fifth, fifth)]
        assert _tick(sensor, instance, cursor)[0] == []  # nothing new since the last tick
        write_landing(settings.landing_dir, "b.csv", [declaration_line("2")])
        assert _tick(sensor, instance, cursor)[0] == [("declarations", DAY.isoformat(), DAY.isoformat())]


def test_sensor_switched_on_over_landed_history_skips_days_already_in_bronze(spark, settings, monkeypatch):
    monkeypatch.setattr("orchestration.automation.MIN_FILE_AGE_SECONDS", 0)
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1")])
    sensor = build_landing_sensor(daily_pipeline)
    with dg.instance_for_test() as instance:
        assert _run_day(instance).success is not None  # bronze of DAY now holds a.csv
        assert _tick(sensor, instance)[0] == []
        write_landing(settings.landing_dir, "a.csv", [declaration_line("1"), declaration_line("2")])
        assert _tick(sensor, instance)[0] == [("declarations", DAY.isoformat(), DAY.isoformat())]


def test_sensor_waits_for_files_still_being_written(settings):
    path = write_landing(settings.landing_dir, "a.csv", [declaration_line("1")])
    now = os.stat(path).st_mtime
    assert landing_snapshot(settings.landing_dir, 30, now=now + 5) == {}
    assert landing_snapshot(settings.landing_dir, 30, now=now + 60)


def test_partition_day_names():
    assert is_partition_day("2020-03-02", "2020-01-01")
    assert not is_partition_day("2019-12-31", "2020-01-01")
    assert not is_partition_day("latest", "2020-01-01")


def test_cli_run_date_range(spark, settings, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    write_landing(settings.landing_dir, "a.csv", [declaration_line("1")])
    nxt = DAY.replace(day=DAY.day + 1)
    write_landing(settings.landing_dir, "b.csv", [declaration_line("2", day=nxt)], day=nxt)
    code = cli.main(["run", "--ingest-only", "--from", DAY.isoformat(), "--to", nxt.isoformat()])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 day(s), 0 failed run(s)" in out and "read 2, valid 2" in out
    assert settings.table_path("silver", "declarations").is_dir()
    assert_listed_under_its_job_in_the_ui("ingestion")


def assert_listed_under_its_job_in_the_ui(job_name: str) -> None:
    """Jobs > <job> > Runs and the Overview timeline find runs through the workspace's code
    location: the repository label tag and the run's remote origin (what a UI launch records)."""
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    from orchestration.launch import code_location_origin

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=job_name))
        assert runs
        label = f"__repository__@{code_location_origin().location_name}"
        assert instance.get_runs(dg.RunsFilter(job_name=job_name, tags={REPOSITORY_LABEL_TAG: label})) == runs
        for run in runs:
            assert run.remote_job_origin.location_name == "orchestration.definitions:defs"  # as the UI names it
            assert run.tags["dagster/asset_partition_range_start"] == DAY.isoformat()


def test_the_morning_schedule_runs_yesterday():
    import datetime as dt
    from zoneinfo import ZoneInfo

    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    at = dt.datetime(2024, 3, 5, 6, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                            repository_def=defs.get_repository_def())
        data = schedule.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2024-03-04"]


def test_every_writing_step_has_a_pool_and_the_instance_limits_them(tmp_path, monkeypatch):
    from pathlib import Path

    graph = defs.resolve_asset_graph()
    pools = {graph.get(key).assets_def.node_def.pool for key in graph.get_all_asset_keys()
             if graph.get(key).assets_def.is_executable}
    assert None not in pools and {"lake_declarations", "lake_inspection_results", "targets_express"} <= pools
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    cli._ensure_dagster_home()
    assert (tmp_path / "dagster.yaml").read_text() == (Path(cli.__file__).with_name("dagster.yaml")).read_text()
    existing = tmp_path / "other" / "dagster.yaml"  # a user's own instance settings are kept
    existing.parent.mkdir()
    existing.write_text("run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n")
    cli.ensure_instance_config(existing)
    assert "QueuedRunCoordinator" in existing.read_text() and "default_limit: 1" in existing.read_text()
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config.tag_concurrency_limits[0]["key"] == "dagster/partition"


def test_range_run_gives_each_partition_its_own_figures_and_flags_missing_deliveries(spark, settings):
    import datetime as dt

    second, third = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    write_landing(settings.landing_dir, "a.csv", [declaration_line(str(i)) for i in range(20)])
    write_landing(settings.landing_dir, "b.csv", [declaration_line("x", day=third), "bad"], day=third)
    job = defs.resolve_job_def("ingestion")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=DECLARATION_ASSETS,
            tags={"dagster/asset_partition_range_start": DAY.isoformat(),
                  "dagster/asset_partition_range_end": third.isoformat()})
        assert not result.success and cli.held_by_gate_only(result)  # the third day is held back
        mats = {(e.event_specific_data.materialization.asset_key.to_user_string(), e.partition):
                e.event_specific_data.materialization.metadata for e in result.get_asset_materialization_events()}
        assert mats[("silver/declarations_silver", DAY.isoformat())]["rows_read"].value == 20
        assert mats[("silver/declarations_silver", second.isoformat())]["rows_read"].value == 0
        # The held day is not reported materialized; its quarantine is, with its own count.
        assert ("silver/declarations_silver", third.isoformat()) not in mats
        assert mats[("quarantine/declarations_quarantine", third.isoformat())]["rows"].value == 1
        assert mats[("bronze/declarations_bronze", second.isoformat())]["delivery"].value == "no files"
        assert mats[("bronze/declarations_bronze", DAY.isoformat())]["dagster/row_count"].value == 20
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert checks["quarantine_share_below_threshold"].metadata["held_days"].value == [third.isoformat()]
        delivery = checks["expected_delivery"]
        assert not delivery.passed and delivery.severity == dg.AssetCheckSeverity.WARN
        assert delivery.metadata["days_without_files"].value == [second.isoformat()]


def test_one_root_places_every_piece_of_state(tmp_path, monkeypatch):
    from jobs.settings import Settings, default_dagster_home, default_tracking_uri

    for var in ("CUSTOMS_LANDING_DIR", "CUSTOMS_LAKE_DIR", "CUSTOMS_PUBLISH_DIR", "CUSTOMS_GX_DIR",
                "CUSTOMS_GROUND_TRUTH_DIR", "DAGSTER_HOME", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CUSTOMS_HOME", str(tmp_path / "env2"))
    s = Settings.from_env()
    root = tmp_path / "env2"
    assert (s.landing_dir, s.lake_dir, s.publish_dir, s.gx_dir, s.truth_dir) == (
        root / "landing", root / "lake", root / "publish", root / "gx", root / "ground_truth")
    assert default_dagster_home() == root / "dagster_home"
    assert default_tracking_uri() == f"sqlite:///{root / 'mlflow.db'}"
    monkeypatch.setenv("CUSTOMS_LAKE_DIR", "s3a://bucket/lake")  # one location can still be moved alone
    assert Settings.from_env().lake_dir == "s3a://bucket/lake"


def test_table_assets_describe_their_delta_columns(spark, tmp_path):
    from orchestration.table_metadata import delta_table_metadata

    path = tmp_path / "t"
    spark.createDataFrame([("a", 1.5)], "record_key string, fraud_score double").write.format("delta").save(str(path))
    schema = delta_table_metadata(spark, path)["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [("record_key", "string"), ("fraud_score", "double")]
    assert delta_table_metadata(spark, tmp_path / "missing") == {}
