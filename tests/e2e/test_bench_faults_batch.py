"""The batch fault soak as a user runs it (``python -m bench.faults --scenario batch``):
invariants only, no timings. Both fallbacks, line errors and an expired batch (bench/faults_batch.py)."""

import json
import subprocess
import sys

import pytest

RUN_KEYS = {
    "fallback", "expected", "ok", "failed", "missing", "duplicates", "duplicate_batches",
    "batches", "files_needed", "expired_batches", "line_errors", "expired_lines",
    "recovered_online", "recovered_next_batch", "failed_with_reason", "unaccounted",
    "online_calls", "wall_s", "checks", "invariants_hold",
}  # fmt: skip


def soak(repo_root, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--scenario", "batch", *args, "--json"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_batch_scenario_loses_nothing_and_pays_no_batch_twice(repo_root):
    done, result = soak(repo_root, "--n", "200")
    assert result["scenario"] == "batch" and result["invariants_hold"] is True
    assert (result["missing"], result["duplicates"], result["duplicate_batches"]) == (0, 0, 0)
    runs = {r["fallback"]: r for r in result["runs"]}
    assert set(runs) == {"online", "next_batch"}
    for r in runs.values():
        assert set(r) >= RUN_KEYS and all(r["checks"].values())
        assert r["expected"] == 200 and r["ok"] + r["failed"] == 200
        assert r["missing"] == r["duplicates"] == r["duplicate_batches"] == 0
        assert r["batches"] == r["files_needed"] and r["rerun_batches"] == 0
        assert r["expired_batches"] == 1 and r["expired_lines"] == 25  # half of the first file
        assert r["line_errors"] > 0 and r["unaccounted"] == r["unrecorded"] == 0
        assert r["resent_ok_lines"] == r["orphans"] == 0
    online, later = runs["online"], runs["next_batch"]
    errors = online["line_errors"] + online["expired_lines"]
    assert online["batches"] == 4 and online["batch_rounds"] == 1  # 200 pairs in 4 files of 50
    assert online["online_calls"] == online["online_pairs"] == online["recovered_online"] == errors
    # next_batch: sent again, online only after failing in 3 batches (BatchPolicy.max_attempts)
    assert later["online_calls"] == later["online_pairs"] and later["batches"] > 4
    assert later["recovered_next_batch"] + later["recovered_online"] == (
        later["line_errors"] + later["expired_lines"]
    )
    assert "pairs expected" in done.stdout and "invariants hold: yes" in done.stdout


@pytest.mark.slow
def test_next_batch_sends_a_pair_that_fails_in_every_batch_online_after_three(repo_root):
    args = ("--n", "60", "--fallback", "next_batch", "--stuck", "2", "--max-rounds", "5")
    _, result = soak(repo_root, *args)
    [run] = result["runs"]
    assert run["invariants_hold"] is True and run["missing"] == run["duplicates"] == 0
    # each stuck pair: an error line in 3 batches, then one online call (the fake's chat
    # endpoint answers it), so every pair ends ok and nothing is sent again afterwards
    assert (run["ok"], run["failed"], run["given_up"]) == (60, 0, 0)
    assert run["online_calls"] == run["online_pairs"] == 2 and run["rerun_batches"] == 0
    assert run["batch_rounds"] == 3 and run["failed_with_reason"] == 0
