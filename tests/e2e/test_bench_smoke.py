"""The benchmarks (bench/, issue 6) run end to end at tiny sizes, as ``python -m bench.<name>``.
The client-side request pacing they rely on (``ChatCompletionsWriter(max_rps=...)``) is tested in
tests/unit/test_openai_writer.py and tests/integration/test_request_pacing.py.

No timing assertions: the machine is shared, and the benches report ratios, not verdicts. These
tests check that each bench runs, prints its JSON object on the last stdout line, and that the
counts in it (calls, pairs, failures, equal outputs) are right.
"""

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def run_bench(repo_root):
    """``run_bench(name, *args)`` → the JSON object on the last stdout line of
    ``python -m bench.<name> --json *args``."""

    def run(name: str, *args: str, timeout: float = 180) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", "--json", *args],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, (
            f"bench.{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        lines = proc.stdout.strip().splitlines()
        assert len(lines) > 1, "a readable report comes before the JSON line"
        return json.loads(lines[-1])

    return run


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bench-data"))


def test_generation_bench_tiny(run_bench):
    r = run_bench(
        "generation",
        "--products",
        "3",
        "--segments",
        "2",
        "--latency-ms",
        "2",
        "--sequential-sample",
        "2",
        "--repeat",
        "1",
        "--rate-limit-rps",
        "20",
    )
    for key in (
        "n",
        "latency_ms",
        "sequential_s",
        "segcopy_s",
        "speedup",
        "rate_limit_rps",
        "limited_s",
        "limit_utilization",
    ):
        assert key in r
    assert r["n"] == 6 and r["sequential_measured_pairs"] == 2 and r["sequential_extrapolated"]
    assert r["segcopy_ok"] == 6
    assert r["limited_ok"] == 6 and r["limited_failed"] == 0 and r["max_rps"] == 20
    assert r["paced"]["requests"] >= 6 and r["unpaced"]["ok"] + r["unpaced"]["failed"] == 6


def test_summaries_bench_tiny(bench_data, run_bench):
    r = run_bench("summaries", "--rows", "5000", "--repeat", "1", "--data-dir", bench_data)
    (row,) = r["results"]
    assert {"rows", "polars_s", "pandas_s", "ratio", "peak_rss_mb"} <= set(row)
    assert row["rows"] == 5000 and row["equal"] and row["segments"] == 14


def test_sharing_bench_tiny(bench_data, run_bench):
    r = run_bench("sharing", "--rows", "5000", "--repeat", "1", "--data-dir", bench_data)
    assert r["rows"] == 5000 and r["ratio"] > 0
    assert r["server_requests"]["file"]["requests"] >= 1
    assert set(r["breakdown"]["shares"]) == {
        "rest_calls",
        "kernel_scan",
        "arrow_to_pandas",
        "connector_other",
        "pandas_to_polars",
    }


@pytest.mark.slow
def test_pipeline_bench_tiny(run_bench):
    r = run_bench("pipeline", "--products", "2", "--customers", "3000", "--latency-ms", "1")
    for key in (
        "pairs",
        "full_s",
        "pure_generation_s",
        "overhead",
        "noop_calls",
        "noop_s",
        "one_segment_calls",
        "expected_one_segment_calls",
    ):
        assert key in r
    assert r["pairs"] == 2 * r["segments"] == r["full_calls"] == r["full_ok"] == r["pure_pairs"]
    assert r["noop_calls"] == 0
    assert r["changed_segments"] == ["e-bikes--core"]
    assert r["one_segment_calls"] == r["expected_one_segment_calls"] == 2


def test_scale_bench_tiny(run_bench):
    """bench.scale (issue 15): `segcopy run` subprocesses on a 5 % sample; the calls of a full
    run and of a one-segment change are exact, and a segment change runs one partition."""
    result = run_bench(
        "scale",
        "--configs", "small", "--writers", "offline", "--instances", "sqlite",
        "--customers-scale", "0.05", "--steps", "full,one_segment",
        timeout=300,
    )  # fmt: skip
    [cell] = result["configs"]["small"]["cells"]
    steps = cell["steps"]
    assert steps["full"]["calls"] == steps["full"]["expected_calls"] == cell["pairs"] > 0
    products = cell["products"]
    assert steps["one_segment"]["calls"] == steps["one_segment"]["expected_calls"] == products
    assert steps["one_segment"]["events"] < steps["full"]["events"]


def test_check_events_bench_tiny(run_bench):
    result = run_bench("check_events", "--partitions", "6", timeout=300)
    assert result["sqlite/2 checks"]["events"] < result["sqlite/12 checks"]["events"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["online", "batch"])
def test_repair_bench_tiny(run_bench, mode):
    result = run_bench(
        "repair", "--products", "4", "--customers", "2000", "--rate", "0.3", "--llm-mode", mode
    )
    assert result["llm_mode"] == mode
    assert result["pairs"] % 4 == 0 and result["defective_first_answers"] > 0
    # the fake fixes what it is told: every defective answer is repaired with one call each
    assert result["repair_calls"] == result["defective_first_answers"]
    assert result["calls_with_repair"] == result["calls_without_repair"] + result["repair_calls"]
    assert result["repaired_share"] == 1.0 and result["publishable_share_with_repair"] == 1.0
    assert result["publishable_share_without_repair"] < 1.0
    assert (
        result["published_failing_with_repair"] == 0 == result["published_failing_without_repair"]
    )
