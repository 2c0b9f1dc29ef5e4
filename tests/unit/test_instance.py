"""The Dagster instance segcopy configures: SQLite by default, PostgreSQL while
SEGCOPY_DAGSTER_PG_URL is set, never the URL in a file or a message; and the shipped production
``deploy/dagster.yaml`` as Dagster's own config schema reads it."""

import os

import pytest
import yaml

from segcopy_assets import instance as inst
from segcopy_assets.instance import PG_URL_VAR, InstanceStorageError

SECRET = "pa55:w/rd@x"  # characters a URL must escape
URL = "postgresql://segcopy:pa55%3Aw%2Frd%40x@db.example.com:5432/dagster"


@pytest.fixture(autouse=True)
def restored_environment(monkeypatch):
    """``use_home_instance`` sets DAGSTER_HOME (and rewrites the URL variable) in os.environ
    itself, as it must for the commands: undo that after each test."""
    for name in ("DAGSTER_HOME", PG_URL_VAR):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def home(tmp_path):
    """segcopy's instance directory for $SEGCOPY_HOME (set by ``isolated_env``)."""
    return tmp_path / "home" / "dagster"


def config_of(home) -> dict:
    return yaml.safe_load((home / "dagster.yaml").read_text()) or {}


def test_sqlite_by_default(home):
    result = inst.use_home_instance()
    assert result.home == home and result.storage == "sqlite" and result.managed
    assert os.environ["DAGSTER_HOME"] == str(home)
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(inst.MANAGED_HEADER)
    assert config_of(home) == {}  # Dagster's default: SQLite in DAGSTER_HOME


def test_postgres_while_the_variable_is_set_and_back_again(home, monkeypatch):
    inst.use_home_instance()
    monkeypatch.setenv(PG_URL_VAR, URL)
    result = inst.use_home_instance(check=False)
    assert result.storage == "postgres" and result.notice is None
    assert config_of(home) == {"storage": {"postgres": {"postgres_url": {"env": PG_URL_VAR}}}}
    text = (home / "dagster.yaml").read_text()
    assert "db.example.com" not in text and "pa55" not in text
    # this process (and what it starts) gets the URL with the psycopg2 driver named
    assert os.environ[PG_URL_VAR] == URL.replace("postgresql://", "postgresql+psycopg2://")

    monkeypatch.delenv(PG_URL_VAR)
    assert inst.use_home_instance().storage == "sqlite"
    assert config_of(home) == {}
    monkeypatch.setenv(PG_URL_VAR, URL)
    inst.use_home_instance(check=False)
    assert "postgres" in config_of(home)["storage"]


def test_an_empty_dagster_yaml_from_older_segcopy_is_still_segcopys(home, monkeypatch):
    home.mkdir(parents=True)
    (home / "dagster.yaml").touch()
    monkeypatch.setenv(PG_URL_VAR, URL)
    assert inst.use_home_instance(check=False).managed
    assert "postgres" in config_of(home)["storage"]


def test_a_users_own_dagster_yaml_is_never_touched(tmp_path, monkeypatch):
    own_home = tmp_path / "prod"
    own_home.mkdir()
    own = "run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n"
    (own_home / "dagster.yaml").write_text(own)
    monkeypatch.setenv("DAGSTER_HOME", str(own_home))
    result = inst.use_home_instance()
    assert not result.managed and result.notice is None
    assert (own_home / "dagster.yaml").read_text() == own

    monkeypatch.setenv(PG_URL_VAR, URL)
    result = inst.use_home_instance()  # not checked: the file does not use the variable
    assert (own_home / "dagster.yaml").read_text() == own
    assert PG_URL_VAR in result.notice and "your own" in result.notice
    assert "example.com" not in result.notice and "pa55" not in result.notice


def test_a_users_own_file_that_uses_the_variable_is_checked(tmp_path, monkeypatch):
    own_home = tmp_path / "prod"
    own_home.mkdir()
    own = f"storage:\n  postgres:\n    postgres_url:\n      env: {PG_URL_VAR}\n"
    (own_home / "dagster.yaml").write_text(own)
    monkeypatch.setenv("DAGSTER_HOME", str(own_home))
    monkeypatch.setenv(PG_URL_VAR, URL)
    checked = []
    monkeypatch.setattr(inst, "check_postgres", checked.append)
    result = inst.use_home_instance()
    assert result.notice is None and checked == [URL]
    assert (own_home / "dagster.yaml").read_text() == own


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://u:p@h/d", "postgresql+psycopg2://u:p@h/d"),
        ("postgres://u:p@h:5433/d", "postgresql+psycopg2://u:p@h:5433/d"),
        ("postgresql+psycopg2://u:p@h/d", "postgresql+psycopg2://u:p@h/d"),
    ],
)
def test_the_driver_is_named(url, expected):
    assert inst.driver_url(url) == expected


@pytest.mark.parametrize(
    "url, message",
    [
        (f"postgresql+psycopg://segcopy:{SECRET}@h/d", "scheme 'postgresql+psycopg' is not"),
        (f"mysql://segcopy:{SECRET}@h/d", "scheme 'mysql' is not supported"),
        (f"segcopy:{SECRET}@h/d", "is not a URL"),
    ],
)
def test_an_unusable_url_is_refused_without_its_value(url, message):
    with pytest.raises(InstanceStorageError) as caught:
        inst.driver_url(url)
    assert message in str(caught.value) and PG_URL_VAR in str(caught.value)
    assert SECRET not in str(caught.value) and "pa55" not in str(caught.value)


def test_an_unreachable_server_is_one_error_naming_the_variable_not_the_url(free_port):
    url = f"postgresql://segcopy:pa55%3Aw%2Frd%40x@127.0.0.1:{free_port()}/dagster"
    with pytest.raises(InstanceStorageError) as caught:
        inst.check_postgres(url, timeout_s=2)
    message = str(caught.value)
    assert f"PostgreSQL ({PG_URL_VAR}) cannot be reached" in message
    assert "Connection refused" in message and f"unset {PG_URL_VAR}" in message
    assert "pa55" not in message and SECRET not in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_scrub_removes_the_url_and_the_password_in_every_spelling():
    text = f"failed for {URL} with password {SECRET} (raw pa55%3Aw%2Frd%40x)"
    scrubbed = inst.scrub(text, URL)
    assert "pa55" not in scrubbed and "db.example.com" not in scrubbed
    assert scrubbed.count("***") == 3


# ---- the production example -----------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy_config(repo_root):
    """``deploy/dagster.yaml`` loaded and validated by Dagster's own instance-config loader."""
    from segcopy_assets.dagster_compat import dagster_instance_config

    config, custom_instance_class = dagster_instance_config(str(repo_root / "deploy"))
    assert custom_instance_class is None
    return config


def test_deploy_config_is_valid_dagster_instance_config(deploy_config):
    assert deploy_config["storage"] == {"postgres": {"postgres_url": {"env": PG_URL_VAR}}}
    import importlib

    import dagster as dg

    coordinator = deploy_config["run_coordinator"]
    module = importlib.import_module(coordinator["module"])
    assert getattr(module, coordinator["class"]) is dg.QueuedRunCoordinator


def test_deploy_config_limits_concurrent_runs_and_variant_runs(deploy_config):
    runs = deploy_config["concurrency"]["runs"]
    assert 1 <= runs["max_concurrent_runs"] <= 10
    assert {"key": "dagster/backfill", "value": {"applyLimitPerUniqueValue": True}, "limit": 2} in (
        runs["tag_concurrency_limits"]
    )
    pools = deploy_config["concurrency"]["pools"]
    assert pools["granularity"] == "run"
    assert 1 <= pools["default_limit"] < runs["max_concurrent_runs"]


def test_deploy_config_retries_only_crashed_runs(deploy_config):
    assert deploy_config["run_retries"] == {
        "enabled": True,
        "max_retries": 1,
        "retry_on_asset_or_op_failure": False,
    }
    assert deploy_config["run_monitoring"]["enabled"] is True


def test_dagster_rejects_what_the_deploy_config_must_not_say(tmp_path, repo_root):
    """The validation above is real: the same loader refuses a broken variant of the file."""
    from dagster import DagsterInvalidConfigError

    from segcopy_assets.dagster_compat import dagster_instance_config

    broken = yaml.safe_load((repo_root / "deploy" / "dagster.yaml").read_text())
    broken["concurrency"]["pools"]["granularity"] = "segment"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DagsterInvalidConfigError, match="granularity"):
        dagster_instance_config(str(tmp_path))
    broken = yaml.safe_load((repo_root / "deploy" / "dagster.yaml").read_text())
    broken["storage"]["postgres"]["postgres_url"] = {"environment": PG_URL_VAR}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


def test_deploy_config_holds_no_url(repo_root):
    text = (repo_root / "deploy" / "dagster.yaml").read_text()
    assert "postgresql://" not in "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )
