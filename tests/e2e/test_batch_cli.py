"""Batch mode as a user runs it (issue 16): ``SEGCOPY_LLM_MODE=batch segcopy run`` against the
fake endpoint, killed (kill -9) between upload and create and between create and the state
write, then ``segcopy run --wait``: exactly one batch, every pair, and a rerun pays nothing."""

import os
import signal
import subprocess
import time

import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.storage import batch_store

KEY = "sk-batch-e2e"


def _kill_when(proc: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"segcopy run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_submissions_re_attach_and_wait_collects_everything(
    tmp_path, repo_root, segcopy_exe, segcopy_env
):
    home = tmp_path / "home"
    warehouse = home / "warehouse" / "segcopy"
    with FakeOpenAIServer(api_key=KEY, batch_polls=3) as srv:
        env = segcopy_env(
            home,
            SEGCOPY_LLM_BASE_URL=srv.base_url,
            SEGCOPY_LLM_API_KEY=KEY,
            SEGCOPY_LLM_MODE="batch",
            SEGCOPY_BATCH_POLL_S="1",
        )

        def start() -> subprocess.Popen:
            return subprocess.Popen(
                [segcopy_exe, "run"],
                cwd=repo_root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

        def segcopy(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [segcopy_exe, *args],
                cwd=repo_root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            return done

        # 1. killed while the create request hangs before the fake creates anything
        srv.hang_next_batch_create(120, after_create=False)
        _kill_when(start(), lambda: srv.batch_create_count == 1, "batch create request")
        assert srv.batches == [] and len(srv.files) == 1  # paid nothing: the file is uploaded
        # 2. killed after the fake created the batch, before segcopy saw (and recorded) its id
        srv.hang_next_batch_create(120, after_create=True)
        _kill_when(start(), lambda: len(srv.batches) == 1, "created batch")
        rows = batch_store.current(str(warehouse / "generation_batches"))
        assert rows["state"].to_list() == ["intent"] and rows["batch_id"].to_list() == [None]

        # 3. the rerun re-attaches to that batch (found by the key in its metadata) and waits
        done = segcopy("run", "--wait")
        assert "re-attached to batch" in done.stderr, done.stderr[-3000:]
        assert len(srv.batches) == 1 and srv.call_count == 0
        assert len(srv.files) == 2  # the one request file (reused) + the batch's output
        variants = pl.read_delta(str(warehouse / "description_variants"))
        assert variants.height == 196 and (variants["status"] == "ok").all()
        assert variants["batch_id"].to_list() == [srv.batches[0]["id"]] * 196
        assert "Batch API: 196 variant(s) from batches" in done.stdout, done.stdout[-2000:]

        listed = segcopy("batch", "list", "--all", timeout=60)
        assert srv.batches[0]["id"] in listed.stdout and "collected" in listed.stdout
        assert "196" in listed.stdout, listed.stdout

        # 4. nothing changed: no batch, no line, no call
        lines = srv.batch_lines_executed
        again = segcopy("run", "--wait")
        # two create requests arrived in all (the first was killed before creating): one batch
        assert (srv.batch_create_count, srv.batch_lines_executed, srv.call_count) == (2, lines, 0)
        assert len(srv.batches) == 1
        assert "Stale segments: 0 of 14" in again.stdout, again.stdout[-2000:]
