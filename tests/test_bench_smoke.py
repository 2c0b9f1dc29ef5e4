"""The benchmarks (bench/, issue 6) run end to end at tiny sizes, and the client-side request pacing
(``ChatCompletionsWriter(max_rps=...)``) that the generation bench relies on.

No timing assertions: the machine is shared, and the benches report ratios, not verdicts. These
tests check that each bench runs, prints its JSON object on the last stdout line, and that the
counts in it (calls, pairs, failures, equal outputs) are right.
"""

import asyncio
import json
import subprocess
import sys

import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.generation.openai_writer import ChatCompletionsWriter
from segcopy_assets.generation.prompts import load_prompt_set
from segcopy_assets.generation.variants import generate_variants, plan_pairs
from tests.conftest import PROMPTS, REPO


def run_bench(name: str, *args: str, timeout: float = 180) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--json", *args],
        cwd=REPO,
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


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bench-data"))


def test_generation_bench_tiny():
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


def test_summaries_bench_tiny(bench_data):
    r = run_bench("summaries", "--rows", "5000", "--repeat", "1", "--data-dir", bench_data)
    (row,) = r["results"]
    assert {"rows", "polars_s", "pandas_s", "ratio", "peak_rss_mb"} <= set(row)
    assert row["rows"] == 5000 and row["equal"] and row["segments"] == 14


def test_sharing_bench_tiny(bench_data):
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
def test_pipeline_bench_tiny():
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


# ------------------------------------------------------------------ ChatCompletionsWriter(max_rps)


def _pairs(n: int):
    import polars as pl

    segments = pl.DataFrame(
        {
            "segment_id": ["s"],
            "top_category": ["Camping"],
            "summary_hash": ["h"],
            "segment_description": ["Customers who camp."],
        }
    )
    products = pl.DataFrame(
        {
            "product_id": [f"T-{i:02d}" for i in range(n)],
            "name": ["Ridge 2"] * n,
            "category": ["Camping"] * n,
            "subcategory": ["Tents"] * n,
            "price": [199.0] * n,
            "description": ["A 2-person tent. It weighs 1.9 kg."] * n,
            "content_hash": [f"c{i}" for i in range(n)],
        }
    )
    return plan_pairs(segments, products)


def _generate(srv, n: int, **writer_kwargs):
    ps = load_prompt_set(PROMPTS, backend="openai")
    writer = ChatCompletionsWriter(
        base_url=srv.base_url,
        api_key="sk-test",
        model=ps.params.name,
        temperature=ps.params.temperature,
        max_tokens=ps.params.max_tokens,
        timeout_s=10,
        max_retries=2,
        **writer_kwargs,
    )

    async def go():
        async with writer:
            return await generate_variants(_pairs(n), ps, writer)

    return asyncio.run(go())


def test_max_rps_is_optional_and_must_be_positive():
    assert (
        ChatCompletionsWriter(
            base_url=None, api_key="k", model="m", temperature=0, max_tokens=10
        ).max_rps
        is None
    )
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="max_rps"):
            ChatCompletionsWriter(
                base_url=None, api_key="k", model="m", temperature=0, max_tokens=10, max_rps=bad
            )


def test_max_rps_spaces_request_starts():
    # 9 calls at 20 per second start over at least 8 x 50 ms (a lower bound: a slow machine only
    # spreads them further); without pacing the same calls start all at once.
    with FakeOpenAIServer() as srv:
        rows, _ = _generate(srv, 9, max_rps=20)
        paced = srv.accepted_times
        srv.reset_stats()
        _generate(srv, 9)
        unpaced = srv.accepted_times
    assert (rows["status"] == "ok").all() and len(paced) == 9
    assert max(paced) - min(paced) >= 0.5 * 8 / 20
    assert len(unpaced) == 9


def test_max_rps_meets_an_endpoint_rate_limit_without_losing_calls():
    # The endpoint admits 5 per second; paced at 5 per second, every call succeeds.
    with FakeOpenAIServer(rate_limit_rps=5) as srv:
        rows, stats = _generate(srv, 8, max_rps=5)
        assert (rows["status"] == "ok").all() and stats.failed == 0
        assert srv.success_count == 8
