"""Crash and resume: kill -9 a real `segcopy run` mid-generation, then run again; with the
warehouse in a local folder, on moto's S3 server and on Azurite (SEGCOPY_WAREHOUSE_URI)."""

import os
import signal
import subprocess
import time

import polars as pl
import pytest
from deltalake import DeltaTable

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.storage.delta import join, table_exists


def _journaled(journal: str) -> int:
    """Pairs whose answers the generation journal holds (0 before its first flush)."""
    if not table_exists(journal):
        return 0
    return pl.read_delta(journal)["input_hash"].n_unique()


@pytest.mark.slow
def test_kill_mid_run_then_resume_pays_only_for_the_rest(
    tmp_path, repo_root, segcopy_exe, segcopy_env, store_root
):
    home = tmp_path / "home"
    variants = join(store_root, "segcopy", "description_variants")
    # Calls are slow (150 ms) only in the run that is killed: it must be mid-generation when the
    # kill comes; the complete run before it and the resume after it need no latency.
    with FakeOpenAIServer(api_key="sk-crash", latency_ms=0) as srv:
        env = segcopy_env(
            home,
            SEGCOPY_WAREHOUSE_URI=store_root,
            SEGCOPY_LLM_BASE_URL=srv.base_url,
            SEGCOPY_LLM_API_KEY="sk-crash",
            SEGCOPY_LLM_MAX_CONCURRENCY="4",
        )
        # First a complete run, so there is a table whose readers must never see a half-write.
        first = subprocess.run(
            [segcopy_exe, "run"],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr[-2000:]
        version_before = DeltaTable(variants).version()
        before = pl.read_delta(variants)
        # A prompt edit forces a full regeneration (196 calls at ~4 in flight: ~8 s).
        prompts = tmp_path / "prompts"
        subprocess.run(["cp", "-r", str(repo_root / "prompts"), str(prompts)], check=True)
        (prompts / "user.md.j2").write_text(
            (prompts / "user.md.j2").read_text() + "\nWrite for the web.\n"
        )
        env["SEGCOPY_PROMPTS_DIR"] = str(prompts)
        srv.reset_stats()
        srv.latency_ms = 150
        proc = subprocess.Popen(
            [segcopy_exe, "run"],
            cwd=repo_root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Kill once the journal holds at least 60 answers (it flushes about every second):
        # decided by what is durable, not by how long the flush takes on a loaded machine.
        journal = join(store_root, "segcopy", "generation_journal")
        deadline = time.monotonic() + 180
        while _journaled(journal) < 60:
            assert proc.poll() is None and time.monotonic() < deadline, "run ended before the kill"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        durable = _journaled(journal)
        # Readers see the old table, untouched: no half-written segment.
        assert DeltaTable(variants).version() == version_before
        assert (
            pl.read_delta(variants)
            .sort("segment_id", "product_id")
            .equals(before.sort("segment_id", "product_id"))
        )

        # The server may still be answering the requests the killed run had in flight: the
        # resume's calls are counted on arrival (call_count), which those answers cannot move.
        srv.reset_stats()
        srv.latency_ms = 0
        resumed = subprocess.run(
            [segcopy_exe, "run"],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        calls_on_resume = srv.call_count
    after = pl.read_delta(variants)
    assert after.height == 196 and (after["status"] == "ok").all()
    assert (
        after["prompt_hash"].n_unique() == 1 and after["prompt_hash"][0] != before["prompt_hash"][0]
    )
    # What was journaled before the kill is never paid again: the resume calls exactly the rest
    # (calls completed after the last ~1 s flush, and those in flight, are paid twice).
    assert durable >= 60
    assert calls_on_resume == 196 - durable
    assert pl.read_delta(journal).height == 0  # written for good, so forgotten
