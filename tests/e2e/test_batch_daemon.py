"""Batch mode under ``segcopy dev`` (issue 16): ``segcopy run`` submits one batch and returns;
the Dagster daemon's sensors poll it and the runs they request collect its answers."""

import contextlib
import os
import signal
import subprocess
import time

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

KEY = "sk-batch-daemon"
#: the daemon's sensors whose runs can collect the batch (no foreground process runs meanwhile)
VARIANT_SENSORS = {"batch_sensor", "segment_sensor"}


@pytest.mark.slow
def test_the_daemon_collects_a_submitted_batch(
    tmp_path, repo_root, free_port, segcopy_exe, segcopy_env
):
    home = tmp_path / "home"
    variants_path = home / "warehouse" / "segcopy" / "description_variants"
    with FakeOpenAIServer(api_key=KEY, batch_polls=3) as srv:
        env = segcopy_env(
            home,
            SEGCOPY_LLM_BASE_URL=srv.base_url,
            SEGCOPY_LLM_API_KEY=KEY,
            SEGCOPY_LLM_MODE="batch",
            SEGCOPY_BATCH_POLL_S="2",
            SEGCOPY_SENSOR_INTERVAL_S="5",
        )
        first = subprocess.run(
            [segcopy_exe, "run"],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr[-3000:]
        assert "Waiting: 14 segment(s) on 1 batch(es)" in first.stdout, first.stdout[-2000:]
        assert not variants_path.exists() and len(srv.batches) == 1

        log_path = tmp_path / "segcopy-dev.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [segcopy_exe, "dev", "--port", str(free_port())],
                cwd=repo_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # done when the rows are written AND the sensor-requested run that wrote them ended
            # (the rows land a few seconds before the run's checks and its end)
            deadline, rows, sensors = time.monotonic() + 240, None, set()
            while rows is None or not sensors & VARIANT_SENSORS:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, (sensors, log_path.read_text()[-3000:])
                time.sleep(2)
                # the folder appears before its first commit lands: read once a version exists
                if rows is None and any((variants_path / "_delta_log").glob("*.json")):
                    found = pl.read_delta(str(variants_path))
                    rows = found if found.height == 196 else None
                if rows is not None:
                    sensors = successful_sensor_runs(home / "dagster")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

        assert (rows["status"] == "ok").all()
        assert rows["batch_id"].to_list() == [srv.batches[0]["id"]] * 196
        assert len(srv.batches) == 1 and srv.call_count == 0 and srv.batch_lines_executed == 196
    # the runs that wrote them were requested by the daemon's sensors: batch_sensor's collect
    # run, or segment_sensor's run of the new segments when it finds the batch ended first
    assert sensors & VARIANT_SENSORS, sensors


def successful_sensor_runs(dagster_home) -> set[str]:
    """Names of the sensors whose description_variants runs succeeded (read while it runs)."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return {
            run.tags["dagster/sensor_name"]
            for run in instance.get_runs()
            if run.status == dg.DagsterRunStatus.SUCCESS and "dagster/sensor_name" in run.tags
        }
