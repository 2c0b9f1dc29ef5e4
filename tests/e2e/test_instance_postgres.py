"""`segcopy run` on a PostgreSQL Dagster instance (SEGCOPY_DAGSTER_PG_URL), as a user runs it:
the runs land in Postgres, and the URL's password shows nowhere (output, files under
$SEGCOPY_HOME); an unreachable server is one clear error naming the variable."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from segcopy_assets.instance import PG_URL_VAR, storage_config


def files_containing(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    secret = needle.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


@pytest.fixture
def segcopy(segcopy_exe, segcopy_env, repo_root):
    """``segcopy(*args, home=..., **env)`` → the finished ``segcopy`` process."""

    def run(*args, home, timeout=300, **env):
        return subprocess.run(
            [segcopy_exe, *args],
            cwd=repo_root,
            env=segcopy_env(home, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.mark.slow
def test_segcopy_run_records_its_runs_in_postgres_and_never_shows_the_password(
    tmp_path, segcopy, pg_database, monkeypatch
):
    home = tmp_path / "home"
    with pg_database() as url:
        password = urlsplit(url).password
        assert password
        plain = "postgresql://" + url.split("://", 1)[1]  # the form users have: no driver named
        result = segcopy("run", home=home, **{PG_URL_VAR: plain})
        assert result.returncode == 0, result.stderr[-3000:]
        assert "196 pairs, 196 generated, 0 reused" in result.stdout
        assert password not in result.stdout and password not in result.stderr

        config = (home / "dagster" / "dagster.yaml").read_text()
        assert f"env: {PG_URL_VAR}" in config and "postgres_url" in config
        assert not list((home / "dagster").rglob("*.db")), "SQLite storage was used"
        assert files_containing(home, password) == []

        monkeypatch.setenv(PG_URL_VAR, url)
        reader = tmp_path / "reader"
        reader.mkdir()
        with dg.instance_for_test(overrides=storage_config(), temp_dir=str(reader)) as instance:
            runs = instance.get_runs()
            assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
            partitions = instance.get_dynamic_partitions("segments")
            assert len(partitions) == 14
            records = instance.fetch_materializations(
                dg.AssetKey("description_variants"), limit=100
            ).records
            assert sorted(r.partition_key for r in records) == sorted(partitions)


@pytest.mark.parametrize("command", ["run", "dev"])
def test_an_unreachable_postgres_is_one_clear_error_without_the_password(
    tmp_path, segcopy, free_port, command
):
    home = tmp_path / "home"
    secret = "s3cret-Pa55word"
    url = f"postgresql://segcopy:{secret}@127.0.0.1:{free_port()}/segcopy"
    args = [command, "--port", str(free_port())] if command == "dev" else [command]
    result = segcopy(*args, home=home, timeout=60, **{PG_URL_VAR: url})
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr[-2000:])
    assert f"segcopy {command} failed" in result.stderr
    assert f"PostgreSQL ({PG_URL_VAR}) cannot be reached" in result.stderr
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    assert secret not in output and url not in output
    assert files_containing(home, secret) == []
    assert not (home / "sample").exists()  # refused before anything was written


@pytest.mark.slow
def test_postgres_tests_fail_under_ci_without_a_server(repo_root):
    """Under CI=true a missing SEGCOPY_TEST_PG_URL fails the Postgres variants (elsewhere they
    are skipped with the same reason), so CI cannot pass without having run them."""
    env = {k: v for k, v in os.environ.items() if k not in ("SEGCOPY_TEST_PG_URL", "DAGSTER_HOME")}
    node = (
        "tests/integration/test_instance_config.py::test_segcopy_opens_its_postgres_instance_pooled"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", node],
        cwd=repo_root,
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout[-3000:]
    assert "Failed: needs PostgreSQL: set SEGCOPY_TEST_PG_URL" in result.stdout
