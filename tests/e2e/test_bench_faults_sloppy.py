"""A sloppy model through `segcopy run` end to end, as the bench runs it (issue 21):
``python -m bench.faults --scenario sloppy``. Invariants only, no timings."""

import json
import subprocess
import sys

import pytest

KEYS = {"pairs", "ok", "failed", "parked", "published", "calls", "defects_published"}


@pytest.mark.slow
def test_every_good_pair_is_published_and_the_failing_ones_are_parked(repo_root, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--scenario", "sloppy", "--pairs", "140", "--json",
         "--work-dir", str(tmp_path)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS and result["invariants_hold"] is True
    assert result["pairs"] == 140 and result["ok"] + result["failed"] == 140
    # the seed draws faults of every kind, some sticky: failures to park and copy to hold back
    assert set(result["faulty_pairs"]) == {"no_rationale", "refusal", "truncated"}
    assert result["failed"] > 0 and result["parked"] == result["failed"]
    assert result["published"] == result["publishable"] and result["defects_published"] == 0
    assert result["max_requests_per_pair"] <= result["ceiling"] + 1
    assert result["second_run_calls"] == 0 and result["calls_after_settling"] == 0
    assert result["exit_statuses"][-1] == 3  # published, but pairs are parked
