"""The instances segcopy configures, opened for real: ``deploy/dagster.yaml`` (its run queue,
pools and retries as Dagster reads them) and ``segcopy run``'s own instance on PostgreSQL."""

import shutil

import dagster as dg
import pytest
import yaml

from segcopy_assets.instance import PG_URL_VAR, open_instance, use_home_instance


@pytest.fixture
def restored_environment(monkeypatch):
    """``use_home_instance`` sets DAGSTER_HOME and the URL variable in os.environ itself."""
    for name in ("DAGSTER_HOME", PG_URL_VAR):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_the_deploy_config_opens_as_a_queued_instance(
    storage, tmp_path, repo_root, pg_database, monkeypatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(repo_root / "deploy" / "dagster.yaml", home / "dagster.yaml")
    if storage == "sqlite":  # the same file with the storage swapped, where no server is
        config = yaml.safe_load((home / "dagster.yaml").read_text())
        config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))

    def check(instance: dg.DagsterInstance) -> None:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 6
        assert {
            "key": "dagster/backfill",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 2,
        } in concurrency.run_queue_config.tag_concurrency_limits
        assert concurrency.pool_config.default_pool_limit == 2
        assert concurrency.pool_config.pool_granularity.value == "run"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert instance.run_monitoring_enabled
        expected = "Postgres" if storage == "postgres" else "Sqlite"
        assert type(instance.run_storage).__name__ == f"{expected}RunStorage"
        assert instance.get_runs() == []  # its storage answers

    if storage == "postgres":
        with pg_database() as url:
            monkeypatch.setenv(PG_URL_VAR, url)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                check(instance)
    else:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            check(instance)


def test_segcopy_opens_its_postgres_instance_pooled(restored_environment, pg_database, monkeypatch):
    with pg_database() as url:
        monkeypatch.setenv(PG_URL_VAR, "postgresql://" + url.split("://", 1)[1])
        home_instance = use_home_instance()  # connects once: the server is there
        assert home_instance.storage == "postgres" and home_instance.managed

        @dg.asset
        def one() -> int:
            return 1

        with open_instance() as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert dg.materialize([one], instance=instance).success
            [run] = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.SUCCESS
