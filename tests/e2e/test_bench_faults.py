"""The fault soak as a user runs it (``python -m bench.faults``): invariants only, no timings.
``run_soak`` in this process: tests/integration/test_fault_soak.py."""

import json
import subprocess
import sys

import pytest

KEYS = {"expected", "ok", "failed", "missing", "duplicates", "calls", "wall_s", "second_pass_calls"}


@pytest.mark.slow
def test_cli_prints_a_table_and_the_json_last(repo_root):
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--n", "40", "--timeout", "0.5", "--json"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= KEYS
    assert result["expected"] == 40 and result["ok"] + result["failed"] == 40
    assert result["missing"] == 0 and result["duplicates"] == 0
    assert result["second_pass_calls"] == result["failed"] and result["invariants_hold"] is True
    assert result["calls"] >= 40
    assert "pairs expected" in done.stdout and "injected fault" in done.stdout
